//! Group commit at the store level: concurrent writers (sync and periodic
//! durability), flush failures and cancelled callers. A held state lock stands
//! for a slow disk, so that writers pile up without any timing assumption.
// The state lock is held across awaits on purpose: it is the stalled disk.
#![allow(clippy::await_holding_lock)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::join_all;
use livesession::store::{SessionKey, SessionRecord, SessionStore, StoreError};

use super::SledStore;
use crate::config::{Durability, SledConfig};
use crate::db::Db;
use std::time::Duration;

/// Test hooks of a store: counts its flushes and can make them fail.
#[derive(Default)]
pub(super) struct Hooks {
    flushes: AtomicU64,
    fail: AtomicBool,
}

impl Hooks {
    /// `Db::flush`, counted, or an injected failure.
    pub(super) fn flush(&self, db: &Db) -> Result<(), StoreError> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::backend("injected flush failure"));
        }
        db.flush()
    }
}

fn open() -> (tempfile::TempDir, SledStore) {
    open_with(SledConfig::default())
}

fn open_with(config: SledConfig) -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path(), config).expect("open");
    (dir, store)
}

fn key(i: usize) -> SessionKey {
    SessionKey::of_id(&format!("session-{i}"))
}

/// Starts `n` writers (save, then flush, each its own session) on a task of
/// their own and returns once each has handed its write over.
async fn writers(
    store: &SledStore,
    n: usize,
) -> tokio::task::JoinHandle<Vec<Result<(), StoreError>>> {
    let called = Arc::new(AtomicUsize::new(0));
    let task = tokio::spawn({
        let (store, called) = (store.clone(), Arc::clone(&called));
        async move {
            join_all((0..n).map(|i| {
                let (store, called) = (&store, &called);
                async move {
                    let (key, record) = (key(i), SessionRecord::default());
                    let mut save = std::pin::pin!(store.save(&key, &record));
                    // Polled once: the write is handed over.
                    let first = futures::poll!(save.as_mut());
                    called.fetch_add(1, Ordering::SeqCst);
                    match first {
                        std::task::Poll::Ready(saved) => saved?,
                        std::task::Poll::Pending => save.await?,
                    }
                    store.flush().await
                }
            }))
            .await
        }
    });
    while called.load(Ordering::SeqCst) < n {
        tokio::task::yield_now().await;
    }
    task
}

/// 64 writers (save, then flush, each its own session) that arrive while
/// the disk is "stalled"; returns the jobs they made on the store's threads
/// and the flushes they ran, once each write is checked to be there.
async fn sixty_four_writers_behind_a_stalled_disk(store: &SledStore) -> (u64, u64) {
    let jobs = store.shared.pool.submitted();
    let flushes = store.shared.test.flushes.load(Ordering::SeqCst);
    let stalled = store.shared.write();
    let task = writers(store, 64).await;
    drop(stalled);
    for result in task.await.expect("join") {
        result.expect("write");
    }
    let made = (
        store.shared.pool.submitted() - jobs,
        store.shared.test.flushes.load(Ordering::SeqCst) - flushes,
    );
    for i in 0..64 {
        assert!(store.load(&key(i)).await.expect("load").is_some());
    }
    made
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_share_one_thread_hand_off_and_one_flush() {
    let (_dir, store) = open();
    let (jobs, flushes) = sixty_four_writers_behind_a_stalled_disk(&store).await;
    assert!(
        jobs <= 2,
        "64 writers made {jobs} jobs on the store's threads"
    );
    assert!(flushes <= 2, "64 writers made {flushes} flushes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_durability_applies_concurrent_writes_in_one_hand_off_without_flushing() {
    let config = SledConfig::new().durability(Durability::Periodic(Duration::from_secs(3600)));
    let (_dir, store) = open_with(config);
    let (jobs, flushes) = sixty_four_writers_behind_a_stalled_disk(&store).await;
    assert!(
        jobs <= 2,
        "64 writers made {jobs} jobs on the store's threads"
    );
    assert_eq!(
        flushes, 0,
        "periodic durability flushes on sled's timer, not per group"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_fails_every_writer_of_its_group_and_a_later_flush_retries() {
    let (_dir, store) = open();
    let stalled = store.shared.write();
    let task = writers(&store, 16).await;
    store.shared.test.fail.store(true, Ordering::SeqCst);
    drop(stalled);
    for result in task.await.expect("join") {
        let err = result.expect_err("acknowledged a write that is not durable");
        assert!(err.to_string().contains("injected flush failure"), "{err}");
    }
    // The writes are kept for a reopen until a flush covers them...
    let kept = |store: &SledStore| {
        let unflushed = store.shared.unflushed.as_ref().expect("sync keeps writes");
        unflushed.lock().expect("lock").len()
    };
    assert_eq!(kept(&store), 16);
    // ...and the next flush runs again rather than trusting the failed one.
    store.shared.test.fail.store(false, Ordering::SeqCst);
    store.flush().await.expect("retry");
    assert_eq!(kept(&store), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_writer_does_not_hold_up_the_others() {
    let (_dir, store) = open();
    let stalled = store.shared.write();
    let cancelled = writers(&store, 1).await;
    let others = writers(&store, 8).await;
    cancelled.abort();
    assert!(cancelled.await.expect_err("aborted").is_cancelled());
    drop(stalled);
    for result in others.await.expect("join") {
        result.expect("write");
    }
    // The store still takes writes and flushes.
    store
        .save(&key(100), &SessionRecord::default())
        .await
        .expect("save");
    store.flush().await.expect("flush");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_whose_flush_failed_leaves_no_record() {
    use livesession::{RequestInfo, SessionConfig, SessionManager};
    let (_dir, store) = open();
    let manager = SessionManager::new(
        SessionConfig::builder()
            .secret("a secret of at least thirty-two bytes!")
            .store(Arc::new(store.clone()))
            .build()
            .expect("config"),
    );
    // The create is applied, but its group's flush fails: the create
    // answers that failure, and the new session's id is never sent.
    store.shared.test.fail.store(true, Ordering::SeqCst);
    let request = manager.start(&RequestInfo {
        path: "/",
        ..Default::default()
    });
    request.insert("n", 1).await.expect("insert");
    assert!(
        request.finish().await.is_err(),
        "a create that is not durable"
    );
    store.shared.test.fail.store(false, Ordering::SeqCst);
    store.flush().await.expect("flush");
    // Nobody will ever use that record: it is not left behind.
    assert_eq!(store.count().await.expect("count"), 0);
}

#[tokio::test]
async fn a_sweep_that_removes_nothing_leaves_nothing_to_flush() {
    let (_dir, store) = open();
    store
        .save(&key(1), &SessionRecord::default())
        .await
        .expect("save");
    let flushes = store.shared.test.flushes.load(Ordering::SeqCst);
    // Nothing is due (the record never expires): the sweep writes nothing...
    let removed = store
        .remove_expired(0, 100, &|_| false)
        .await
        .expect("sweep");
    assert_eq!(removed, 0);
    // ...so the flush after it has nothing to wait for.
    store.flush().await.expect("flush");
    assert_eq!(store.shared.test.flushes.load(Ordering::SeqCst), flushes);
}

#[test]
fn only_sync_durability_makes_completed_writes_durable() {
    let (_dir, sync) = open_with(SledConfig::new().durability(Durability::Sync));
    assert!(sync.completed_writes_are_durable());
    let periodic = SledConfig::new().durability(Durability::Periodic(Duration::from_secs(1)));
    let (_dir, periodic) = open_with(periodic);
    assert!(!periodic.completed_writes_are_durable());
}
