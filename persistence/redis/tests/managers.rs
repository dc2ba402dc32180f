//! Several `SessionManager`s ("app servers") on one real Redis, driven
//! through the runtime: no lost update, and expiry by Redis's clock even
//! when a server's own clock is skewed.

mod common;

use common::{random, store};
use livesession::clock::{Clock, SystemClock};
use livesession::{SessionConfig, SessionConfigBuilder, SessionManager};
use livesession_redis_harness::RedisServer;
use livesession_test_support::manager::{increment_concurrently, new_session, read_n, SECRET};
use std::sync::Arc;
use std::time::Duration;

async fn node(redis: &RedisServer, prefix: &str, config: SessionConfigBuilder) -> SessionManager {
    let store = store(redis, prefix).await;
    SessionManager::new(
        config
            .secret(SECRET)
            .store(Arc::new(store))
            .build()
            .unwrap(),
    )
}

/// The system clock, `ahead_ms` fast.
struct Ahead(u64);

impl Clock for Ahead {
    fn now_ms(&self) -> u64 {
        SystemClock.now_ms() + self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_through_three_servers_lose_none() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let prefix = format!("t{}:", random());
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(node(&redis, &prefix, SessionConfig::builder()).await);
    }
    let cookie = new_session(&nodes[0]).await; // n = 1
    increment_concurrently(&nodes, &cookie, 60).await;
    for node in nodes.iter() {
        assert_eq!(read_n(node, &cookie).await, Some(61));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_follows_redis_time_not_a_skewed_server() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let prefix = format!("t{}:", random());
    let idle = Duration::from_millis(1500);
    let on_time = node(
        &redis,
        &prefix,
        SessionConfig::builder().max_age(Some(idle)),
    )
    .await;
    // An hour fast: by its own clock every session is long over.
    let fast = node(
        &redis,
        &prefix,
        SessionConfig::builder()
            .max_age(Some(idle))
            .clock(Ahead(3_600_000)),
    )
    .await;
    let cookie = new_session(&on_time).await; // n = 1
    for _ in 0..4 {
        // Each read, on either server, extends the session in Redis.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            read_n(&fast, &cookie).await,
            Some(1),
            "alive by Redis's clock"
        );
    }
    assert_eq!(read_n(&on_time, &cookie).await, Some(1));
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        read_n(&fast, &cookie).await,
        None,
        "idle past 1.5 s in Redis"
    );
    assert_eq!(read_n(&on_time, &cookie).await, None);
}
