//! Several managers on one shared store, as several app servers on one
//! Redis: every guarantee holds across them. (`SharedMemoryStore` has the
//! shared-store contract; the Redis backend's tests run the same scenarios
//! against real servers.)

mod common;

use common::{config, increment_concurrently, new_session, pair, read_n, request, wait_until};
use livesession::clock::{Clock, ManualClock};
use livesession::store::{SessionStore, SharedMemoryStore};
use livesession::testing::{FaultyStore, Op};
use livesession::SessionManager;
use std::sync::Arc;
use std::time::Duration;

/// `count` managers ("nodes") sharing `store`.
fn nodes(store: &Arc<SharedMemoryStore>, count: usize) -> Vec<SessionManager> {
    (0..count).map(|_| node(store, config())).collect()
}

fn node(
    store: &Arc<SharedMemoryStore>,
    builder: livesession::SessionConfigBuilder,
) -> SessionManager {
    SessionManager::new(builder.store(store.clone()).build().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_through_three_nodes_lose_none() {
    let store = Arc::new(SharedMemoryStore::new());
    let nodes = nodes(&store, 3);
    let cookie = new_session(&nodes[0]).await; // n = 1
    increment_concurrently(&nodes, &cookie, 60).await;
    for node in nodes.iter() {
        assert_eq!(read_n(node, &cookie).await, Some(61), "every node reads 61");
    }
}

#[tokio::test]
async fn a_write_on_one_node_is_read_at_once_on_another() {
    let store = Arc::new(SharedMemoryStore::new());
    let [a, b] = <[SessionManager; 2]>::try_from(nodes(&store, 2))
        .ok()
        .unwrap();
    let cookie = new_session(&a).await;
    assert_eq!(read_n(&b, &cookie).await, Some(1)); // b now holds a live copy
    for n in 2..6 {
        let s = request(&a, Some(&cookie));
        s.insert("n", n).await.unwrap();
        s.finish().await.unwrap();
        assert_eq!(read_n(&b, &cookie).await, Some(n), "b reads a's write {n}");
    }
}

#[tokio::test]
async fn distinct_keys_written_through_different_nodes_all_stay() {
    let store = Arc::new(SharedMemoryStore::new());
    let nodes = Arc::new(nodes(&store, 3));
    let cookie = new_session(&nodes[0]).await;
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (nodes, cookie) = (nodes.clone(), cookie.clone());
            tokio::spawn(async move {
                let s = request(&nodes[i % 3], Some(&cookie));
                s.insert(&format!("k{i}"), i).await.unwrap();
                s.finish().await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = request(&nodes[1], Some(&cookie));
    let data = s.data().await.unwrap();
    for i in 0..30 {
        assert_eq!(data.get(&format!("k{i}")), Some(&serde_json::json!(i)));
    }
}

#[tokio::test]
async fn a_logout_on_one_node_is_final_on_the_others() {
    let store = Arc::new(SharedMemoryStore::new());
    let [a, b] = <[SessionManager; 2]>::try_from(nodes(&store, 2))
        .ok()
        .unwrap();
    let cookie = new_session(&a).await;
    // b serves the session and holds it live, with a request in flight.
    let in_flight = request(&b, Some(&cookie));
    assert_eq!(in_flight.get::<i64>("n").await.unwrap(), Some(1));

    let logout = request(&a, Some(&cookie));
    logout.destroy().await.unwrap();
    logout.finish().await.unwrap();

    // The request that was in flight on b writes after the logout: its
    // write goes to a new session, never to the destroyed one.
    in_flight.insert("n", 99).await.unwrap();
    let set = in_flight.finish().await.unwrap();
    let new_cookie = pair(&set[0]);
    assert_ne!(new_cookie, cookie, "the write went to a new session");

    assert_eq!(read_n(&a, &cookie).await, None, "a: destroyed");
    assert_eq!(read_n(&b, &cookie).await, None, "b: destroyed too");
    assert_eq!(read_n(&a, &new_cookie).await, Some(99));
}

#[tokio::test]
async fn a_revoke_on_one_node_ends_the_users_sessions_live_on_others() {
    let store = Arc::new(SharedMemoryStore::new());
    let [a, b, c] = <[SessionManager; 3]>::try_from(nodes(&store, 3))
        .ok()
        .unwrap();
    let mut cookies = Vec::new();
    for node in [&a, &b] {
        let s = request(node, None);
        s.bind_user("alice").await.unwrap();
        s.insert("n", 7).await.unwrap();
        cookies.push(pair(&s.finish().await.unwrap()[0]));
    }
    // Both sessions live on both a and b.
    for cookie in &cookies {
        assert_eq!(read_n(&a, cookie).await, Some(7));
        assert_eq!(read_n(&b, cookie).await, Some(7));
    }
    assert_eq!(c.revoke_user("alice").await.unwrap(), 2);
    for cookie in &cookies {
        assert_eq!(read_n(&a, cookie).await, None, "revoked on a");
        assert_eq!(read_n(&b, cookie).await, None, "revoked on b");
    }
}

/// A clock `skew_ms` ahead of `base`.
struct Skewed(Arc<ManualClock>, u64);

impl Clock for Skewed {
    fn now_ms(&self) -> u64 {
        self.0.now_ms() + self.1
    }
}

#[tokio::test]
async fn expiry_follows_the_stores_clock_not_a_skewed_node() {
    let time = Arc::new(ManualClock::starting_now());
    let store = Arc::new(SharedMemoryStore::with_clock(Arc::new(Skewed(
        time.clone(),
        0,
    ))));
    let idle = Duration::from_secs(60);
    let on_time = node(
        &store,
        config().max_age(Some(idle)).clock(Skewed(time.clone(), 0)),
    );
    // Two idle timeouts ahead: by its own clock every session is over.
    let ahead = node(
        &store,
        config()
            .max_age(Some(idle))
            .clock(Skewed(time.clone(), 120_000)),
    );
    let cookie = new_session(&on_time).await;
    assert_eq!(
        read_n(&ahead, &cookie).await,
        Some(1),
        "alive by the store's clock"
    );

    time.advance(Duration::from_secs(50));
    assert_eq!(
        read_n(&ahead, &cookie).await,
        Some(1),
        "each read extends it in the store"
    );
    time.advance(Duration::from_secs(50));
    assert_eq!(
        read_n(&on_time, &cookie).await,
        Some(1),
        "still alive: read 50 s ago"
    );

    time.advance(Duration::from_secs(61));
    assert_eq!(
        read_n(&on_time, &cookie).await,
        None,
        "idle past 60 s by the store"
    );
    assert_eq!(read_n(&ahead, &cookie).await, None);
}

#[tokio::test]
async fn stats_count_the_stores_records_and_this_nodes_live_sessions() {
    let store = Arc::new(SharedMemoryStore::new());
    let [a, b] = <[SessionManager; 2]>::try_from(nodes(&store, 2))
        .ok()
        .unwrap();
    for _ in 0..3 {
        new_session(&a).await;
    }
    let cookie = new_session(&b).await;
    assert_eq!(a.stats().await.unwrap().stored, 4);
    assert_eq!(b.stats().await.unwrap().stored, 4);
    assert_eq!(b.stats().await.unwrap().live, 1);
    let s = request(&a, Some(&cookie));
    s.destroy().await.unwrap();
    s.finish().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 3);
}

/// Whether `set_cookies` clears the session cookie.
fn clears(set_cookies: &[String]) -> bool {
    set_cookies.iter().any(|c| c.contains("Max-Age=0"))
}

#[tokio::test]
async fn a_cookie_logged_out_on_another_node_a_moment_ago_is_not_cleared() {
    let store = Arc::new(SharedMemoryStore::new());
    let [a, b] = <[SessionManager; 2]>::try_from(nodes(&store, 2))
        .ok()
        .unwrap();
    let held = new_session(&a).await;
    let unseen = new_session(&a).await;
    assert_eq!(read_n(&b, &held).await, Some(1), "b holds one of them live");
    for cookie in [&held, &unseen] {
        let s = request(&a, Some(cookie));
        s.destroy().await.unwrap();
        assert!(clears(&s.finish().await.unwrap()), "the logout clears");
    }
    // A browser's request sent before the logout answered, landing on b:
    // whether b held the session or not, it must not clear the newer cookie.
    for cookie in [&held, &unseen] {
        let s = request(&b, Some(cookie));
        assert_eq!(s.get::<i64>("n").await.unwrap(), None);
        let set = s.finish().await.unwrap();
        assert!(!clears(&set), "no clearing cookie for {cookie}: {set:?}");
    }
    // A revoked session's cookie is cleared, as on one node.
    let s = request(&a, None);
    s.bind_user("carol").await.unwrap();
    let revoked = pair(&s.finish().await.unwrap()[0]);
    a.revoke_user("carol").await.unwrap();
    let s = request(&b, Some(&revoked));
    assert_eq!(s.get::<i64>("n").await.unwrap(), None);
    assert!(
        clears(&s.finish().await.unwrap()),
        "a revoked cookie is cleared"
    );
}

#[tokio::test]
async fn a_session_ended_on_another_node_is_not_counted_or_carried_by_a_stale_copy() {
    let store = Arc::new(SharedMemoryStore::new());
    let [a, b] = <[SessionManager; 2]>::try_from(nodes(&store, 2))
        .ok()
        .unwrap();
    let s = request(&a, None);
    s.bind_user("bob").await.unwrap();
    s.insert("secret", "x").await.unwrap();
    let cookie = pair(&s.finish().await.unwrap()[0]);
    // Both nodes hold it live.
    let s = request(&b, Some(&cookie));
    assert_eq!(s.user().await.unwrap().as_deref(), Some("bob"));
    s.finish().await.unwrap();

    assert_eq!(b.revoke_user("bob").await.unwrap(), 1);
    // a's copy is stale: a revoke there finds nothing left to end.
    assert_eq!(a.revoke_user("bob").await.unwrap(), 0, "counted twice");

    // Another bob session, revoked on b while a request on a holds it: a
    // regenerate there must not carry the revoked data into a new id.
    let s = request(&a, None);
    s.bind_user("bob").await.unwrap();
    s.insert("secret", "y").await.unwrap();
    let cookie = pair(&s.finish().await.unwrap()[0]);
    let stale = request(&a, Some(&cookie));
    assert_eq!(
        stale.get::<String>("secret").await.unwrap().as_deref(),
        Some("y")
    );
    assert_eq!(b.revoke_user("bob").await.unwrap(), 1);
    stale.regenerate(&["secret"]).await.unwrap();
    assert_eq!(
        stale.get::<String>("secret").await.unwrap(),
        None,
        "revoked data carried over"
    );
    assert_eq!(
        stale.user().await.unwrap(),
        None,
        "revoked binding carried over"
    );
}

/// A change whose caller was told it timed out is never applied, even when
/// its late compare-and-set finds that another node wrote first: the owner
/// must not apply the batch again on the other node's write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_change_is_not_applied_after_a_late_conflict() {
    let store = FaultyStore::new(SharedMemoryStore::new());
    let node_over = |timeout_ms| {
        SessionManager::new(
            config()
                .store(Arc::new(store.clone()))
                .store_timeout(Duration::from_millis(timeout_ms))
                .build()
                .unwrap(),
        )
    };
    let (a, b) = (node_over(100), node_over(5_000));
    let cookie = new_session(&a).await; // n = 1

    // a's next commit is slow: past a's deadline, within its grace.
    store.delay(Op::Commit, Duration::from_millis(300));
    let commits = store.calls(Op::Commit);
    let late = {
        let (a, cookie) = (a.clone(), cookie.clone());
        tokio::spawn(async move {
            let s = request(&a, Some(&cookie));
            s.insert("late", 1).await
        })
    };
    wait_until(
        async || store.calls(Op::Commit) > commits,
        "a's commit has started",
    )
    .await;
    store.delay(Op::Commit, Duration::ZERO);
    // Meanwhile b writes the session: a's commit will find a newer version.
    let s = request(&b, Some(&cookie));
    s.insert("n", 50).await.unwrap();
    s.finish().await.unwrap();

    let err = late.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    // Past a's late commit and anything that could follow it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for (name, node) in [("a", &a), ("b", &b)] {
        let s = request(node, Some(&cookie));
        assert_eq!(
            s.get::<i64>("n").await.unwrap(),
            Some(50),
            "{name}: b's write"
        );
        assert_eq!(
            s.get::<i64>("late").await.unwrap(),
            None,
            "{name}: the change that timed out was applied"
        );
    }
}
