//! Races found by an adversarial review of the runtime: each test shows
//! an interleaving that once broke a guarantee.

mod common;

use common::*;
use livesession::store::{
    MemoryStore, SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture,
};
use livesession::testing::{FaultyStore, Op};
use livesession::SessionManager;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Bind_user on a Live session that ends under it (logout in another
/// tab) binds the fresh follow-up session locally without registering a
/// binding; a revoke meanwhile misses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_user_after_the_session_ended_elsewhere_is_still_revocable() {
    let m = SessionManager::new(config().build().unwrap());
    let cookie = new_session(&m).await;
    let login = request(&m, Some(&cookie));
    assert_eq!(login.get::<i64>("n").await.unwrap(), Some(1));
    // Another tab logs out.
    let other = request(&m, Some(&cookie));
    other.destroy().await.unwrap();
    other.finish().await.unwrap();
    // The login request binds: the change follows into a fresh session.
    login.bind_user("alice").await.unwrap();
    assert_eq!(m.revoke_user("alice").await.unwrap(), 0);
    let set = login.finish().await.unwrap();
    // The session bound to alice was never created: no cookie names it.
    assert!(
        set.iter().all(|c| c.contains("Max-Age=0")),
        "a session bound to alice before revoke_user started was created after it returned: {set:?}"
    );
}

/// Regenerate rebinds to a user bound concurrently only after the old
/// session is gone; a revoke in between misses both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_bound_just_before_a_regenerate_is_still_revocable() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable_after(&store, Duration::from_secs(30));
    let cookie = new_session(&m).await;
    store.delay(Op::Flush, Duration::from_millis(150));
    let a = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move {
            let s = request(&m, Some(&cookie));
            s.bind_user("v").await.unwrap();
            s.finish().await.unwrap();
        })
    };
    tokio::time::sleep(Duration::from_millis(40)).await;
    // The regenerate reads the user (none yet) and queues its Destroy.
    let b = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move {
            let s = request(&m, Some(&cookie));
            s.regenerate(&[]).await.unwrap();
            s.finish().await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(40)).await;
    // The Destroy's flush (after the bind's) is slow.
    store.delay(Op::Flush, Duration::from_millis(600));
    a.await.unwrap(); // bind_user("v") acknowledged
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.delay(Op::Flush, Duration::ZERO);
    let revoked = m.revoke_user("v").await.unwrap();
    let set = b.await.unwrap();
    // Either the revoke reached the old session first (the new one carries
    // no user) or the binding the regenerate carried (never created).
    if let Some(new) = set.iter().find(|c| !c.contains("Max-Age=0")) {
        let after = request(&m, Some(&pair(new)));
        assert_eq!(
            after.user().await.unwrap(),
            None,
            "bound to v before revoke_user(v) (which revoked {revoked}), served after it"
        );
    }
}

