//! `Resp`: one response, fully read, with its session cookies.

use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::cookie::{id_of, SetCookie};

/// One response, fully read.
#[derive(Clone)]
pub struct Resp {
    pub what: String,
    pub status: u16,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
    pub set_cookies: Vec<SetCookie>,
    pub cookie_name: String,
    pub prefix: String,
    pub sent: Instant,
    pub sent_wall: SystemTime,
    pub received: Instant,
    pub received_wall: SystemTime,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = if self.body.len() > 300 {
            format!("{}... ({} bytes)", &self.body[..300], self.body.len())
        } else {
            self.body.clone()
        };
        f.debug_struct("Resp")
            .field("what", &self.what)
            .field("status", &self.status)
            .field("body", &body)
            .field(
                "set_cookie",
                &self.set_cookies.iter().map(|c| &c.raw).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Resp {
    /// Panic unless the status is `status`.
    pub fn expect(&self, status: u16) -> &Resp {
        assert_eq!(self.status, status, "unexpected status: {self:?}");
        self
    }

    /// Panic unless status and body are exactly these.
    pub fn expect_body(&self, status: u16, body: &str) -> &Resp {
        assert_eq!(
            (self.status, self.body.as_str()),
            (status, body),
            "unexpected response: {self:?}"
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {self:?}"))
    }

    /// Every Set-Cookie for the session cookie name.
    pub fn named(&self) -> Vec<&SetCookie> {
        self.set_cookies
            .iter()
            .filter(|c| c.name == self.cookie_name)
            .collect()
    }

    /// The last non-clearing Set-Cookie for the session cookie.
    pub fn session_cookie(&self) -> Option<&SetCookie> {
        self.named().into_iter().rev().find(|c| !c.is_clear())
    }

    /// The same, or panic.
    pub fn must_cookie(&self) -> &SetCookie {
        self.session_cookie()
            .unwrap_or_else(|| panic!("expected a session Set-Cookie: {self:?}"))
    }

    /// A clearing Set-Cookie for the session cookie, if any.
    pub fn clear_cookie(&self) -> Option<&SetCookie> {
        self.named().into_iter().find(|c| c.is_clear())
    }

    /// The session id of the Set-Cookie, if any.
    pub fn cookie_id(&self) -> Option<String> {
        self.session_cookie().map(|c| id_of(&c.value, &self.prefix))
    }

    /// Panic if any Set-Cookie is present.
    pub fn expect_no_cookie(&self) -> &Resp {
        assert!(
            self.set_cookies.is_empty(),
            "expected no Set-Cookie: {self:?}"
        );
        self
    }

    /// Body as an integer (for /counter and /read).
    pub fn int(&self) -> i64 {
        self.body
            .parse()
            .unwrap_or_else(|_| panic!("body is not an integer: {self:?}"))
    }
}
