//! Expiry by the store's clock: idle timeouts extended by `touch`, absolute
//! ends nothing extends, commits moving the idle timeout.

use super::fixtures::{commit, create, fresh_key, idle, record, touch};
use crate::store::{Committed, Lifetime, SessionKey, SessionStore, Touched};
use std::time::{Duration, Instant};

/// Touches `k` every 100 ms for `for_ms` after `start`, asserting each touch
/// finds it at `version`.
pub(super) async fn keep_touching<S: SessionStore>(
    store: &S,
    k: &SessionKey,
    version: u64,
    start: Instant,
    for_ms: u64,
    what: &str,
) {
    while start.elapsed() < Duration::from_millis(for_ms) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = touch(store, k, Some(version)).await;
        assert_eq!(
            answer,
            Touched::Unchanged,
            "{what}: a touch {:?} after the start must find the record",
            start.elapsed()
        );
    }
}

pub(super) async fn idle_expiry<S: SessionStore>(store: &S) {
    let k = fresh_key("idle");
    let start = Instant::now();
    create(store, &k, &record(1, None), idle(300)).await;
    keep_touching(
        store,
        &k,
        1,
        start,
        900,
        "idle timeout 300 ms, touched every 100 ms",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        touch(store, &k, Some(1)).await,
        Touched::Gone,
        "a record with a 300 ms idle timeout must be Gone 700 ms after its last touch"
    );
    assert_eq!(
        commit(store, &k, 1, &record(2, None), idle(300), None).await,
        Committed::Gone,
        "commit of an expired record must be Gone"
    );
}

pub(super) async fn absolute_expiry<S: SessionStore>(store: &S) {
    let k = fresh_key("absolute");
    let lifetime = Lifetime {
        idle_ms: Some(10_000),
        absolute_ms: Some(500),
    };
    let start = Instant::now();
    create(store, &k, &record(1, None), lifetime).await;
    keep_touching(
        store,
        &k,
        1,
        start,
        200,
        "absolute timeout 500 ms, before it",
    )
    .await;
    assert_eq!(
        commit(store, &k, 1, &record(2, None), idle(10_000), None).await,
        Committed::Done(2),
        "commit before the absolute end failed"
    );
    while start.elapsed() < Duration::from_millis(700) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if start.elapsed() < Duration::from_millis(400) {
            assert_eq!(
                touch(store, &k, Some(2)).await,
                Touched::Unchanged,
                "a touch {:?} after creation must find a record with a 500 ms absolute timeout",
                start.elapsed()
            );
        } else {
            // Near the end: touch it (it may already be gone) without judging.
            let _ = touch(store, &k, Some(2)).await;
        }
    }
    assert_eq!(
        touch(store, &k, Some(2)).await,
        Touched::Gone,
        "a record must be Gone after its absolute end (500 ms) despite touches, a 10 s idle timeout and a commit"
    );
}

pub(super) async fn commit_moves_the_idle_timeout<S: SessionStore>(store: &S) {
    let k = fresh_key("idle-moved");
    create(store, &k, &record(1, None), idle(300)).await;
    assert_eq!(
        commit(store, &k, 1, &record(2, None), idle(2_000), None).await,
        Committed::Done(2),
        "commit with a longer idle timeout failed"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        touch(store, &k, Some(2)).await,
        Touched::Unchanged,
        "a commit with a 2 s idle timeout must keep the record past its creation's 300 ms"
    );
    assert_eq!(
        commit(store, &k, 2, &record(3, None), idle(300), None).await,
        Committed::Done(3),
        "commit with a shorter idle timeout failed"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        touch(store, &k, Some(3)).await,
        Touched::Gone,
        "a commit with a 300 ms idle timeout must end the record 700 ms later"
    );
}
