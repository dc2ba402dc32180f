//! Requests to a running server: the HTTP client, one request with any
//! cookie, headers and body, and the `/stats` and `/health` probes.

use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;

use super::cookie::SetCookie;
use super::{Agent, Resp, Server};

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client")
}

/// A request body.
pub enum Body {
    /// Sent with `Content-Type: application/json`.
    Json(String),
    /// Raw bytes with an optional content type.
    Raw(Option<&'static str>, Vec<u8>),
}

impl Server {
    pub fn agent(&self) -> Agent<'_> {
        Agent::new(self)
    }

    pub fn agent_with(&self, cookie_value: &str) -> Agent<'_> {
        let mut a = Agent::new(self);
        a.cookie = Some(cookie_value.to_string());
        a
    }

    /// The secret the server signs with (from the configuration).
    pub fn secret(&self) -> String {
        self.cfg
            .signing_secret()
            .expect("the harness knows no secret for this server")
    }

    /// A validly signed cookie value for `id` (server's prefix, `secret`).
    pub fn forge(&self, secret: &str, id: &str) -> String {
        format!("{}{}", self.prefix, super::signer::sign(secret, id))
    }

    /// Send one request. `cookie` is the full `Cookie:` header value.
    pub async fn try_send(
        &self,
        method: Method,
        path: impl AsRef<str>,
        cookie: Option<&str>,
        body: Option<Body>,
        headers: &[(&str, &str)],
    ) -> Result<Resp, String> {
        let path = path.as_ref();
        let what = format!("{method} {path}");
        let mut rb = self.client.request(method, self.url(path));
        if let Some(c) = cookie {
            rb = rb.header("cookie", c);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        match body {
            Some(Body::Json(s)) => {
                rb = rb.header("content-type", "application/json").body(s);
            }
            Some(Body::Raw(ct, b)) => {
                if let Some(ct) = ct {
                    rb = rb.header("content-type", ct);
                }
                rb = rb.body(b);
            }
            None => {}
        }
        let sent = Instant::now();
        let sent_wall = SystemTime::now();
        let r = rb.send().await.map_err(|e| format!("{what}: {e}"))?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r
            .text()
            .await
            .map_err(|e| format!("{what}: reading body: {e}"))?;
        let set_cookies = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| SetCookie::parse(&String::from_utf8_lossy(v.as_bytes())))
            .collect();
        Ok(Resp {
            what,
            status,
            body,
            headers,
            set_cookies,
            cookie_name: self.cookie_name.clone(),
            prefix: self.prefix.clone(),
            sent,
            sent_wall,
            received: Instant::now(),
            received_wall: SystemTime::now(),
        })
    }

    pub async fn send(
        &self,
        method: Method,
        path: impl AsRef<str>,
        cookie: Option<&str>,
        body: Option<Body>,
        headers: &[(&str, &str)],
    ) -> Resp {
        match self.try_send(method, path, cookie, body, headers).await {
            Ok(r) => r,
            Err(e) => panic!(
                "{}: request failed: {e}\n--- log ---\n{}",
                self.demo.name(),
                self.log_tail()
            ),
        }
    }

    /// GET with no cookie.
    pub async fn get(&self, path: impl AsRef<str>) -> Resp {
        self.send(Method::GET, path, None, None, &[]).await
    }

    /// GET with a full Cookie header.
    pub async fn get_with_cookie_header(&self, path: impl AsRef<str>, cookie: &str) -> Resp {
        self.send(Method::GET, path, Some(cookie), None, &[]).await
    }

    /// `/stats` as (live, stored).
    pub async fn stats(&self) -> (i64, i64) {
        let r = self.get("/stats").await;
        r.expect(200);
        assert!(
            r.set_cookies.is_empty(),
            "/stats set a cookie: {:?}",
            r.set_cookies
        );
        let v = r.json();
        let live = v["live"]
            .as_i64()
            .unwrap_or_else(|| panic!("/stats live is not an integer: {v}"));
        let stored = v["stored"]
            .as_i64()
            .unwrap_or_else(|| panic!("/stats stored is not an integer: {v}"));
        (live, stored)
    }

    /// Poll `/stats` until `pred(live, stored)` or the timeout; returns the
    /// last value and whether it matched.
    pub async fn wait_stats(
        &self,
        timeout: Duration,
        pred: impl Fn(i64, i64) -> bool,
    ) -> ((i64, i64), bool) {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.stats().await;
            if pred(s.0, s.1) {
                return (s, true);
            }
            if Instant::now() > deadline {
                return (s, false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Is the server still answering `/health`?
    pub async fn assert_healthy(&self) {
        let r = self.get("/health").await;
        assert_eq!(r.status, 200, "server stopped serving /health: {r:?}");
        assert_eq!(r.body, "ok");
    }
}
