//! Start a demo binary as a child process and talk to it over loopback.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use serde_json::Value;

use super::cookie::{id_of, SetCookie};
use super::SECRET;

/// Which demo server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Demo {
    Poem,
    Salvo,
}

impl Demo {
    pub fn bin(self) -> &'static str {
        match self {
            Demo::Poem => env!("CARGO_BIN_EXE_poem-demo"),
            Demo::Salvo => env!("CARGO_BIN_EXE_salvo-demo"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Demo::Poem => "poem-demo",
            Demo::Salvo => "salvo-demo",
        }
    }

    /// Start in `--memory` mode with `--secret SECRET` and the given flags.
    pub async fn memory(self, args: &[&str]) -> Server {
        Server::start(self, Cfg::memory().args(args)).await
    }

    pub async fn start(self, cfg: Cfg) -> Server {
        Server::start(self, cfg).await
    }
}

/// How to start a server. `--addr` is always chosen by the harness.
#[derive(Clone, Debug, Default)]
pub struct Cfg {
    /// Pass `--memory`.
    pub memory: bool,
    /// Pass `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// Each becomes `--secret S`, in order.
    pub secrets: Vec<String>,
    /// Further flags, verbatim.
    pub args: Vec<String>,
    /// Environment for the child (`LIVESESSION_SECRET` is removed unless
    /// set here).
    pub env: Vec<(String, String)>,
    /// Two processes on a Redis of their own instead of one in memory:
    /// requests alternate between them (the `behaviour_shared` suite).
    pub pair_on_redis: bool,
}

impl Cfg {
    /// One process in `--memory` mode; in the `behaviour_shared` suite,
    /// two processes sharing a Redis of their own.
    pub fn memory() -> Cfg {
        Cfg {
            memory: !crate::SHARED,
            pair_on_redis: crate::SHARED,
            secrets: vec![SECRET.to_string()],
            ..Cfg::default()
        }
    }

    pub fn durable(dir: &Path) -> Cfg {
        Cfg {
            data_dir: Some(dir.to_path_buf()),
            secrets: vec![SECRET.to_string()],
            ..Cfg::default()
        }
    }

    pub fn args(mut self, args: &[&str]) -> Cfg {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    pub fn secrets(mut self, secrets: &[&str]) -> Cfg {
        self.secrets = secrets.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Cfg {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    fn flag_value(&self, flag: &str) -> Option<String> {
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if a == flag {
                return it.next().cloned();
            }
            if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
                return Some(v.to_string());
            }
        }
        None
    }

    /// The secret the server signs with, as far as the harness knows.
    pub fn signing_secret(&self) -> Option<String> {
        if let Some(s) = self.secrets.first() {
            return Some(s.clone());
        }
        self.env
            .iter()
            .find(|(k, _)| k == "LIVESESSION_SECRET")
            .map(|(_, v)| v.split(',').next().unwrap_or("").to_string())
    }
}

/// A free loopback port (bind :0, read, drop).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client")
}

/// A running demo server. Killed on drop; its log (stdout+stderr) is
/// printed when the test is panicking.
pub struct Server {
    pub demo: Demo,
    pub cfg: Cfg,
    pub port: u16,
    pub base: String,
    pub client: reqwest::Client,
    pub cookie_name: String,
    pub prefix: String,
    child: Option<Child>,
    work: tempfile::TempDir,
    log_path: PathBuf,
    /// The second process of a pair on Redis.
    peer: Option<Peer>,
}

/// The second process of a server made of two processes sharing a Redis,
/// and that Redis.
struct Peer {
    child: Child,
    base: String,
    /// Which process the next request goes to.
    turn: std::sync::atomic::AtomicUsize,
    /// Dropped after both processes (fields drop in order).
    _redis: livesession_redis_harness::RedisServer,
}

