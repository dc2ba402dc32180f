//! Start a demo binary as a child process on a free loopback port, wait
//! for `/health`, read its log, signal, stop or kill it.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::client::http_client;
use super::Cfg;

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

/// A free loopback port (bind :0, read, drop).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
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
