//! `Agent`: a hand-managed cookie jar for one session cookie, and the
//! demo routes as calls.

use reqwest::Method;
use serde_json::Value;

use super::cookie::id_of;
use super::{Body, Resp, Server};

/// A hand-managed cookie jar for one session cookie.
#[derive(Clone)]
pub struct Agent<'a> {
    pub srv: &'a Server,
    /// The cookie value exactly as last received (sent back verbatim).
    pub cookie: Option<String>,
    /// Extra headers on every request.
    pub headers: Vec<(String, String)>,
}

impl<'a> Agent<'a> {
    pub fn new(srv: &'a Server) -> Agent<'a> {
        Agent {
            srv,
            cookie: None,
            headers: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> Option<String> {
        self.cookie
            .as_ref()
            .map(|v| format!("{}={}", self.srv.cookie_name, v))
    }

    /// The session id in the current cookie.
    pub fn id(&self) -> String {
        id_of(
            self.cookie.as_deref().expect("agent has no cookie"),
            &self.srv.prefix,
        )
    }

    /// `headers` as the pairs `Server::send` takes.
    fn extra_headers(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Send without updating the jar.
    pub async fn peek(&self, method: Method, path: impl AsRef<str>, body: Option<Body>) -> Resp {
        let hs = self.extra_headers();
        self.srv
            .send(method, path, self.cookie_header().as_deref(), body, &hs)
            .await
    }

    pub async fn try_peek(
        &self,
        method: Method,
        path: impl AsRef<str>,
        body: Option<Body>,
    ) -> Result<Resp, String> {
        let hs = self.extra_headers();
        self.srv
            .try_send(method, path, self.cookie_header().as_deref(), body, &hs)
            .await
    }

    /// Take the response's Set-Cookie headers for the session cookie.
    pub fn absorb(&mut self, r: &Resp) {
        for c in r.named() {
            if c.is_clear() {
                self.cookie = None;
            } else {
                self.cookie = Some(c.value.clone());
            }
        }
    }

    pub async fn request(
        &mut self,
        method: Method,
        path: impl AsRef<str>,
        body: Option<Body>,
    ) -> Resp {
        let r = self.peek(method, path, body).await;
        self.absorb(&r);
        r
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&mut self, path: &str) -> Resp {
        self.request(Method::POST, path, None).await
    }

    pub async fn post_json(&mut self, path: &str, json: &str) -> Resp {
        self.request(Method::POST, path, Some(Body::Json(json.to_string())))
            .await
    }

    pub async fn put_json(&mut self, path: &str, json: &str) -> Resp {
        self.request(Method::PUT, path, Some(Body::Json(json.to_string())))
            .await
    }

    pub async fn delete(&mut self, path: &str) -> Resp {
        self.request(Method::DELETE, path, None).await
    }

    /// GET /counter, expect 200, return the value.
    pub async fn counter(&mut self) -> i64 {
        let r = self.get("/counter").await;
        r.expect(200);
        r.int()
    }

    /// GET /read, expect 200, return the value.
    pub async fn read(&mut self) -> i64 {
        let r = self.get("/read").await;
        r.expect(200);
        r.int()
    }

    /// GET /session, expect 200, return the JSON.
    pub async fn session(&mut self) -> Value {
        let r = self.get("/session").await;
        r.expect(200);
        r.json()
    }

    /// PUT /session/{key} with JSON, expect 204.
    pub async fn put(&mut self, key: &str, json: &str) {
        let r = self.put_json(&format!("/session/{key}"), json).await;
        r.expect(204);
    }

    /// POST /login as `user`, expect 204.
    pub async fn login(&mut self, user: &str) {
        let r = self
            .post_json("/login", &serde_json::json!({ "user": user }).to_string())
            .await;
        r.expect(204);
    }

    /// GET /me: Some(user) on 200, None on 401.
    pub async fn me(&mut self) -> Option<String> {
        let r = self.get("/me").await;
        match r.status {
            200 => Some(
                r.json()["user"]
                    .as_str()
                    .unwrap_or_else(|| panic!("/me body has no user string: {r:?}"))
                    .to_string(),
            ),
            401 => None,
            _ => panic!("/me: expected 200 or 401: {r:?}"),
        }
    }
}