impl Server {
    pub async fn start(demo: Demo, cfg: Cfg) -> Server {
        if cfg.pair_on_redis {
            return Box::pin(Server::start_pair(demo, cfg)).await;
        }
        let mut last = String::new();
        for attempt in 0..3 {
            let work = tempfile::Builder::new()
                .prefix(&format!("{}-", demo.name()))
                .tempdir()
                .expect("tempdir");
            let log_path = work.path().join("server.log");
            let log = std::fs::File::create(&log_path).expect("log file");
            let port = free_port();
            let mut cmd = Command::new(demo.bin());
            cmd.arg("--addr").arg(format!("127.0.0.1:{port}"));
            if cfg.memory {
                cmd.arg("--memory");
            }
            if let Some(d) = &cfg.data_dir {
                cmd.arg("--data-dir").arg(d);
            }
            for s in &cfg.secrets {
                cmd.arg("--secret").arg(s);
            }
            cmd.args(&cfg.args);
            cmd.env_remove("LIVESESSION_SECRET");
            for (k, v) in &cfg.env {
                cmd.env(k, v);
            }
            cmd.current_dir(work.path())
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().unwrap()))
                .stderr(Stdio::from(log));
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", demo.bin()));
            let mut srv = Server {
                demo,
                cookie_name: cfg
                    .flag_value("--cookie-name")
                    .unwrap_or_else(|| "sessionId".to_string()),
                prefix: cfg.flag_value("--cookie-prefix").unwrap_or_default(),
                cfg: cfg.clone(),
                port,
                base: format!("http://127.0.0.1:{port}"),
                client: http_client(),
                child: Some(child),
                work,
                log_path,
                peer: None,
            };
            match srv.wait_healthy(Duration::from_secs(10)).await {
                Ok(()) => return srv,
                Err(e) => {
                    let log = srv.log();
                    if let Some(mut c) = srv.child.take() {
                        let _ = c.kill();
                        let _ = c.wait();
                    }
                    last = format!("{e}\n--- {} log ---\n{log}", demo.name());
                    let lower = log.to_ascii_lowercase();
                    let bind_race = lower.contains("in use") || lower.contains("addrinuse");
                    if !(bind_race && attempt < 2) {
                        break;
                    }
                }
            }
        }
        panic!(
            "{} did not become healthy with {:?}: {last}",
            demo.name(),
            cfg
        );
    }

    async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let url = self.url("/health");
        loop {
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Err(format!("exited early with {st}"));
            }
            if let Ok(r) = self
                .client
                .get(&url)
                .timeout(Duration::from_millis(500))
                .send()
                .await
            {
                if r.status().as_u16() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!("GET /health not 200 within {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Two processes on one Redis of their own, started with `cfg`'s flags
    /// plus `--redis`: requests alternate between them, except `/health`
    /// and `/stats` (whose `live` is per process), which go to the first.
    async fn start_pair(demo: Demo, mut cfg: Cfg) -> Server {
        cfg.pair_on_redis = false;
        let Some(redis) = livesession_redis_harness::RedisServer::start() else {
            // No redis-server: `start` said so loudly (or failed the test
            // under LIVESESSION_REQUIRE_REDIS=1); the scenario runs on one
            // process in memory instead.
            cfg.memory = true;
            return Server::start(demo, cfg).await;
        };
        cfg.memory = false;
        cfg.args.extend(["--redis".to_string(), redis.url()]);
        let mut first = Server::start(demo, cfg.clone()).await;
        let mut second = Server::start(demo, cfg.clone()).await;
        first.cfg.pair_on_redis = true;
        first.peer = Some(Peer {
            child: second.child.take().expect("a running second process"),
            base: second.base.clone(),
            turn: Default::default(),
            _redis: redis,
        });
        first
    }

    pub fn url(&self, path: &str) -> String {
        if let Some(peer) = &self.peer {
            let own = matches!(path, "/health" | "/stats") || path.starts_with("/metrics");
            let turn = peer.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if !own && turn % 2 == 1 {
                return format!("{}{}", peer.base, path);
            }
        }
        format!("{}{}", self.base, path)
    }

    /// The server's stdout+stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        let log = self.log();
        let n = log.len();
        if n > 16_000 {
            let mut start = n - 16_000;
            while !log.is_char_boundary(start) {
                start += 1;
            }
            format!("...{}", &log[start..])
        } else {
            log
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server not running").id()
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }

    pub fn signal(&self, sig: i32) {
        let rc = unsafe { libc::kill(self.pid() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Wait for the child to exit by itself.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.child.as_mut()?.try_wait().unwrap() {
                self.child = None;
                return Some(st);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then expect exit code 0 within 10 s.
    pub async fn stop(&mut self) {
        self.stop_with(libc::SIGTERM).await
    }

    pub async fn stop_with(&mut self, sig: i32) {
        self.signal(sig);
        match self.wait_exit(Duration::from_secs(10)).await {
            Some(st) => assert_eq!(
                st.code(),
                Some(0),
                "{} exited with {st} after signal {sig}; log:\n{}",
                self.demo.name(),
                self.log_tail()
            ),
            None => panic!(
                "{} did not exit within 10 s of signal {sig}; log:\n{}",
                self.demo.name(),
                self.log_tail()
            ),
        }
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Start a new process with the same configuration (new port).
    pub async fn restart(&self) -> Server {
        Server::start(self.demo, self.cfg.clone()).await
    }

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

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- {} (port {}) log ---\n{}\n--- end of log ---",
                self.demo.name(),
                self.port,
                self.log_tail()
            );
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(mut peer) = self.peer.take() {
            let _ = peer.child.kill();
            let _ = peer.child.wait();
        }
        let _ = &self.work;
    }
}

/// A request body.
pub enum Body {
    /// Sent with `Content-Type: application/json`.
    Json(String),
    /// Raw bytes with an optional content type.
    Raw(Option<&'static str>, Vec<u8>),
}

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

    /// Send without updating the jar.
    pub async fn peek(&self, method: Method, path: impl AsRef<str>, body: Option<Body>) -> Resp {
        let hs: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
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
        let hs: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
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

/// Run a demo with `args` that should make it exit by itself; returns the
/// exit code (None when it had to be killed after `timeout`, or died by a
/// signal) and its stderr.
pub async fn run_to_exit(
    demo: Demo,
    args: &[&str],
    timeout: Duration,
) -> (Option<i32>, String, bool) {
    let work = tempfile::tempdir().expect("tempdir");
    let err_path = work.path().join("stderr");
    let out_path = work.path().join("stdout");
    let mut child = Command::new(demo.bin())
        .args(args)
        .env_remove("LIVESESSION_SECRET")
        .current_dir(work.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + timeout;
    let (code, exited) = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break (st.code(), true);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break (None, false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stderr =
        String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default()).into_owned();
    (code, stderr, exited)
}