/// A session whose owner is stuck in a slow save (400 ms) while reads have
/// filled its mailbox with write-back requests.
async fn owner_busy_with_a_full_mailbox() -> (SessionManager, FaultyStore<MemoryStore>, String) {
    let store = FaultyStore::new(MemoryStore::new());
    let m = SessionManager::new(
        config()
            .store(Arc::new(store.clone()))
            .max_age(Some(Duration::from_secs(4)))
            .passivate_after(Duration::from_secs(30))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    // Past a quarter of max_age: every read asks the owner for a write-back.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    store.delay(Op::Save, Duration::from_millis(400));
    assert_eq!(read_n(&m, &cookie).await, Some(1)); // owner busy in a slow save
    tokio::time::sleep(Duration::from_millis(20)).await;
    for _ in 0..80 {
        assert_eq!(read_n(&m, &cookie).await, Some(1)); // CheckClocks fill the mailbox
    }
    (m, store, cookie)
}

/// A request cancelled while its nudge waits for mailbox room strands
/// the pending queue: no later change of the session completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_change_never_strands_later_changes() {
    let (m, store, cookie) = owner_busy_with_a_full_mailbox().await;
    let s = request(&m, Some(&cookie));
    let cancelled = tokio::time::timeout(Duration::from_millis(50), s.insert("a", 1)).await;
    assert!(cancelled.is_err(), "the first change waits (mailbox full)");
    drop(s);
    store.delay(Op::Save, Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let s2 = request(&m, Some(&cookie));
    let later = tokio::time::timeout(Duration::from_secs(3), s2.insert("b", 2)).await;
    assert!(
        later.is_ok(),
        "a later change of the session never completes: the queue is stranded"
    );
}

/// A store whose save, once started, finishes even if its caller gave up
/// (what the sled store does on the blocking pool, or any network store).
#[derive(Clone)]
struct LateStore {
    inner: Arc<MemoryStore>,
    stall_next_save: Arc<Mutex<Option<Duration>>>,
}

impl SessionStore for LateStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        self.inner.load(key)
    }
    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        self.inner.create(key, record)
    }
    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        let stall = self.stall_next_save.lock().unwrap().take();
        let (inner, key, record) = (self.inner.clone(), *key, record.clone());
        Box::pin(async move {
            let task = tokio::spawn(async move {
                if let Some(d) = stall {
                    tokio::time::sleep(d).await;
                }
                inner.save(&key, &record).await
            });
            task.await.map_err(StoreError::backend)?
        })
    }
    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        self.inner.delete(key)
    }
    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
        self.inner.keys_for_user(user)
    }
    fn remove_expired<'a>(
        &'a self,
        now_ms: u64,
        limit: usize,
        skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        self.inner.remove_expired(now_ms, limit, skip)
    }
    fn count(&self) -> StoreFuture<'_, u64> {
        self.inner.count()
    }
    fn flush(&self) -> StoreFuture<'_, ()> {
        self.inner.flush()
    }
}

/// A save that timed out lands after a later acknowledged batch; the
/// store silently holds the failed state and passivation does not fix it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_save_landing_late_never_overwrites_a_later_one() {
    let store = LateStore {
        inner: Arc::new(MemoryStore::new()),
        stall_next_save: Arc::default(),
    };
    let m = SessionManager::new(
        config()
            .store(Arc::new(store.clone()))
            .store_timeout(Duration::from_millis(200))
            .passivate_after(Duration::from_millis(1000))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    // The save outlasts the 200 ms deadline and lands at 350 ms; the next
    // change waits for it (up to twice the deadline) instead of racing it.
    *store.stall_next_save.lock().unwrap() = Some(Duration::from_millis(350));
    let s1 = request(&m, Some(&cookie));
    assert!(
        s1.insert("n", 2).await.is_err(),
        "reported failed (timeout)"
    );
    s1.finish().await.unwrap();
    let s2 = request(&m, Some(&cookie));
    s2.insert("m", 1).await.unwrap(); // acknowledged, durable
    s2.finish().await.unwrap();
    wait_until(
        async || m.stats().await.unwrap().live == 0,
        "the session is passivated",
    )
    .await;
    let s = request(&m, Some(&cookie));
    let (n, mm) = (
        s.get::<i64>("n").await.unwrap(),
        s.get::<i64>("m").await.unwrap(),
    );
    assert_eq!(
        (n, mm),
        (Some(1), Some(1)),
        "the failed n=2 came back and the acknowledged m=1 was lost"
    );
}

