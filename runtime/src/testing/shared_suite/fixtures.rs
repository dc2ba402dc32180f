//! Keys, users, records, lifetimes and call helpers shared by the groups of
//! [`shared_store_suite`](super::shared_store_suite).

use crate::store::{
    Committed, Lifetime, SessionData, SessionKey, SessionRecord, SessionStore, Touched,
};
use serde_json::json;

/// A lifetime no check outlives.
pub(super) const LONG: Lifetime = Lifetime {
    idle_ms: Some(60_000),
    absolute_ms: None,
};

pub(super) fn idle(ms: u64) -> Lifetime {
    Lifetime {
        idle_ms: Some(ms),
        absolute_ms: None,
    }
}

/// 128 random bits in hex: keys and user names unique to one call.
fn random() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn fresh_key(label: &str) -> SessionKey {
    SessionKey::of_id(&format!("shared-suite/{label}/{}", random()))
}

pub(super) fn fresh_user(label: &str) -> String {
    format!("{label}-{}@example.com", random())
}

pub(super) fn record(n: u64, user: Option<&str>) -> SessionRecord {
    let mut data = SessionData::new();
    data.insert("n".to_owned(), json!(n));
    data.insert(
        "nested".to_owned(),
        json!({"list": [1, "two", null, {"three": 3.5}]}),
    );
    SessionRecord {
        data,
        user: user.map(str::to_owned),
        created_at_ms: 1_700_000_000_000,
        ..SessionRecord::default()
    }
}

pub(super) fn counter(record: &SessionRecord) -> u64 {
    record
        .data
        .get("n")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("the record lost its counter: {record:?}"))
}

pub(super) async fn create<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    record: &SessionRecord,
    lifetime: Lifetime,
) {
    let version = store
        .create_shared(key, record, lifetime)
        .await
        .expect("create_shared() of a new key failed");
    assert_eq!(version, 1, "create_shared must answer version 1");
}

pub(super) async fn touch<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    known: Option<u64>,
) -> Touched {
    store.touch(key, known).await.expect("touch() failed")
}

pub(super) async fn commit<S: SessionStore>(
    store: &S,
    key: &SessionKey,
    expected: u64,
    record: &SessionRecord,
    lifetime: Lifetime,
    new_user: Option<&str>,
) -> Committed {
    store
        .commit(key, expected, record, lifetime, new_user)
        .await
        .expect("commit() failed")
}

pub(super) async fn count<S: SessionStore>(store: &S) -> u64 {
    store.count().await.expect("count() failed")
}

pub(super) async fn users<S: SessionStore>(store: &S, user: &str) -> Vec<SessionKey> {
    let mut keys = store
        .keys_for_user(user)
        .await
        .expect("keys_for_user() failed");
    keys.sort();
    keys
}

pub(super) fn sorted(mut keys: Vec<SessionKey>) -> Vec<SessionKey> {
    keys.sort();
    keys
}
