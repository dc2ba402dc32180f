//! A three-master Redis Cluster.

use crate::node::Node;
use crate::resp::command;
use std::process::Command;
use std::time::{Duration, Instant};

/// How long the joined cluster has to report `cluster_state:ok` everywhere.
const CLUSTER_OK_TIMEOUT: Duration = Duration::from_secs(20);

/// A Redis Cluster of three masters (no replicas) on `127.0.0.1`, each with
/// its own port, cluster bus port, temp dir and append-only file. Dropping
/// it kills every node and removes the dirs.
pub struct RedisCluster {
    nodes: Vec<Node>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers, joins them with `redis-cli
    /// --cluster create`, and waits (up to 20 s) until `CLUSTER INFO` says
    /// `cluster_state:ok` on every node.
    ///
    /// `None` (after a loud `SKIPPED` note on stderr) if `redis-server` or
    /// `redis-cli` is not found; panics instead when
    /// `LIVESESSION_REQUIRE_REDIS=1`, and always panics, with the logs'
    /// tails, if they are found but the cluster does not come up.
    pub fn start() -> Option<RedisCluster> {
        let server = crate::require_binary("redis-server", crate::SERVER_ENV)?;
        let cli = crate::require_binary("redis-cli", crate::CLI_ENV)?;
        let nodes: Vec<Node> = (0..3).map(|_| Node::launch_fresh(&server, true)).collect();
        let cluster = RedisCluster { nodes };

        let out = Command::new(&cli)
            .arg("--cluster")
            .arg("create")
            .args(cluster.ports().iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", cli.display()));
        if !out.status.success() {
            cluster.fail(&format!(
                "`redis-cli --cluster create` failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }

        let deadline = Instant::now() + CLUSTER_OK_TIMEOUT;
        while !cluster.ports().into_iter().all(cluster_ok) {
            if Instant::now() >= deadline {
                cluster.fail(&format!(
                    "not every node reached cluster_state:ok within {CLUSTER_OK_TIMEOUT:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(cluster)
    }

    /// `redis://127.0.0.1:PORT/` of each node.
    pub fn urls(&self) -> Vec<String> {
        self.ports()
            .into_iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect()
    }

    /// The client port of each node.
    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(Node::port).collect()
    }

    fn fail(&self, why: &str) -> ! {
        let logs: Vec<String> = self.nodes.iter().map(Node::log_tail).collect();
        panic!(
            "the Redis cluster on ports {:?} did not come up: {why}\n{}",
            self.ports(),
            logs.join("\n")
        );
    }
}

/// Whether the node on `port` says `cluster_state:ok`.
fn cluster_ok(port: u16) -> bool {
    match command(port, &["CLUSTER", "INFO"]) {
        Ok(reply) => reply
            .as_str()
            .is_some_and(|info| info.lines().any(|l| l.trim() == "cluster_state:ok")),
        Err(_) => false,
    }
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("ports", &self.ports())
            .finish()
    }
}