/// A change in flight across finish() is acknowledged although no
/// session will ever hold it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_flight_across_finish_is_refused() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable_after(&store, Duration::from_secs(30));
    let cookie = new_session(&m).await;
    let s = request(&m, Some(&cookie));
    assert_eq!(s.get::<i64>("n").await.unwrap(), Some(1));
    store.delay(Op::Flush, Duration::from_millis(200));
    let busy = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move { request(&m, Some(&cookie)).insert("x", 1).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let logout = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move { request(&m, Some(&cookie)).destroy().await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let late = {
        let s = s.clone();
        tokio::spawn(async move { s.insert("late", 1).await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let set = s.finish().await.unwrap();
    let _ = busy.await.unwrap();
    let _ = logout.await.unwrap();
    let late = late.await.unwrap();
    assert!(
        late.is_err(),
        "insert returned Ok after finish ({set:?}); the change is in no session"
    );
}

/// The same, but the first request is not cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_behind_a_full_mailbox_completes() {
    let (m, store, cookie) = owner_busy_with_a_full_mailbox().await;
    let s = request(&m, Some(&cookie));
    let first = tokio::spawn(async move { s.insert("a", 1).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.delay(Op::Save, Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let s2 = request(&m, Some(&cookie));
    let later = tokio::time::timeout(Duration::from_secs(3), s2.insert("b", 2)).await;
    assert!(later.is_ok());
    first.await.unwrap().unwrap();
}

/// Clearing cookies that drop the per-session Domain override.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_login_clears_with_the_cookie_domain() {
    let m = SessionManager::new(config().build().unwrap());
    let s = request(&m, None);
    s.insert("n", 1).await.unwrap();
    s.options(livesession::CookieOptions::default().domain("example.com"))
        .await
        .unwrap();
    s.bind_user("alice").await.unwrap();
    let cookie = pair(&s.finish().await.unwrap()[0]);
    let login = request(&m, Some(&cookie));
    login.regenerate(&[]).await.unwrap();
    m.revoke_user("alice").await.unwrap();
    let set = login.finish().await.unwrap();
    assert!(
        set[0].contains("Domain=example.com"),
        "revoked-in-flight regenerate clears without the Domain it was set with: {set:?}"
    );
}

/// A change queued while its owner is busy in a save goes before the
/// shutdown that comes after it: it is applied and made durable, not handed
/// back and refused because the session was retired first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_queued_before_shutdown_is_applied_not_refused() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable_after(&store, Duration::from_secs(30));
    let cookie = new_session(&m).await;
    store.delay(Op::Save, Duration::from_millis(300));
    let write = |key: &'static str| {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move {
            let s = request(&m, Some(&cookie));
            let inserted = s.insert(key, 1).await;
            let _ = s.finish().await;
            inserted
        })
    };
    let busy = write("a"); // the owner's batch: a slow save
    tokio::time::sleep(Duration::from_millis(50)).await;
    let queued = write("b"); // queued behind it
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.delay(Op::Save, Duration::ZERO);
    m.shutdown().await.unwrap();
    busy.await.unwrap().unwrap();
    queued
        .await
        .unwrap()
        .expect("a change queued before the shutdown was refused");
    let after = durable_after(&store, Duration::from_secs(30));
    let s = request(&after, Some(&cookie));
    assert_eq!(s.get::<i64>("b").await.unwrap(), Some(1));
}

/// A new session (n = 1) whose `save()`, on a clone, is under way in the
/// store (its create takes 100 ms): the request and the save's task.
async fn saving_slowly(
    m: &SessionManager,
    store: &FaultyStore<MemoryStore>,
) -> (
    livesession::RequestSession,
    tokio::task::JoinHandle<Result<(), livesession::SessionError>>,
) {
    let req = request(m, None);
    req.insert("n", 1).await.unwrap();
    store.delay(Op::Create, Duration::from_millis(100));
    let saving = req.session();
    let save = tokio::spawn(async move { saving.save().await });
    wait_until(
        async || store.calls(Op::Create) > 0,
        "the save's create has started",
    )
    .await;
    (req, save)
}

/// A clone of the request's session destroys it while `save()` is creating
/// it: the destroy returned Ok, so no session may be left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_while_save_creates_the_session_leaves_none() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let (req, save) = saving_slowly(&m, &store).await;
    let other = req.session();
    other.destroy().await.unwrap();
    save.await.unwrap().unwrap();
    let set = req.finish().await.unwrap();
    assert!(
        set.iter()
            .all(|c| !c.starts_with("sessionId=") || c.contains("Expires=Thu, 01 Jan 1970")),
        "a session cookie was sent after the destroy: {set:?}"
    );
    assert_eq!(m.stats().await.unwrap().live, 0, "a session was left live");
    assert_eq!(
        store.inner().count().await.unwrap(),
        0,
        "a record was left behind"
    );
}

/// A clone binds the user while `save()` is creating the session: the
/// session that stays is bound, so a revoke reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_user_while_save_creates_the_session_is_kept() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let (req, save) = saving_slowly(&m, &store).await;
    let other = req.session();
    other.bind_user("alice").await.unwrap();
    save.await.unwrap().unwrap();
    store.delay(Op::Create, Duration::ZERO);
    let cookie = pair(&req.finish().await.unwrap()[0]);
    assert_eq!(read_n(&m, &cookie).await, Some(1));
    assert_eq!(
        m.revoke_user("alice").await.unwrap(),
        1,
        "the session is bound"
    );
    assert_eq!(read_n(&m, &cookie).await, None, "revoked");
    assert_eq!(
        m.stats().await.unwrap().live,
        0,
        "no unbound copy left live"
    );
}

