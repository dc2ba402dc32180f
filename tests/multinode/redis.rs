//! The Redis a scenario runs on, and demo processes pointed at it.

use crate::common::{Cfg, Demo, Server, SECRET};
use livesession_redis_harness::{RedisCluster, RedisServer};

/// Standalone server or cluster.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Standalone,
    Cluster,
}

/// A running Redis, with the flags that point a demo at it.
pub enum Backend {
    Standalone(RedisServer),
    Cluster(RedisCluster),
}

impl Backend {
    /// `None` (after a loud note) when redis-server is not installed.
    pub fn start(kind: Kind) -> Option<Backend> {
        match kind {
            Kind::Standalone => RedisServer::start().map(Backend::Standalone),
            Kind::Cluster => RedisCluster::start().map(Backend::Cluster),
        }
    }

    /// The demo flags that keep sessions here.
    pub fn flags(&self) -> Vec<String> {
        match self {
            Backend::Standalone(s) => vec!["--redis".into(), s.url()],
            Backend::Cluster(c) => c
                .urls()
                .into_iter()
                .flat_map(|u| ["--redis-cluster".to_string(), u])
                .collect(),
        }
    }

    /// The standalone server (outage tests stop and restart it).
    pub fn standalone(&mut self) -> Option<&mut RedisServer> {
        match self {
            Backend::Standalone(s) => Some(s),
            Backend::Cluster(_) => None,
        }
    }

    /// Every key in Redis with its hash fields' values (for privacy checks).
    pub fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let ports = match self {
            Backend::Standalone(s) => vec![s.port()],
            Backend::Cluster(c) => c.ports(),
        };
        let mut out = Vec::new();
        for port in ports {
            let keys = livesession_redis_harness::command(port, &["KEYS", "*"]).expect("KEYS");
            let livesession_redis_harness::Reply::Array(keys) = keys else {
                panic!("KEYS answered {keys:?}");
            };
            for key in keys {
                let livesession_redis_harness::Reply::Bulk(key) = key else {
                    continue;
                };
                let key = String::from_utf8_lossy(&key).to_string();
                let dump = livesession_redis_harness::command(port, &["DUMP", key.as_str()])
                    .expect("DUMP");
                let bytes = match dump {
                    livesession_redis_harness::Reply::Bulk(b) => b,
                    _ => Vec::new(),
                };
                out.push((key, bytes));
            }
        }
        out
    }

    /// `count` demo processes of `demo` sharing this Redis, started with
    /// the same secret, plus `extra` flags.
    pub async fn nodes(&self, demo: Demo, count: usize, extra: &[&str]) -> Vec<Server> {
        let mut nodes = Vec::new();
        for _ in 0..count {
            nodes.push(demo.start(self.cfg(extra)).await);
        }
        nodes
    }

    /// The configuration of one node.
    pub fn cfg(&self, extra: &[&str]) -> Cfg {
        let mut cfg = Cfg {
            secrets: vec![SECRET.to_string()],
            ..Cfg::default()
        };
        cfg.args = self.flags();
        cfg.args.extend(extra.iter().map(|s| s.to_string()));
        cfg
    }
}
