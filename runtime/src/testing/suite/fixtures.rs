//! Keys, records and call helpers shared by the groups of
//! [`store_suite`](super::store_suite).

use crate::store::{CookieOverrides, SessionData, SessionKey, SessionRecord, SessionStore};
use serde_json::json;

pub(super) fn key(name: &str) -> SessionKey {
    SessionKey::of_id(&format!("store-suite/{name}"))
}

pub(super) fn sorted(mut keys: Vec<SessionKey>) -> Vec<SessionKey> {
    keys.sort();
    keys
}

pub(super) fn record(user: Option<&str>, expires_at_ms: Option<u64>) -> SessionRecord {
    let mut data = SessionData::new();
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
pub(super) fn rich_record() -> SessionRecord {
    let mut data = SessionData::new();
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
        cookie: Some(Box::new(CookieOverrides {
            max_age_ms: Some(600_000),
            http_only: Some(false),
            secure: Some(crate::Secure::Auto),
            same_site: Some(crate::SameSite::Strict),
            domain: Some("example.com".to_owned()),
            partitioned: Some(true),
        })),
    }
}

pub(super) async fn count<S: SessionStore>(store: &S) -> u64 {
    store.count().await.expect("count() failed")
}

pub(super) async fn load<S: SessionStore>(store: &S, k: &SessionKey) -> Option<SessionRecord> {
    store.load(k).await.expect("load() failed")
}

pub(super) async fn users<S: SessionStore>(store: &S, user: &str) -> Vec<SessionKey> {
    sorted(
        store
            .keys_for_user(user)
            .await
            .expect("keys_for_user() failed"),
    )
}

pub(super) fn never(_: &SessionKey) -> bool {
    false
}
