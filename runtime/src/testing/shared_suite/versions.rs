//! Versions and compare-and-set: `create_shared`, `touch`, `commit`, and a
//! commit that never creates.

use super::fixtures::{commit, count, create, fresh_key, record, touch, LONG};
use crate::store::{Committed, SessionStore, StoreError, Touched, Versioned};

pub(super) async fn versions_and_compare_and_set<S: SessionStore>(store: &S) {
    let k = fresh_key("cas");
    assert_eq!(
        touch(store, &k, None).await,
        Touched::Gone,
        "touch of a key never created must be Gone"
    );
    let v1 = record(1, None);
    create(store, &k, &v1, LONG).await;
    let again = store.create_shared(&k, &record(99, None), LONG).await;
    assert!(
        matches!(again, Err(StoreError::AlreadyExists)),
        "create_shared of an existing key must fail with AlreadyExists, got {again:?}"
    );
    assert_eq!(
        touch(store, &k, None).await,
        Touched::Changed(Versioned {
            version: 1,
            record: v1.clone()
        }),
        "touch(None) must answer the record at version 1 (and a refused create_shared must change nothing)"
    );
    assert_eq!(
        touch(store, &k, Some(1)).await,
        Touched::Unchanged,
        "touch at the current version must be Unchanged"
    );
    assert_eq!(
        store.load(&k).await.expect("load() failed"),
        Some(v1.clone()),
        "load must return the live record"
    );

    let v2 = record(2, None);
    assert_eq!(
        commit(store, &k, 1, &v2, LONG, None).await,
        Committed::Done(2),
        "commit at the current version must answer the next version"
    );
    let stale = record(3, None);
    assert_eq!(
        commit(store, &k, 1, &stale, LONG, None).await,
        Committed::Conflict(Versioned {
            version: 2,
            record: v2.clone()
        }),
        "commit at an old version must answer Conflict with what the store holds"
    );
    assert_eq!(
        touch(store, &k, Some(1)).await,
        Touched::Changed(Versioned {
            version: 2,
            record: v2.clone()
        }),
        "touch at an old version must answer the current record (and a conflicting commit must write nothing)"
    );
    assert_eq!(
        touch(store, &k, Some(2)).await,
        Touched::Unchanged,
        "touch at the committed version must be Unchanged"
    );
    assert_eq!(
        touch(store, &k, Some(7)).await,
        Touched::Changed(Versioned {
            version: 2,
            record: v2.clone()
        }),
        "touch at a version the store never had must answer the current record"
    );
    assert_eq!(
        store.load(&k).await.expect("load() failed"),
        Some(v2),
        "load must return the committed record"
    );
}

pub(super) async fn commit_never_creates<S: SessionStore>(store: &S) {
    let k = fresh_key("absent");
    let before = count(store).await;
    assert_eq!(
        commit(store, &k, 1, &record(1, None), LONG, None).await,
        Committed::Gone,
        "commit of an absent key must be Gone"
    );
    assert_eq!(
        touch(store, &k, None).await,
        Touched::Gone,
        "a commit of an absent key must not create it"
    );
    assert_eq!(
        store.load(&k).await.expect("load() failed"),
        None,
        "a commit of an absent key must not create a loadable record"
    );
    assert_eq!(
        count(store).await,
        before,
        "a commit of an absent key must not change count"
    );
    assert!(
        !store.delete(&k).await.expect("delete() failed"),
        "delete of an absent key must return false"
    );
}
