//! The contract of a store shared by several processes: versions,
//! compare-and-set, tombstones, expiry by the store's own clock.

use crate::store::{
    Committed, Lifetime, SessionKey, SessionRecord, SessionStore, StoreError, Touched, Versioned,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs the shared-store contract suite against a store whose
/// [`is_shared`](SessionStore::is_shared) is true, panicking with a
/// descriptive message on the first violation.
///
/// Every group of checks runs on a store of its own from `make`. The suite
/// uses keys and user names that are random per call and measures counts as
/// differences, so `make` may return handles on one backend (a Redis server
/// shared by the test) as long as nothing else writes to it meanwhile.
///
/// It checks: `create_shared` answering version 1 and then
/// [`StoreError::AlreadyExists`]; `touch` answering `Changed` with the record
/// for an unknown version, `Unchanged` for the current one and `Gone` for an
/// absent key; `commit` with the current version answering `Done` with the
/// next one, with an old version `Conflict` with what the store holds, and on
/// an absent key `Gone` without creating it; `delete` leaving a tombstone
/// (`touch` and `commit` then answer `Gone`, `create_shared` of the same key
/// `AlreadyExists`, a second `delete` false); `end` doing the same with
/// `touch` answering `Ended` and how long ago; `keys_for_user` finding sessions
/// bound by `create_shared` and by `commit(new_user)` and dropping deleted
/// ones; `count` counting live records and not deleted ones; expiry by the
/// store's clock with real sleeps of a few hundred milliseconds (idle
/// timeouts extended by `touch`, absolute ends that touches and commits do
/// not extend, commits moving the idle timeout); and 32 tasks incrementing a
/// counter through `touch` + `commit` retry loops without losing an update.
/// It takes about four seconds, most of it sleeping.
///
/// ```
/// use livesession::store::SessionStore;
///
/// // In a backend's tests, with a fresh store (or a handle on one) per call:
/// async fn check<S: SessionStore>(make: impl Fn() -> S) {
///     livesession::testing::shared_store_suite(make).await;
/// }
/// ```
pub async fn shared_store_suite<S: SessionStore>(make: impl Fn() -> S) {
    let store = make();
    assert!(
        store.is_shared(),
        "shared_store_suite needs a store whose is_shared() is true"
    );
    versions_and_compare_and_set(&store).await;
    commit_never_creates(&make()).await;
    delete_leaves_a_tombstone(&make()).await;
    end_remembers_when(&make()).await;
    keys_for_user_follows_bindings(&make()).await;
    count_follows_live_records(&make()).await;
    concurrent_read_modify_commit(Arc::new(make())).await;
    let (a, b, c) = (make(), make(), make());
    tokio::join!(
        idle_expiry(&a),
        absolute_expiry(&b),
        commit_moves_the_idle_timeout(&c),
    );
}

/// A lifetime no check outlives.
const LONG: Lifetime = Lifetime {
    idle_ms: Some(60_000),
    absolute_ms: None,
};

fn idle(ms: u64) -> Lifetime {
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

fn fresh_key(label: &str) -> SessionKey {
    SessionKey::of_id(&format!("shared-suite/{label}/{}", random()))
}

fn fresh_user(label: &str) -> String {
    format!("{label}-{}@example.com", random())
}

fn record(n: u64, user: Option<&str>) -> SessionRecord {
    let mut data = BTreeMap::new();
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

fn counter(record: &SessionRecord) -> u64 {
    record
        .data
        .get("n")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or_else(|| panic!("the record lost its counter: {record:?}"))
}

async fn create<S: SessionStore>(
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

async fn touch<S: SessionStore>(store: &S, key: &SessionKey, known: Option<u64>) -> Touched {
    store.touch(key, known).await.expect("touch() failed")
}

async fn commit<S: SessionStore>(
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

async fn count<S: SessionStore>(store: &S) -> u64 {
    store.count().await.expect("count() failed")
}

async fn users<S: SessionStore>(store: &S, user: &str) -> Vec<SessionKey> {
    let mut keys = store
        .keys_for_user(user)
        .await
        .expect("keys_for_user() failed");
    keys.sort();
    keys
}

fn sorted(mut keys: Vec<SessionKey>) -> Vec<SessionKey> {
    keys.sort();
    keys
}

async fn versions_and_compare_and_set<S: SessionStore>(store: &S) {
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

async fn commit_never_creates<S: SessionStore>(store: &S) {
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

async fn delete_leaves_a_tombstone<S: SessionStore>(store: &S) {
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

async fn end_remembers_when<S: SessionStore>(store: &S) {
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

async fn keys_for_user_follows_bindings<S: SessionStore>(store: &S) {
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

async fn count_follows_live_records<S: SessionStore>(store: &S) {
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

async fn concurrent_read_modify_commit<S: SessionStore>(store: Arc<S>) {
    const TASKS: u64 = 32;
    let k = fresh_key("concurrent");
    create(&*store, &k, &record(0, None), LONG).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut base = match touch(&*store, &k, None).await {
                    Touched::Changed(current) => current,
                    other => panic!("touch(None) of a live record must be Changed, got {other:?}"),
                };
                for _ in 0..10_000 {
                    let mut next = base.record.clone();
                    next.data
                        .insert("n".to_owned(), json!(counter(&base.record) + 1));
                    match commit(&*store, &k, base.version, &next, LONG, None).await {
                        Committed::Done(version) => {
                            assert!(
                                version > base.version,
                                "Done must answer a version above the expected one"
                            );
                            return;
                        }
                        Committed::Conflict(current) => {
                            assert!(
                                current.version > base.version,
                                "a conflict must answer a newer version than the expected one"
                            );
                            base = current;
                        }
                        Committed::Gone => panic!("a live record's commit answered Gone"),
                    }
                }
                panic!("a read-modify-commit loop did not land in 10000 tries");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a read-modify-commit task panicked");
    }
    match touch(&*store, &k, None).await {
        Touched::Changed(last) => {
            assert_eq!(
                counter(&last.record),
                TASKS,
                "every concurrent increment must land exactly once"
            );
            assert_eq!(
                last.version,
                TASKS + 1,
                "the version must count the create and every commit"
            );
        }
        other => panic!("touch(None) after the increments must be Changed, got {other:?}"),
    }
}

/// Touches `k` every 100 ms for `for_ms` after `start`, asserting each touch
/// finds it at `version`.
async fn keep_touching<S: SessionStore>(
    store: &S,
    k: &SessionKey,
    version: u64,
    start: Instant,
    for_ms: u64,
    what: &str,
) {
    while start.elapsed() < Duration::from_millis(for_ms) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let answer = touch(store, k, Some(version)).await;
        assert_eq!(
            answer,
            Touched::Unchanged,
            "{what}: a touch {:?} after the start must find the record",
            start.elapsed()
        );
    }
}

async fn idle_expiry<S: SessionStore>(store: &S) {
    let k = fresh_key("idle");
    let start = Instant::now();
    create(store, &k, &record(1, None), idle(300)).await;
    keep_touching(
        store,
        &k,
        1,
        start,
        900,
        "idle timeout 300 ms, touched every 100 ms",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        touch(store, &k, Some(1)).await,
        Touched::Gone,
        "a record with a 300 ms idle timeout must be Gone 700 ms after its last touch"
    );
    assert_eq!(
        commit(store, &k, 1, &record(2, None), idle(300), None).await,
        Committed::Gone,
        "commit of an expired record must be Gone"
    );
}

async fn absolute_expiry<S: SessionStore>(store: &S) {
    let k = fresh_key("absolute");
    let lifetime = Lifetime {
        idle_ms: Some(10_000),
        absolute_ms: Some(500),
    };
    let start = Instant::now();
    create(store, &k, &record(1, None), lifetime).await;
    keep_touching(
        store,
        &k,
        1,
        start,
        200,
        "absolute timeout 500 ms, before it",
    )
    .await;
    assert_eq!(
        commit(store, &k, 1, &record(2, None), idle(10_000), None).await,
        Committed::Done(2),
        "commit before the absolute end failed"
    );
    while start.elapsed() < Duration::from_millis(700) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if start.elapsed() < Duration::from_millis(400) {
            assert_eq!(
                touch(store, &k, Some(2)).await,
                Touched::Unchanged,
                "a touch {:?} after creation must find a record with a 500 ms absolute timeout",
                start.elapsed()
            );
        } else {
            // Near the end: touch it (it may already be gone) without judging.
            let _ = touch(store, &k, Some(2)).await;
        }
    }
    assert_eq!(
        touch(store, &k, Some(2)).await,
        Touched::Gone,
        "a record must be Gone after its absolute end (500 ms) despite touches, a 10 s idle timeout and a commit"
    );
}

async fn commit_moves_the_idle_timeout<S: SessionStore>(store: &S) {
    let k = fresh_key("idle-moved");
    create(store, &k, &record(1, None), idle(300)).await;
    assert_eq!(
        commit(store, &k, 1, &record(2, None), idle(2_000), None).await,
        Committed::Done(2),
        "commit with a longer idle timeout failed"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        touch(store, &k, Some(2)).await,
        Touched::Unchanged,
        "a commit with a 2 s idle timeout must keep the record past its creation's 300 ms"
    );
    assert_eq!(
        commit(store, &k, 2, &record(3, None), idle(300), None).await,
        Committed::Done(3),
        "commit with a shorter idle timeout failed"
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        touch(store, &k, Some(3)).await,
        Touched::Gone,
        "a commit with a 300 ms idle timeout must end the record 700 ms later"
    );
}
