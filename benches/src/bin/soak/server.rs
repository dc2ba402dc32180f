//! The demo server under test: starting it, SIGKILL and restart on the same
//! data dir and port, SIGTERM at the end; one `Incarnation` per start.

use crate::ctl::Ctl;
use crate::http::new_client;
use crate::sampling::{dir_size, sample_now};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

/// The signing secret the server is started with.
const SECRET: &str = "soak-secret-0123456789abcdef0123456789abcdef";

/// The server binary, where it listens and keeps its data, and the running
/// child (if any).
pub struct Server {
    pub bin: PathBuf,
    pub port: u16,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    pub passivate_ms: u64,
    pub max_age_ms: u64,
    pub child: Option<Child>,
}

impl Server {
    /// The server's command line (after the binary).
    pub fn args(&self) -> Vec<String> {
        vec![
            "--addr".into(),
            format!("127.0.0.1:{}", self.port),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--secret".into(),
            SECRET.into(),
            "--passivate-after-ms".into(),
            self.passivate_ms.to_string(),
            "--max-age-ms".into(),
            self.max_age_ms.to_string(),
        ]
    }

    /// The last `n` lines of its log.
    fn log_tail(&self, n: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Starts the binary and waits for `/health`; retries a lost port race.
    pub async fn start(&mut self) -> Result<(u32, Duration), String> {
        let t0 = Instant::now();
        let probe = new_client();
        let mut last = String::new();
        for attempt in 0..40 {
            let mut log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .map_err(|e| format!("log {}: {e}", self.log.display()))?;
            let _ = writeln!(log, "=== soak: starting (attempt {attempt}) ===");
            let mut cmd = Command::new(&self.bin);
            cmd.args(self.args())
                .env_remove("LIVESESSION_SECRET")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
                .stderr(Stdio::from(log));
            // SAFETY: prctl(2) is async-signal-safe. The server dies with the
            // driver (however the driver ends), so no server outlives a soak.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let mut child = cmd
                .spawn()
                .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
            let deadline = Instant::now() + Duration::from_secs(30);
            let url = format!("http://127.0.0.1:{}/health", self.port);
            loop {
                if let Ok(Some(st)) = child.try_wait() {
                    last = format!("exited with {st}");
                    break;
                }
                if let Ok(r) = probe
                    .get(&url)
                    .timeout(Duration::from_millis(500))
                    .send()
                    .await
                {
                    if r.status().as_u16() == 200 {
                        let pid = child.id();
                        self.child = Some(child);
                        return Ok((pid, t0.elapsed()));
                    }
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "no 200 from /health within 30 s; log tail:\n{}",
                        self.log_tail(30)
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let tail = self.log_tail(10).to_ascii_lowercase();
            if !(tail.contains("in use") || tail.contains("addrinuse")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(format!("{last}; log tail:\n{}", self.log_tail(30)))
    }

    /// SIGKILL (if it runs), and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; the exit status within `timeout` (None: still running, then killed).
    pub async fn term(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[derive(Clone, Default)]
/// One run of the server process, from start to kill or SIGTERM, with its
/// samples.
pub struct Incarnation {
    pub pid: u32,
    pub started: Option<Instant>,
    pub healthy_after: Duration,
    pub ended: Option<Instant>,
    pub under_load: bool,
    /// RSS (kB) and open fds, sampled every 2 s.
    pub rss_kb: Vec<u64>,
    pub fds: Vec<u64>,
    /// Samples taken while the load ran (the rest: final checks).
    pub load_samples: Option<usize>,
    /// Bytes in the data dir when it ended.
    pub disk_end: u64,
}

/// SIGKILL the server and start it again on the same data dir and port.
pub async fn kill_and_restart(ctl: &Ctl, srv: &mut Server, under_load: bool) -> Result<(), String> {
    sample_now(ctl);
    // Order matters (see Ctl::req): down first, then the kill count.
    ctl.up.send_replace(false);
    ctl.kills.fetch_add(1, SeqCst);
    ctl.pid.store(0, SeqCst);
    let killed_at = Instant::now();
    srv.kill9();
    {
        let mut inc = ctl.incarnations.lock().unwrap();
        if let Some(i) = inc.last_mut() {
            i.ended = Some(killed_at);
            i.disk_end = dir_size(&srv.data_dir);
        }
    }
    start_incarnation(ctl, srv, under_load).await
}

/// Starts the server; it is up (requests may go out) once `/health` answers.
pub async fn start_incarnation(
    ctl: &Ctl,
    srv: &mut Server,
    under_load: bool,
) -> Result<(), String> {
    let t0 = Instant::now();
    let (pid, took) = srv.start().await?;
    ctl.incarnations.lock().unwrap().push(Incarnation {
        pid,
        started: Some(t0),
        healthy_after: took,
        under_load,
        ..Incarnation::default()
    });
    ctl.pid.store(pid as u64, SeqCst);
    *ctl.client.write().unwrap() = new_client();
    sample_now(ctl);
    ctl.up.send_replace(true);
    Ok(())
}
