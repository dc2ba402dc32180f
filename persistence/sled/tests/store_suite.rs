//! The shared store behaviour suite against `SledStore`.

use livesession::testing::{store_suite, FaultyStore};
use livesession_sled::{Durability, SledConfig, SledStore};
use std::sync::Mutex;
use std::time::Duration;

/// Runs the suite with stores opened in fresh temp dirs that outlive them.
async fn run_suite(config: SledConfig) {
    let dirs = Mutex::new(Vec::new());
    store_suite(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(dir.path(), config.clone()).expect("open sled store");
        dirs.lock().expect("dirs").push(dir);
        store
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_passes_the_suite() {
    run_suite(SledConfig::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_with_periodic_durability_passes_the_suite() {
    run_suite(SledConfig::new().durability(Durability::Periodic(Duration::from_millis(50)))).await;
}

#[tokio::test]
async fn sled_store_passes_the_suite_on_a_current_thread_runtime() {
    run_suite(SledConfig::default().cache_capacity_bytes(1024 * 1024)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sled_store_behind_faulty_store_passes_the_suite() {
    let dirs = Mutex::new(Vec::new());
    store_suite(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(dir.path(), SledConfig::default()).expect("open sled store");
        dirs.lock().expect("dirs").push(dir);
        FaultyStore::new(store)
    })
    .await;
}
