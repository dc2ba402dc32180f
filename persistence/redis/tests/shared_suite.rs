//! The shared-store contract suite against a real standalone server and a
//! real three-master Cluster (started by the harness; each test skips
//! loudly when redis-server is not installed, and fails instead with
//! `LIVESESSION_REQUIRE_REDIS=1`).

mod common;

use livesession::testing::{shared_store_suite, FaultyStore};
use livesession_redis::{RedisOptions, RedisStore};
use livesession_redis_harness::{RedisCluster, RedisServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn standalone_server_passes_the_shared_suite() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = common::store(&redis, "suite:").await;
    shared_store_suite(|| store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_passes_the_shared_suite() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let store = RedisStore::connect_cluster(&cluster.urls(), RedisOptions::new())
        .await
        .expect("connecting to the test cluster failed");
    shared_store_suite(|| store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faulty_store_around_redis_passes_the_shared_suite() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = common::store(&redis, "faulty:").await;
    shared_store_suite(|| FaultyStore::new(store.clone())).await;
}
