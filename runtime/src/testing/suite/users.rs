//! The user index: `keys_for_user` following creates, re-saves and deletes.

use super::fixtures::{count, key, record, sorted, users};
use crate::store::SessionStore;

pub(super) async fn keys_for_user_follows_records<S: SessionStore>(store: &S) {
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