/// `save()` after `destroy()` in one request creates a new session (the
/// destroy left nothing for a create to race with).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_after_destroy_creates_a_new_session() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let old = new_session(&m).await;
    for cookie in [None, Some(old.as_str())] {
        let s = request(&m, cookie);
        s.destroy().await.unwrap();
        s.save().await.unwrap();
        let set = s.finish().await.unwrap();
        let new = pair(&set[0]);
        assert_ne!(Some(new.as_str()), cookie);
        let again = request(&m, Some(&new));
        again.insert("n", 5).await.unwrap();
        again.finish().await.unwrap();
        assert_eq!(read_n(&m, &new).await, Some(5), "the saved session is live");
    }
}

/// A `save()` that fails after `destroy()` leaves the session destroyed:
/// the response still clears the cookie, and no new session is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_save_after_destroy_still_clears_the_cookie() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = {
        let s = request(&m, None);
        s.insert("n", 1).await.unwrap();
        s.options(livesession::CookieOptions::default().domain("example.com"))
            .await
            .unwrap();
        pair(&s.finish().await.unwrap()[0])
    };
    let s = request(&m, Some(&cookie));
    s.destroy().await.unwrap();
    store.fail(Op::Create, true);
    assert!(s.save().await.is_err());
    store.fail(Op::Create, false);
    let set = s.finish().await.unwrap();
    assert_eq!(set.len(), 1, "{set:?}");
    assert!(
        set[0].contains("Expires=Thu, 01 Jan 1970") && set[0].contains("Domain=example.com"),
        "the cookie is cleared where it was set: {set:?}"
    );
    assert_eq!(m.stats().await.unwrap().live, 0);
    assert_eq!(store.inner().count().await.unwrap(), 0, "no new session");
}

/// A clone's change answered while `regenerate` waits for its old
/// session's deletion to be flushed lands in the new session, not lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_during_a_regenerate_is_kept() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = {
        let s = request(&m, None);
        s.insert("cart", 7).await.unwrap();
        pair(&s.finish().await.unwrap()[0])
    };
    let req = request(&m, Some(&cookie));
    assert_eq!(req.get::<i64>("cart").await.unwrap(), Some(7));
    store.delay(Op::Flush, Duration::from_millis(200));
    let flushes = store.calls(Op::Flush);
    let regenerating = {
        let s = req.session();
        tokio::spawn(async move { s.regenerate(&["cart"]).await })
    };
    wait_until(
        async || store.calls(Op::Flush) > flushes,
        "the old session's deletion is being flushed",
    )
    .await;
    req.session().insert("csrf", 1).await.unwrap();
    regenerating.await.unwrap().unwrap();
    store.delay(Op::Flush, Duration::ZERO);
    let new = pair(&req.finish().await.unwrap()[0]);
    assert_ne!(new, cookie);
    let s = request(&m, Some(&new));
    assert_eq!(s.get::<i64>("cart").await.unwrap(), Some(7), "kept key");
    assert_eq!(
        s.get::<i64>("csrf").await.unwrap(),
        Some(1),
        "the acknowledged change"
    );
}

/// A request that touches a session passivated under it, then changes it,
/// reads its own change back (the touched session is a new cell whose
/// versions start again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_after_touching_a_passivated_session_is_read_back() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    increment(&m, &cookie).await;
    increment(&m, &cookie).await; // n = 3, a few versions on
    let s = request(&m, Some(&cookie));
    assert_eq!(s.get::<i64>("n").await.unwrap(), Some(3));
    passivated(&m).await;
    s.touch().await.unwrap();
    s.insert("n", 9).await.unwrap();
    assert_eq!(s.get::<i64>("n").await.unwrap(), Some(9), "its own write");
    s.finish().await.unwrap();
    assert_eq!(read_n(&m, &cookie).await, Some(9));
}
