//! One connection type over a standalone server and a Cluster.

use futures::future::try_join_all;
use redis::aio::ConnectionManager;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, RedisResult, ScriptInvocation, Value};

/// A cheap-to-clone handle; clones share the underlying connections.
#[derive(Clone)]
pub(crate) enum Conn {
    /// A standalone server through a `ConnectionManager`, which reconnects
    /// on the next call after a connection failure.
    Single(ConnectionManager),
    /// A Cluster: commands are routed by key slot; the connection follows
    /// topology changes and reconnects by itself.
    Cluster(ClusterConnection),
}

impl Conn {
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// Runs one command.
    pub(crate) async fn query(&self, cmd: &Cmd) -> RedisResult<Value> {
        match self.clone() {
            Conn::Single(mut c) => cmd.query_async(&mut c).await,
            Conn::Cluster(mut c) => cmd.query_async(&mut c).await,
        }
    }

    /// Runs a script (EVALSHA, loading it on NOSCRIPT).
    pub(crate) async fn script(&self, invocation: &ScriptInvocation<'_>) -> RedisResult<Value> {
        match self.clone() {
            Conn::Single(mut c) => invocation.invoke_async(&mut c).await,
            Conn::Cluster(mut c) => invocation.invoke_async(&mut c).await,
        }
    }

    /// Runs independent commands in one round trip: one pipeline on a
    /// standalone server; concurrently on a Cluster (whose pipelines must
    /// stay in one slot), one request per command over the multiplexed
    /// node connections. Replies in order; fails if any command fails.
    pub(crate) async fn all(&self, cmds: Vec<Cmd>) -> RedisResult<Vec<Value>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        match self.clone() {
            Conn::Single(mut c) => {
                let mut pipe = redis::pipe();
                for cmd in cmds {
                    pipe.add_command(cmd);
                }
                pipe.query_async(&mut c).await
            }
            Conn::Cluster(c) => {
                try_join_all(cmds.into_iter().map(|cmd| {
                    let mut c = c.clone();
                    async move { cmd.query_async::<Value>(&mut c).await }
                }))
                .await
            }
        }
    }
}
