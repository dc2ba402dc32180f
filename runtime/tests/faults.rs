//! The runtime's guarantees under store faults, cancelled requests and
//! unusual races: one owner per session, no resurrection, and nothing shown
//! to a client that is not durable.

mod common;

use common::*;
use livesession::store::MemoryStore;
use livesession::testing::{FaultyStore, Op};
use livesession::SessionManager;
use std::sync::Arc;
use std::time::Duration;

/// A manager over a `FaultyStore` that passivates after 50 ms.
fn durable(store: &FaultyStore<MemoryStore>) -> SessionManager {
    SessionManager::new(
        config()
            .store(Arc::new(store.clone()))
            .passivate_after(Duration::from_millis(50))
            .build()
            .unwrap(),
    )
}

async fn passivated(m: &SessionManager) {
    wait_until(
        async || m.stats().await.unwrap().live == 0,
        "every session is passivated",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_leaves_one_owner_for_the_session() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    passivated(&m).await;

    // The first load fails after 50 ms; a second request waits on the same
    // activation meanwhile, and a third arrives after the failure.
    store.delay(Op::Load, Duration::from_millis(50));
    store.fail_next(Op::Load, 1);
    let first = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move { request(&m, Some(&cookie)).get::<i64>("n").await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let second = request(&m, Some(&cookie));
    let waiting = {
        let second = second.clone();
        tokio::spawn(async move { second.get::<i64>("n").await })
    };
    assert!(first.await.unwrap().is_err(), "the injected load failure");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let third = request(&m, Some(&cookie));
    let _ = third.get::<i64>("n").await;
    let _ = waiting.await.unwrap();
    store.delay(Op::Load, Duration::ZERO);

    second
        .update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
        .await
        .unwrap();
    second.finish().await.unwrap();
    third
        .update("n", |n: Option<i64>| n.unwrap_or(0) + 100)
        .await
        .unwrap();
    third.finish().await.unwrap();
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(102),
        "both changes went through one owner"
    );
    assert_eq!(m.stats().await.unwrap().live, 1, "one live session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_activation_leaves_no_registry_state() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    passivated(&m).await;

    store.delay(Op::Load, Duration::from_millis(100));
    let s = request(&m, Some(&cookie));
    let cancelled = tokio::time::timeout(Duration::from_millis(20), s.get::<i64>("n")).await;
    assert!(cancelled.is_err(), "the request was dropped mid-load");
    drop(s);
    store.delay(Op::Load, Duration::ZERO);
    // Whatever the dropped request started settles by itself: the session
    // either became live (and passivates again) or left no trace.
    passivated(&m).await;
    assert_eq!(read_n(&m, &cookie).await, Some(1), "the session is intact");
}
