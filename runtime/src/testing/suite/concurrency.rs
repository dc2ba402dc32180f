//! Concurrent creates, saves, flushes and deletes.

use super::fixtures::{count, key, never, record, sorted, users};
use crate::store::{SessionKey, SessionStore};

pub(super) async fn concurrent_writes<S: SessionStore>(store: &S) {
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
