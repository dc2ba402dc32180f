//! Records: absent keys, round trips, `create` refusing an existing key,
//! `save` upserting, `delete` reporting existence.

use super::fixtures::{count, key, load, never, record, rich_record, users};
use crate::store::{SessionRecord, SessionStore, StoreError};
use serde_json::json;

pub(super) async fn absent_keys<S: SessionStore>(store: &S) {
    let k = key("absent");
    assert_eq!(
        load(store, &k).await,
        None,
        "load of an absent key must be None"
    );
    assert_eq!(count(store).await, 0, "a new store must be empty");
    assert!(
        !store.delete(&k).await.expect("delete() failed"),
        "delete of an absent key must return false"
    );
    assert!(
        users(store, "nobody").await.is_empty(),
        "keys_for_user of an unknown user must be empty"
    );
    assert_eq!(
        store
            .remove_expired(u64::MAX, 100, &never)
            .await
            .expect("remove_expired() failed"),
        0,
        "remove_expired on an empty store must remove nothing"
    );
    store
        .flush()
        .await
        .expect("flush() on an empty store failed");
}

pub(super) async fn round_trip<S: SessionStore>(store: &S) {
    let rich = rich_record();
    let k = key("rich");
    store.create(&k, &rich).await.expect("create() failed");
    assert_eq!(
        load(store, &k).await.as_ref(),
        Some(&rich),
        "create then load must round-trip every field, including nested JSON values"
    );

    let plain = SessionRecord::default();
    let k2 = key("plain");
    store.create(&k2, &plain).await.expect("create() failed");
    assert_eq!(
        load(store, &k2).await.as_ref(),
        Some(&plain),
        "a default record (no user, no expiry, no data) must round-trip"
    );
    assert_eq!(count(store).await, 2, "count after two creates");
    store.flush().await.expect("flush() failed");
}

pub(super) async fn create_refuses_existing_key<S: SessionStore>(store: &S) {
    let k = key("taken");
    let first = record(Some("alice"), Some(5_000));
    store.create(&k, &first).await.expect("create() failed");
    let second = record(Some("mallory"), Some(9_000));
    let err = store.create(&k, &second).await;
    assert!(
        matches!(err, Err(StoreError::AlreadyExists)),
        "create on an existing key must fail with AlreadyExists, got {err:?}"
    );
    assert_eq!(
        load(store, &k).await,
        Some(first),
        "a refused create must leave the existing record untouched"
    );
    assert_eq!(
        count(store).await,
        1,
        "a refused create must not change count"
    );
    assert_eq!(
        users(store, "alice").await,
        vec![k],
        "a refused create must keep the user index"
    );
    assert!(
        users(store, "mallory").await.is_empty(),
        "a refused create must not index its user"
    );
    assert_eq!(
        store
            .remove_expired(6_000, 100, &never)
            .await
            .expect("remove_expired() failed"),
        1,
        "a refused create must keep the existing record's expiry index"
    );
}

pub(super) async fn save_upserts<S: SessionStore>(store: &S) {
    let k = key("upsert");
    let v1 = record(None, Some(10_000));
    store
        .save(&k, &v1)
        .await
        .expect("save() of a new key failed");
    assert_eq!(
        load(store, &k).await.as_ref(),
        Some(&v1),
        "save must insert a new record"
    );
    assert_eq!(
        count(store).await,
        1,
        "save of a new key must increase count"
    );

    let mut v2 = record(Some("bob"), Some(20_000));
    v2.data.insert("added".to_owned(), json!({"x": [1, 2, 3]}));
    store
        .save(&k, &v2)
        .await
        .expect("save() of an existing key failed");
    assert_eq!(
        load(store, &k).await.as_ref(),
        Some(&v2),
        "save must replace the record"
    );
    assert_eq!(
        count(store).await,
        1,
        "save of an existing key must not change count"
    );

    store.save(&k, &v2).await.expect("identical re-save failed");
    assert_eq!(
        count(store).await,
        1,
        "an identical re-save must not change count"
    );

    let created = key("created-then-saved");
    store.create(&created, &v1).await.expect("create() failed");
    store
        .save(&created, &v2)
        .await
        .expect("save() after create failed");
    assert_eq!(
        load(store, &created).await,
        Some(v2),
        "save after create must replace"
    );
    assert_eq!(count(store).await, 2, "count after create + saves");
    store.flush().await.expect("flush() failed");
}

pub(super) async fn delete_reports_existence<S: SessionStore>(store: &S) {
    let k = key("deleted");
    let other = key("kept");
    store
        .create(&k, &record(Some("carol"), Some(5_000)))
        .await
        .expect("create() failed");
    store
        .create(&other, &record(None, None))
        .await
        .expect("create() failed");
    assert!(
        store.delete(&k).await.expect("delete() failed"),
        "first delete must return true"
    );
    assert!(
        !store.delete(&k).await.expect("delete() failed"),
        "second delete must return false"
    );
    assert_eq!(
        load(store, &k).await,
        None,
        "a deleted record must not load"
    );
    assert!(
        load(store, &other).await.is_some(),
        "delete must not touch other records"
    );
    assert_eq!(count(store).await, 1, "count after delete");
    assert!(
        users(store, "carol").await.is_empty(),
        "delete must drop the user index entry"
    );
    assert_eq!(
        store
            .remove_expired(u64::MAX, 100, &never)
            .await
            .expect("remove_expired() failed"),
        0,
        "a deleted record must not be removed (or counted) again by remove_expired"
    );
    store
        .create(&k, &record(None, None))
        .await
        .expect("create after delete must succeed");
    assert_eq!(count(store).await, 2, "count after re-create");
}
