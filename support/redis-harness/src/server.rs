//! One standalone `redis-server`.

use crate::node::Node;
use crate::resp::{command, Reply};
use std::io;
use std::path::{Path, PathBuf};

/// A standalone `redis-server` on `127.0.0.1` and a free port, with its own
/// temp dir and an append-only file fsynced on every write. Dropping it
/// kills the process and removes the dir.
pub struct RedisServer {
    node: Node,
}

impl RedisServer {
    /// Starts a server and waits (up to 10 s) until it answers `PING`.
    ///
    /// `None` (after a loud `SKIPPED` note on stderr) if `redis-server` is
    /// not found; panics instead when `LIVESESSION_REQUIRE_REDIS=1`, and
    /// always panics, with its log's tail, if it is found but does not start.
    pub fn start() -> Option<RedisServer> {
        let binary = crate::require_binary("redis-server", crate::SERVER_ENV)?;
        Some(RedisServer {
            node: Node::launch_fresh(&binary, false),
        })
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.node.port())
    }

    /// The port it listens on (the same after [`start_again`](Self::start_again)).
    pub fn port(&self) -> u16 {
        self.node.port()
    }

    /// Its data dir (append-only files, log).
    pub fn dir(&self) -> &Path {
        self.node.dir()
    }

    /// Its log file (the server's stdout and stderr, across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.node.log_path()
    }

    /// Whether it is running (not [`stop`](Self::stop)ped).
    pub fn is_running(&self) -> bool {
        self.node.is_running()
    }

    /// Kills the process (SIGKILL, no shutdown save) and waits for it to
    /// exit: clients see an outage. Nothing if already stopped.
    pub fn stop(&mut self) {
        self.node.kill();
    }

    /// Starts the stopped server again on the same port with the same dir:
    /// it replays its append-only file, so every write it acknowledged is
    /// back. Waits (up to 10 s) until it answers `PING`; panics if it is
    /// still running or does not start.
    pub fn start_again(&mut self) {
        self.node.relaunch();
    }

    /// Sends one command to it (see [`command`](crate::command)).
    pub fn command<A: AsRef<[u8]>>(&self, args: &[A]) -> io::Result<Reply> {
        command(self.node.port(), args)
    }
}

impl std::fmt::Debug for RedisServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisServer")
            .field("port", &self.port())
            .field("dir", &self.dir())
            .field("running", &self.is_running())
            .finish()
    }
}
