//! `remove_expired`: only due records, `skip` and `limit`, records re-saved
//! with another expiry.

use super::fixtures::{count, key, load, never, record, users};
use crate::store::{SessionKey, SessionStore};

pub(super) async fn remove_expired_removes_only_due_records<S: SessionStore>(store: &S) {
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

pub(super) async fn remove_expired_honours_limit<S: SessionStore>(store: &S) {
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

pub(super) async fn remove_expired_follows_resaves<S: SessionStore>(store: &S) {
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
