//! Tombstones: `delete` and `end`, and no resurrection after them.

use super::fixtures::{commit, count, create, fresh_key, fresh_user, record, touch, users, LONG};
use crate::store::{Committed, SessionStore, StoreError, Touched};
use std::time::Duration;

pub(super) async fn delete_leaves_a_tombstone<S: SessionStore>(store: &S) {
    let k = fresh_key("tombstone");
    let other = fresh_key("tombstone-neighbour");
    create(store, &k, &record(1, None), LONG).await;
    create(store, &other, &record(5, None), LONG).await;
    assert!(
        store.delete(&k).await.expect("delete() failed"),
        "delete of a live record must return true"
    );
    assert_eq!(
        touch(store, &k, None).await,
        Touched::Gone,
        "touch of a deleted record must be Gone"
    );
    assert_eq!(
        touch(store, &k, Some(1)).await,
        Touched::Gone,
        "touch at the deleted record's version must be Gone"
    );
    assert_eq!(
        commit(store, &k, 1, &record(2, None), LONG, None).await,
        Committed::Gone,
        "commit of a deleted record must be Gone (no resurrection)"
    );
    let recreated = store.create_shared(&k, &record(3, None), LONG).await;
    assert!(
        matches!(recreated, Err(StoreError::AlreadyExists)),
        "create_shared of a deleted key must fail with AlreadyExists (its tombstone), got {recreated:?}"
    );
    assert_eq!(
        touch(store, &k, None).await,
        Touched::Gone,
        "a refused create_shared must not bring the deleted record back"
    );
    assert_eq!(
        store.load(&k).await.expect("load() failed"),
        None,
        "a deleted record must not load"
    );
    assert!(
        !store.delete(&k).await.expect("delete() failed"),
        "a second delete must return false"
    );
    assert_eq!(
        touch(store, &other, Some(1)).await,
        Touched::Unchanged,
        "delete must not touch other records"
    );
}

pub(super) async fn end_remembers_when<S: SessionStore>(store: &S) {
    let user = fresh_user("ended");
    let k = fresh_key("ended");
    let before = count(store).await;
    create(store, &k, &record(1, Some(&user)), LONG).await;
    assert!(
        store.end(&k).await.expect("end() failed"),
        "end of a live record must return true"
    );
    match touch(store, &k, None).await {
        Touched::Ended { ago_ms } => assert!(
            ago_ms < 5_000,
            "touch right after end must answer Ended a moment ago, got {ago_ms} ms"
        ),
        other => panic!("touch of an ended record must be Ended, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    match touch(store, &k, Some(1)).await {
        Touched::Ended { ago_ms } => assert!(
            (150..5_000).contains(&ago_ms),
            "touch 200 ms after end must answer Ended about 200 ms ago, got {ago_ms} ms"
        ),
        other => panic!("touch at the ended record's version must be Ended, got {other:?}"),
    }
    assert_eq!(
        commit(store, &k, 1, &record(2, Some(&user)), LONG, None).await,
        Committed::Gone,
        "commit of an ended record must be Gone (no resurrection)"
    );
    let recreated = store.create_shared(&k, &record(3, None), LONG).await;
    assert!(
        matches!(recreated, Err(StoreError::AlreadyExists)),
        "create_shared of an ended key must fail with AlreadyExists, got {recreated:?}"
    );
    assert!(
        !store.end(&k).await.expect("end() failed"),
        "a second end must return false"
    );
    assert!(
        !store.delete(&k).await.expect("delete() failed"),
        "delete of an ended record must return false"
    );
    assert_eq!(
        store.load(&k).await.expect("load() failed"),
        None,
        "an ended record must not load"
    );
    assert!(
        users(store, &user).await.is_empty(),
        "keys_for_user must drop an ended session"
    );
    assert_eq!(
        count(store).await,
        before,
        "count must not count an ended record"
    );
    assert!(
        !store.end(&fresh_key("never")).await.expect("end() failed"),
        "end of an absent key must return false"
    );
}
