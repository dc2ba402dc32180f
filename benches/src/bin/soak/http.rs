//! Requests on loopback: the client, responses, and the session cookie in
//! them.

use serde_json::Value;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "sessionId";
const REQ_TIMEOUT: Duration = Duration::from_secs(20);

/// A response's `Set-Cookie` for the session cookie.
pub enum SetCk {
    Value(String),
    Clear,
}

/// An answer, with when its request was sent and answered.
pub struct Resp {
    pub status: u16,
    pub body: String,
    pub set: Option<SetCk>,
    pub sent: Instant,
    pub done: Instant,
    /// Kills so far when the request was sent.
    pub kills_at_sent: u64,
}

/// A transport error (no answer), with the same times.
pub struct Fail {
    pub sent: Instant,
    pub done: Instant,
}

/// How a response's Set-Cookie relates to the session it was sent for.
pub enum Ck {
    Same,
    Other(String),
    Cleared,
    Nothing,
}

impl Resp {
    /// How its `Set-Cookie` relates to the session with id `id`.
    pub fn ck(&self, id: &str) -> Ck {
        match &self.set {
            None => Ck::Nothing,
            Some(SetCk::Clear) => Ck::Cleared,
            Some(SetCk::Value(v)) if id_of(v) == id => Ck::Same,
            Some(SetCk::Value(v)) => Ck::Other(v.clone()),
        }
    }
    /// A copy for a history note (the cookie, times and a short body).
    pub fn clone_meta(&self) -> Resp {
        Resp {
            status: self.status,
            body: self.body.chars().take(60).collect(),
            set: self.set.as_ref().map(|c| match c {
                SetCk::Value(v) => SetCk::Value(v.clone()),
                SetCk::Clear => SetCk::Clear,
            }),
            sent: self.sent,
            done: self.done,
            kills_at_sent: self.kills_at_sent,
        }
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// A client for loopback load (no proxy, no redirects, 20 s timeout).
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQ_TIMEOUT)
        .pool_max_idle_per_host(512)
        .pool_idle_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()
        .expect("reqwest client")
}

/// The session cookie among a response's `Set-Cookie` headers (other
/// cookies are ignored; of several, the last counts); an empty value or
/// `Max-Age=0` (any case) clears it.
///
/// Not `livesession_test_support::model::parse_set_cookie`: that one asserts
/// what the model harness expects (no more than one `Set-Cookie`, and only
/// the session cookie; anything else is an error), which here would turn an
/// extra or foreign cookie into a failure of the soak; and it would make that
/// test-only crate (proptest, livesession's `testing` feature) a regular
/// dependency of the benches crate.
pub fn parse_set_cookie(headers: &reqwest::header::HeaderMap) -> Option<SetCk> {
    let mut out = None;
    for h in headers.get_all("set-cookie") {
        let s = String::from_utf8_lossy(h.as_bytes());
        let first = s.split(';').next().unwrap_or("");
        let Some((name, value)) = first.split_once('=') else {
            continue;
        };
        if name.trim() != COOKIE {
            continue;
        }
        let lower = s.to_ascii_lowercase();
        let value = value.trim();
        out = Some(if value.is_empty() || lower.contains("max-age=0") {
            SetCk::Clear
        } else {
            SetCk::Value(value.to_string())
        });
    }
    out
}

/// The session id in a cookie value (`id.signature`).
pub fn id_of(cookie: &str) -> String {
    cookie
        .rsplit_once('.')
        .map(|(id, _)| id)
        .unwrap_or(cookie)
        .to_string()
}
