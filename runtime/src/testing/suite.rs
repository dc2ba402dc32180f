//! The behaviour suite of stores that keep their records until
//! `remove_expired` (memory, sled).

use crate::store::{CookieOverrides, SessionKey, SessionRecord, SessionStore, StoreError};
use serde_json::json;
use std::collections::BTreeMap;

/// Runs the shared store behaviour suite, panicking with a descriptive message
/// on the first violation.
///
/// `make` must return a new, empty store each time it is called; every group
/// of checks runs on its own store. The suite covers: absent keys; `create`
/// then `load` round-tripping nested JSON data, user, expiry, deadline and
/// cookie overrides; `create` refusing an existing key; `save` upserting;
/// `delete` returning true then false; `keys_for_user` following re-saves and
/// deletes; `remove_expired` removing only due records (sweep times are
/// whole seconds, so stores with a 1 s expiry index pass too), honouring `skip` and
/// `limit`, and sparing records re-saved with a later expiry; `count`
/// following all of it; concurrent writes; `flush`.
///
/// It is for stores that keep every record until
/// [`remove_expired`](SessionStore::remove_expired) sweeps it, whatever its
/// `expires_at_ms` says: its records expire in 1970. A shared store
/// ([`SessionStore::is_shared`]) expires records by its own clock and keeps
/// tombstones; it passes [`shared_store_suite`](super::shared_store_suite)
/// instead.
pub async fn store_suite<S: SessionStore>(make: impl Fn() -> S) {
    absent_keys(&make()).await;
    round_trip(&make()).await;
    create_refuses_existing_key(&make()).await;
    save_upserts(&make()).await;
    delete_reports_existence(&make()).await;
    keys_for_user_follows_records(&make()).await;
    remove_expired_removes_only_due_records(&make()).await;
    remove_expired_honours_limit(&make()).await;
    remove_expired_follows_resaves(&make()).await;
    concurrent_writes(&make()).await;
}

fn key(name: &str) -> SessionKey {
    SessionKey::of_id(&format!("store-suite/{name}"))
}

fn sorted(mut keys: Vec<SessionKey>) -> Vec<SessionKey> {
    keys.sort();
    keys
}

fn record(user: Option<&str>, expires_at_ms: Option<u64>) -> SessionRecord {
    let mut data = BTreeMap::new();
    data.insert("n".to_owned(), json!(1));
    SessionRecord {
        data,
        user: user.map(str::to_owned),
        created_at_ms: 1_000,
        expires_at_ms,
        ..SessionRecord::default()
    }
}

/// A record using every field, with awkward JSON values.
fn rich_record() -> SessionRecord {
    let mut data = BTreeMap::new();
    data.insert(
        "cart".to_owned(),
        json!({
            "items": [
                {"sku": "a-1", "qty": 2, "price": 19.99},
                {"sku": "b", "qty": 1, "tags": []}
            ],
            "coupon": null,
            "meta": {"nested": {"deeper": [true, false, null, "x", {"k": [[], {}]}]}}
        }),
    );
    data.insert("u64_max".to_owned(), json!(u64::MAX));
    data.insert("i64_min".to_owned(), json!(i64::MIN));
    data.insert("float".to_owned(), json!(-0.5));
    data.insert("null".to_owned(), serde_json::Value::Null);
    data.insert("unicode".to_owned(), json!("héllo ✓ 🍪 \u{0}"));
    data.insert("empty_object".to_owned(), json!({}));
    data.insert("".to_owned(), json!("empty key"));
    SessionRecord {
        data,
        user: Some("alice@example.com".to_owned()),
        created_at_ms: 1_700_000_000_000,
        expires_at_ms: Some(1_700_000_600_000),
        absolute_deadline_ms: Some(1_700_086_400_000),
        cookie: CookieOverrides {
            max_age_ms: Some(600_000),
            http_only: Some(false),
            secure: Some(crate::Secure::Auto),
            same_site: Some(crate::SameSite::Strict),
            domain: Some("example.com".to_owned()),
            partitioned: Some(true),
        },
    }
}

async fn count<S: SessionStore>(store: &S) -> u64 {
    store.count().await.expect("count() failed")
}

async fn load<S: SessionStore>(store: &S, k: &SessionKey) -> Option<SessionRecord> {
    store.load(k).await.expect("load() failed")
}

async fn users<S: SessionStore>(store: &S, user: &str) -> Vec<SessionKey> {
    sorted(
        store
            .keys_for_user(user)
            .await
            .expect("keys_for_user() failed"),
    )
}

fn never(_: &SessionKey) -> bool {
    false
}

