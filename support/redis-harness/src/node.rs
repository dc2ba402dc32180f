//! One `redis-server` process: its port, dir, log and child; free ports.

use crate::resp::{command, Reply};
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// How long a started server has to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh ports `launch_fresh` tries when a port was taken meanwhile.
const PORT_ATTEMPTS: usize = 5;
/// The log file in each node's dir (stdout and stderr of the server).
const LOG_FILE: &str = "redis.log";

/// A `redis-server` process with its own dir; killed on drop (the dir is
/// removed after it).
pub(crate) struct Node {
    binary: PathBuf,
    port: u16,
    extra_args: Vec<String>,
    child: Option<Child>,
    dir: TempDir,
}

/// Why a launch failed.
enum LaunchError {
    /// Another process holds the port (or the cluster bus port).
    PortTaken,
    /// Anything else, explained.
    Failed(String),
}

impl Node {
    /// Starts a server on fresh ports (retrying when a port is taken between
    /// choosing and binding it); `cluster` adds the cluster options. Panics
    /// if the server does not come up.
    pub(crate) fn launch_fresh(binary: &Path, cluster: bool) -> Node {
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port();
            let extra_args = if cluster {
                vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    "nodes.conf".into(),
                    "--cluster-port".into(),
                    free_port().to_string(),
                ]
            } else {
                Vec::new()
            };
            let dir = tempfile::Builder::new()
                .prefix("livesession-redis-")
                .tempdir()
                .expect("create a temp dir for redis-server");
            let mut node = Node {
                binary: binary.to_owned(),
                port,
                extra_args,
                child: None,
                dir,
            };
            match node.launch() {
                Ok(()) => return node,
                Err(LaunchError::PortTaken) if attempt < PORT_ATTEMPTS => continue,
                Err(LaunchError::PortTaken) => {
                    node.fail(&format!("ports taken {PORT_ATTEMPTS} times in a row"))
                }
                Err(LaunchError::Failed(why)) => node.fail(&why),
            }
        }
        unreachable!("the last attempt returns or panics")
    }

    /// Starts the server again on its port, in its dir. Panics if it is
    /// running or does not come up.
    pub(crate) fn relaunch(&mut self) {
        assert!(
            self.child.is_none(),
            "redis-server on port {} is still running: stop() it first",
            self.port
        );
        match self.launch() {
            Ok(()) => {}
            Err(LaunchError::PortTaken) => self.fail("its port was taken while it was stopped"),
            Err(LaunchError::Failed(why)) => self.fail(&why),
        }
    }

    /// Kills the process (SIGKILL) and reaps it; nothing if not running.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        self.dir.path().join(LOG_FILE)
    }

    /// The last lines of the server's log, for panic messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!(
            "--- last lines of {} ---\n{tail}\n--- end of log ---",
            self.log_path().display()
        )
    }

    fn fail(&mut self, why: &str) -> ! {
        self.kill();
        panic!(
            "{} on 127.0.0.1:{} did not start: {why}\n{}",
            self.binary.display(),
            self.port,
            self.log_tail()
        );
    }

    /// Spawns the process and waits until it answers `PING`.
    fn launch(&mut self) -> Result<(), LaunchError> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| LaunchError::Failed(format!("cannot open its log: {e}")))?;
        let log_err = log
            .try_clone()
            .map_err(|e| LaunchError::Failed(format!("cannot open its log: {e}")))?;
        let child = Command::new(&self.binary)
            .arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra_args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| LaunchError::Failed(format!("cannot spawn it: {e}")))?;
        let pid = child.id();
        self.child = Some(child);
        let result = self.wait_ready(pid);
        if result.is_err() {
            self.kill();
        }
        result
    }

    fn wait_ready(&mut self, pid: u32) -> Result<(), LaunchError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("launched");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
                return Err(if log.contains("Address already in use") {
                    LaunchError::PortTaken
                } else {
                    LaunchError::Failed(format!("it exited ({status})"))
                });
            }
            if let Ok(Reply::Simple(pong)) = command(self.port, &["PING"]) {
                if pong == "PONG" {
                    // Make sure it is this child that answered, not another
                    // server that took the port meanwhile.
                    let info = command(self.port, &["INFO", "server"]);
                    let ours = info
                        .as_ref()
                        .ok()
                        .and_then(Reply::as_str)
                        .is_some_and(|info| {
                            info.lines()
                                .any(|l| l.trim() == format!("process_id:{pid}"))
                        });
                    return if ours {
                        Ok(())
                    } else {
                        Err(LaunchError::PortTaken)
                    };
                }
            }
            if Instant::now() >= deadline {
                return Err(LaunchError::Failed(format!(
                    "it did not answer PING within {READY_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port that was free a moment ago, below 55535 (so a cluster
/// bus at port + 10000 would also be valid), never handed out twice by this
/// process.
fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    // Keep the rejected listeners open so the OS offers other ports.
    let mut held = Vec::new();
    for _ in 0..1000 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
        let port = listener.local_addr().expect("local addr").port();
        if port < 55535 && given.insert(port) {
            return port;
        }
        held.push(listener);
    }
    panic!("found no free loopback port below 55535");
}
