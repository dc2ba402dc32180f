//! The user index and the count: `keys_for_user` following bindings,
//! `count` following live records.

use super::fixtures::{commit, count, create, fresh_key, fresh_user, record, sorted, users, LONG};
use crate::store::{Committed, SessionStore};

pub(super) async fn keys_for_user_follows_bindings<S: SessionStore>(store: &S) {
    let alice = fresh_user("alice");
    let bob = fresh_user("bob");
    let (created, committed, bobs, unbound) = (
        fresh_key("bound-by-create"),
        fresh_key("bound-by-commit"),
        fresh_key("bob"),
        fresh_key("unbound"),
    );
    assert!(
        users(store, &alice).await.is_empty(),
        "keys_for_user of an unknown user must be empty"
    );
    create(store, &created, &record(1, Some(&alice)), LONG).await;
    create(store, &committed, &record(1, None), LONG).await;
    create(store, &bobs, &record(1, Some(&bob)), LONG).await;
    create(store, &unbound, &record(1, None), LONG).await;
    assert_eq!(
        users(store, &alice).await,
        vec![created],
        "keys_for_user must find a session bound by create_shared (record.user)"
    );

    assert_eq!(
        commit(
            store,
            &committed,
            1,
            &record(2, Some(&alice)),
            LONG,
            Some(&alice)
        )
        .await,
        Committed::Done(2),
        "commit binding a user failed"
    );
    assert_eq!(
        users(store, &alice).await,
        sorted(vec![created, committed]),
        "keys_for_user must find a session bound later by commit(new_user)"
    );
    assert_eq!(
        users(store, &bob).await,
        vec![bobs],
        "keys_for_user must return only the user's own sessions"
    );

    assert!(store.delete(&created).await.expect("delete() failed"));
    assert_eq!(
        users(store, &alice).await,
        vec![committed],
        "keys_for_user must drop a deleted session"
    );
    assert!(store.delete(&committed).await.expect("delete() failed"));
    assert!(
        users(store, &alice).await.is_empty(),
        "keys_for_user must be empty once every session of the user is deleted"
    );
}

pub(super) async fn count_follows_live_records<S: SessionStore>(store: &S) {
    let before = count(store).await;
    let keys = [
        fresh_key("count-0"),
        fresh_key("count-1"),
        fresh_key("count-2"),
    ];
    for k in &keys {
        create(store, k, &record(1, None), LONG).await;
    }
    assert_eq!(
        count(store).await,
        before + 3,
        "count must grow by the three records created"
    );
    assert!(store.delete(&keys[1]).await.expect("delete() failed"));
    assert_eq!(
        count(store).await,
        before + 2,
        "count must not count a deleted record (its tombstone)"
    );
    assert_eq!(
        commit(store, &keys[0], 1, &record(2, None), LONG, None).await,
        Committed::Done(2),
        "commit failed"
    );
    assert!(!store.delete(&keys[1]).await.expect("delete() failed"));
    assert_eq!(
        count(store).await,
        before + 2,
        "a commit and a second delete must not change count"
    );
    store.flush().await.expect("flush() failed");
}
