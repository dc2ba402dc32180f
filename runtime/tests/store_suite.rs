//! The store behaviour suites against `MemoryStore` and
//! `SharedMemoryStore`, and the `FaultyStore` wrapper itself. Needs `--features testing`.
#![cfg(feature = "testing")]

use livesession::store::{
    MemoryStore, SessionKey, SessionRecord, SessionStore, SharedMemoryStore, StoreError,
};
use livesession::testing::{shared_store_suite, store_suite, FaultyStore, Op};
use std::time::{Duration, Instant};

#[tokio::test]
async fn memory_store_passes_the_suite() {
    store_suite(MemoryStore::new).await;
}

#[tokio::test]
async fn faulty_store_without_faults_passes_the_suite() {
    store_suite(|| FaultyStore::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn shared_memory_store_passes_the_shared_suite() {
    shared_store_suite(SharedMemoryStore::new).await;
}

#[tokio::test]
async fn faulty_shared_store_without_faults_passes_the_shared_suite() {
    shared_store_suite(|| FaultyStore::new(SharedMemoryStore::new())).await;
}

#[tokio::test]
async fn faulty_store_fails_delays_and_hangs_on_command() {
    let store = FaultyStore::new(MemoryStore::new());
    let steer = store.clone();
    let key = SessionKey::of_id("faulty");
    let record = SessionRecord::default();

    for op in Op::ALL {
        steer.fail(op, true);
    }
    assert!(matches!(
        store.load(&key).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        store.create(&key, &record).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        store.save(&key, &record).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        store.delete(&key).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        store.keys_for_user("u").await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        store.remove_expired(0, 1, &|_: &SessionKey| false).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(store.count().await, Err(StoreError::Backend(_))));
    assert!(matches!(store.flush().await, Err(StoreError::Backend(_))));
    assert_eq!(
        store.inner().count().await.expect("inner count"),
        0,
        "failed calls must not reach the wrapped store"
    );
    steer.heal();

    steer.fail_next(Op::Save, 2);
    assert!(
        store.save(&key, &record).await.is_err(),
        "first of 2 injected failures"
    );
    assert!(
        store.save(&key, &record).await.is_err(),
        "second of 2 injected failures"
    );
    store
        .save(&key, &record)
        .await
        .expect("third save must go through");
    assert_eq!(
        steer.calls(Op::Save),
        4,
        "calls are counted across clones, failed or not"
    );

    steer.delay(Op::Load, Duration::from_millis(50));
    let started = Instant::now();
    assert!(store.load(&key).await.expect("delayed load").is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "load must be delayed"
    );
    steer.delay(Op::Load, Duration::ZERO);

    steer.hang(Op::Flush, true);
    let hung = tokio::time::timeout(Duration::from_millis(30), store.flush()).await;
    assert!(hung.is_err(), "a hanging flush must not complete");
    steer.hang(Op::Flush, false);
    store.flush().await.expect("flush after the hang is lifted");
}