async fn absent_keys<S: SessionStore>(store: &S) {
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

async fn round_trip<S: SessionStore>(store: &S) {
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

async fn create_refuses_existing_key<S: SessionStore>(store: &S) {
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

async fn save_upserts<S: SessionStore>(store: &S) {
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

async fn delete_reports_existence<S: SessionStore>(store: &S) {
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

async fn keys_for_user_follows_records<S: SessionStore>(store: &S) {
    let (a1, a2, b1, none, alicex) = (key("a1"), key("a2"), key("b1"), key("none"), key("alicex"));
    // An already-expired but unswept record still counts.
    store
        .create(&a1, &record(Some("alice"), Some(1)))
        .await
        .expect("create() failed");
    store
        .create(&a2, &record(Some("alice"), None))
        .await
        .expect("create() failed");
    store
        .save(&b1, &record(Some("bob"), Some(50_000)))
        .await
        .expect("save() failed");
    store
        .create(&none, &record(None, None))
        .await
        .expect("create() failed");
    store
        .create(&alicex, &record(Some("alicex"), None))
        .await
        .expect("create() failed");

    assert_eq!(
        users(store, "alice").await,
        sorted(vec![a1, a2]),
        "keys_for_user must return exactly the user's sessions (expired ones included)"
    );
    assert_eq!(users(store, "bob").await, vec![b1], "keys_for_user(bob)");
    assert_eq!(
        users(store, "alicex").await,
        vec![alicex],
        "keys_for_user(alicex)"
    );
    assert!(
        users(store, "ali").await.is_empty(),
        "a user name prefix must not match"
    );
    assert!(
        users(store, "").await.is_empty(),
        "the empty user must not match anything"
    );

    store
        .save(&a2, &record(Some("bob"), None))
        .await
        .expect("save() failed");
    assert_eq!(
        users(store, "alice").await,
        vec![a1],
        "a re-save changing the user must leave the old user"
    );
    assert_eq!(
        users(store, "bob").await,
        sorted(vec![a2, b1]),
        "...and join the new one"
    );

    store
        .save(&a1, &record(None, Some(1)))
        .await
        .expect("save() failed");
    assert!(
        users(store, "alice").await.is_empty(),
        "a re-save removing the user must unindex it"
    );

    assert!(store.delete(&b1).await.expect("delete() failed"));
    assert_eq!(
        users(store, "bob").await,
        vec![a2],
        "keys_for_user after delete"
    );

    store
        .save(&a1, &record(Some("alice"), Some(1)))
        .await
        .expect("save() failed");
    assert_eq!(
        users(store, "alice").await,
        vec![a1],
        "re-binding a user must index it again"
    );
    assert_eq!(count(store).await, 4, "count after the user changes");
}

async fn remove_expired_removes_only_due_records<S: SessionStore>(store: &S) {
    let now = 1_000_000;
    let early = key("early");
    let boundary = key("boundary");
    let later = key("later");
    let never_expires = key("never-expires");
    let protected = key("protected");
    store
        .create(&early, &record(Some("dave"), Some(now - 500)))
        .await
        .expect("create() failed");
    store
        .create(&boundary, &record(None, Some(now)))
        .await
        .expect("create() failed");
    store
        .create(&later, &record(Some("dave"), Some(now + 1)))
        .await
        .expect("create() failed");
    store
        .create(&never_expires, &record(None, None))
        .await
        .expect("create() failed");
    store
        .create(&protected, &record(None, Some(1)))
        .await
        .expect("create() failed");
    assert_eq!(count(store).await, 5, "count before the sweep");

    let skip = move |k: &SessionKey| *k == protected;
    let removed = store
        .remove_expired(now, 100, &skip)
        .await
        .expect("remove_expired() failed");
    assert_eq!(
        removed, 2,
        "must remove exactly the due, unskipped records (expires_at_ms <= now)"
    );
    assert_eq!(
        load(store, &early).await,
        None,
        "a record due before now must be removed"
    );
    assert_eq!(
        load(store, &boundary).await,
        None,
        "a record due exactly at now must be removed"
    );
    assert!(
        load(store, &later).await.is_some(),
        "a record due after now must stay"
    );
    assert!(
        load(store, &never_expires).await.is_some(),
        "a record without expiry must stay"
    );
    assert!(
        load(store, &protected).await.is_some(),
        "a skipped record must stay"
    );
    assert_eq!(count(store).await, 3, "count must follow remove_expired");
    assert_eq!(
        users(store, "dave").await,
        vec![later],
        "removed records must leave keys_for_user"
    );

    let removed = store
        .remove_expired(now, 100, &never)
        .await
        .expect("remove_expired() failed");
    assert_eq!(
        removed, 1,
        "the formerly skipped record is due and must go now"
    );
    assert_eq!(
        load(store, &protected).await,
        None,
        "no longer skipped, the record must be removed"
    );
    assert_eq!(
        store
            .remove_expired(now, 100, &never)
            .await
            .expect("remove_expired() failed"),
        0,
        "a second sweep at the same time must find nothing"
    );
    assert_eq!(
        store
            .remove_expired(u64::MAX, 100, &never)
            .await
            .expect("remove_expired() failed"),
        1,
        "at the end of time only the record without expiry must stay"
    );
    assert_eq!(count(store).await, 1, "count after the final sweep");
    assert!(
        load(store, &never_expires).await.is_some(),
        "a record without expiry never expires"
    );
}

async fn remove_expired_honours_limit<S: SessionStore>(store: &S) {
    for i in 0..5u64 {
        store
            .create(&key(&format!("limit-{i}")), &record(None, Some(100 + i)))
            .await
            .expect("create() failed");
    }
    assert_eq!(
        store
            .remove_expired(1_000, 0, &never)
            .await
            .expect("remove_expired() failed"),
        0,
        "limit 0 must remove nothing"
    );
    assert_eq!(
        store
            .remove_expired(1_000, 2, &never)
            .await
            .expect("remove_expired() failed"),
        2,
        "limit 2 must remove exactly 2 of 5 due records"
    );
    assert_eq!(count(store).await, 3, "count after a limited sweep");
    assert_eq!(
        store
            .remove_expired(1_000, 10, &never)
            .await
            .expect("remove_expired() failed"),
        3,
        "the next sweep must remove the remaining 3"
    );
    assert_eq!(count(store).await, 0, "count after all are swept");
}

async fn remove_expired_follows_resaves<S: SessionStore>(store: &S) {
    let now = 50_000;
    let extended = key("extended");
    let shortened = key("shortened");
    let made_permanent = key("made-permanent");
    store
        .create(&extended, &record(Some("erin"), Some(now - 10)))
        .await
        .expect("create() failed");
    store
        .create(&shortened, &record(Some("erin"), Some(now + 10_000)))
        .await
        .expect("create() failed");
    store
        .create(&made_permanent, &record(None, Some(now - 10)))
        .await
        .expect("create() failed");

    let renewed = record(Some("erin"), Some(now + 60_000));
    store
        .save(&extended, &renewed)
        .await
        .expect("save() failed");
    store
        .save(&shortened, &record(Some("erin"), Some(now - 1)))
        .await
        .expect("save() failed");
    store
        .save(&made_permanent, &record(None, None))
        .await
        .expect("save() failed");

    let removed = store
        .remove_expired(now, 100, &never)
        .await
        .expect("remove_expired() failed");
    assert_eq!(
        removed, 1,
        "only the record re-saved with an earlier expiry is due"
    );
    assert_eq!(
        load(store, &extended).await,
        Some(renewed),
        "a record re-saved with a later expiry must survive the sweep"
    );
    assert_eq!(
        load(store, &shortened).await,
        None,
        "a record re-saved with an earlier expiry must be swept"
    );
    assert!(
        load(store, &made_permanent).await.is_some(),
        "a record re-saved without expiry must survive"
    );
    assert_eq!(
        users(store, "erin").await,
        vec![extended],
        "the user index after the sweep"
    );
    assert_eq!(count(store).await, 2, "count after the sweep");
    assert_eq!(
        store
            .remove_expired(now + 60_000, 100, &never)
            .await
            .expect("remove_expired() failed"),
        1,
        "the renewed record expires at its new time"
    );
    assert_eq!(count(store).await, 1, "count after the second sweep");
}

async fn concurrent_writes<S: SessionStore>(store: &S) {
    let keys: Vec<SessionKey> = (0..64).map(|i| key(&format!("concurrent-{i}"))).collect();
    let rec = record(Some("frank"), Some(10));
    let results = futures::future::join_all(keys.iter().enumerate().map(|(i, k)| {
        let rec = &rec;
        async move {
            if i % 2 == 0 {
                store.create(k, rec).await?;
            } else {
                store.save(k, rec).await?;
            }
            store.flush().await
        }
    }))
    .await;
    for r in results {
        r.expect("concurrent create/save + flush failed");
    }
    assert_eq!(count(store).await, 64, "count after 64 concurrent writes");
    assert_eq!(
        users(store, "frank").await,
        sorted(keys.clone()),
        "user index after concurrent writes"
    );
    let deleted = futures::future::join_all(keys.iter().step_by(2).map(|k| store.delete(k))).await;
    assert!(
        deleted.into_iter().all(|r| matches!(r, Ok(true))),
        "concurrent deletes of existing keys must all return true"
    );
    assert_eq!(count(store).await, 32, "count after 32 concurrent deletes");
    assert_eq!(
        store
            .remove_expired(1_000, 100, &never)
            .await
            .expect("remove_expired() failed"),
        32,
        "the remaining 32 must be swept"
    );
    assert_eq!(count(store).await, 0, "count after the sweep");
}
