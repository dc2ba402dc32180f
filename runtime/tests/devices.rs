//! "Your devices": `SessionManager::sessions_of_user` lists a user's
//! unexpired sessions, `end_session_of_user` ends one by its handle. The
//! same scenarios run on memory mode, on a `MemoryStore` with the sessions
//! live, on a `MemoryStore` after passivation (sessions only in the store),
//! and on a `SharedMemoryStore` with two managers (list on one, end on the
//! other). Time is a `ManualClock`, so every time listed is known exactly.

mod common;

use base64::Engine;
use common::{config, pair, passivated, request};
use livesession::clock::{Clock, ManualClock};
use livesession::store::{MemoryStore, SessionKey, SessionStore, SharedMemoryStore};
use livesession::{SessionManager, UserSession};
use std::sync::Arc;
use std::time::Duration;

/// Where the sessions live.
struct Backend {
    /// Logins, reads and lists go here.
    list: SessionManager,
    /// Ends go here (another manager on a shared store).
    end: SessionManager,
    clock: Arc<ManualClock>,
    /// `settle` passivates every session.
    passivate: bool,
    store: Option<Arc<MemoryStore>>,
}

impl Backend {
    fn memory(max_age: Duration) -> Backend {
        let clock = Arc::new(ManualClock::starting_now());
        let m = SessionManager::new(
            config()
                .clock(clock.clone())
                .max_age(Some(max_age))
                .build()
                .unwrap(),
        );
        Backend {
            list: m.clone(),
            end: m,
            clock,
            passivate: false,
            store: None,
        }
    }

    /// A `MemoryStore`; with `passivate`, sessions leave memory 1 s (by the
    /// manual clock) after their last use. The sweeper never runs, so
    /// expired records stay in the store.
    fn store(max_age: Duration, passivate: bool) -> Backend {
        let clock = Arc::new(ManualClock::starting_now());
        let store = Arc::new(MemoryStore::new());
        let mut builder = config()
            .clock(clock.clone())
            .max_age(Some(max_age))
            .store(store.clone())
            .sweep_interval(Duration::from_secs(3600));
        if passivate {
            builder = builder.passivate_after(Duration::from_secs(1));
        }
        let m = SessionManager::new(builder.build().unwrap());
        Backend {
            list: m.clone(),
            end: m,
            clock,
            passivate,
            store: Some(store),
        }
    }

    /// Two managers on one `SharedMemoryStore`, all on one clock.
    fn shared(max_age: Duration) -> Backend {
        let clock = Arc::new(ManualClock::starting_now());
        let store = Arc::new(SharedMemoryStore::with_clock(clock.clone()));
        let node = || {
            SessionManager::new(
                config()
                    .clock(clock.clone())
                    .max_age(Some(max_age))
                    .store(store.clone())
                    .build()
                    .unwrap(),
            )
        };
        Backend {
            list: node(),
            end: node(),
            clock,
            passivate: false,
            store: None,
        }
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// With passivation: every session leaves memory for the store.
    async fn settle(&self) {
        if self.passivate {
            self.advance(2);
            passivated(&self.list).await;
        }
    }

    async fn sessions(&self, m: &SessionManager, user: &str) -> Vec<UserSession> {
        m.sessions_of_user(user).await.unwrap()
    }

    /// With passivation, after `settle`: no session is in memory (listing
    /// and ending read the store without activating anything).
    async fn nothing_live(&self) {
        if self.passivate {
            for m in [&self.list, &self.end] {
                assert_eq!(m.stats().await.unwrap().live, 0, "a session is in memory");
            }
        }
    }
}

/// A new session bound to `user` (with `n = 1`); its cookie pair.
async fn login(m: &SessionManager, user: &str) -> String {
    let s = request(m, None);
    s.insert("n", 1).await.unwrap();
    s.bind_user(user).await.unwrap();
    pair(&s.finish().await.unwrap()[0])
}

/// The user the session of `cookie` is bound to (`None`: a fresh session).
async fn user_of(m: &SessionManager, cookie: &str) -> Option<String> {
    let s = request(m, Some(cookie));
    let user = s.user().await.unwrap();
    s.finish().await.unwrap();
    user
}

/// The id and signature of a cookie pair `name=id.sig`.
fn id_and_sig(cookie: &str) -> (String, String) {
    let value = cookie.split_once('=').unwrap().1;
    let (id, sig) = value.split_once('.').unwrap();
    (id.to_string(), sig.to_string())
}

/// The handle names the session without being any form of its cookie or key.
fn assert_not_a_credential(handle: &str, cookie: &str) {
    let (id, sig) = id_and_sig(cookie);
    let key = SessionKey::of_id(&id);
    let encodings = [
        id.clone(),
        sig.clone(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.as_bytes()),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(key.as_bytes()),
        key.as_bytes().iter().map(|b| format!("{b:02x}")).collect(),
    ];
    assert!(!handle.is_empty());
    for secret in encodings {
        assert!(
            !secret.contains(handle) && !handle.contains(&secret),
            "handle {handle} overlaps the id, signature or key {secret}"
        );
    }
}

/// Two logins of alice and one of bob; list, end by handle, refuse unknown
/// and foreign handles.
async fn list_and_end(b: Backend) {
    let t0 = b.now();
    let alice_1 = login(&b.list, "alice").await;
    b.advance(10);
    let bob = login(&b.list, "bob").await;
    b.advance(10);
    let alice_2 = login(&b.list, "alice").await;
    b.advance(5);
    // A read moves alice_1's idle clock to t0 + 25 s.
    assert_eq!(user_of(&b.list, &alice_1).await.as_deref(), Some("alice"));
    b.settle().await;

    let alice = b.sessions(&b.list, "alice").await;
    assert_eq!(alice.len(), 2, "{alice:?}");
    let (newest, oldest) = (&alice[0], &alice[1]);
    assert_eq!(newest.created_at_ms, t0 + 20_000, "newest first: {alice:?}");
    assert_eq!(oldest.created_at_ms, t0, "{alice:?}");
    assert_eq!(newest.last_seen_at_ms, t0 + 20_000, "{alice:?}");
    assert_eq!(oldest.last_seen_at_ms, t0 + 25_000, "the read: {alice:?}");
    assert_eq!(newest.expires_at_ms, Some(t0 + 20_000 + 3_600_000));
    assert_eq!(oldest.expires_at_ms, Some(t0 + 25_000 + 3_600_000));
    assert_ne!(newest.handle, oldest.handle);
    assert_not_a_credential(&newest.handle, &alice_2);
    assert_not_a_credential(&oldest.handle, &alice_1);

    let bobs = b.sessions(&b.list, "bob").await;
    assert_eq!(bobs.len(), 1, "{bobs:?}");
    let bob_handle = bobs[0].handle.clone();
    assert_eq!(bobs[0].created_at_ms, t0 + 10_000);
    assert!(alice.iter().all(|s| s.handle != bob_handle));
    assert_not_a_credential(&bob_handle, &bob);
    // Every manager sharing the store answers the same sessions and handles.
    let elsewhere = b.sessions(&b.end, "alice").await;
    let handles = |l: &[UserSession]| l.iter().map(|s| s.handle.clone()).collect::<Vec<_>>();
    assert_eq!(handles(&elsewhere), handles(&alice));
    b.nothing_live().await;

    // A handle of bob's session is not alice's to end.
    assert!(!b
        .end
        .end_session_of_user("alice", &bob_handle)
        .await
        .unwrap());
    assert!(!b.end.end_session_of_user("alice", "").await.unwrap());
    assert!(!b
        .end
        .end_session_of_user("alice", "AAAAAAAAAAAAAAAAAAAAAA")
        .await
        .unwrap());
    assert!(!b
        .end
        .end_session_of_user("carol", &oldest.handle)
        .await
        .unwrap());
    assert_eq!(user_of(&b.list, &bob).await.as_deref(), Some("bob"));
    b.settle().await;

    assert!(b
        .end
        .end_session_of_user("alice", &oldest.handle)
        .await
        .unwrap());
    assert!(
        !b.end
            .end_session_of_user("alice", &oldest.handle)
            .await
            .unwrap(),
        "ended twice"
    );
    let left = b.sessions(&b.list, "alice").await;
    assert_eq!(handles(&left), vec![newest.handle.clone()]);
    b.nothing_live().await;
    assert_eq!(
        user_of(&b.list, &alice_1).await,
        None,
        "the ended session is still served"
    );
    assert_eq!(user_of(&b.list, &alice_2).await.as_deref(), Some("alice"));
    assert_eq!(user_of(&b.list, &bob).await.as_deref(), Some("bob"));
    assert_eq!(b.sessions(&b.list, "bob").await[0].handle, bob_handle);
    if let Some(store) = &b.store {
        assert_eq!(
            store.count().await.unwrap(),
            2,
            "the ended record is deleted"
        );
    }
}

/// An expired session is neither listed nor ended.
async fn expired_sessions_are_left_out(b: Backend) {
    let t0 = b.now();
    let first = login(&b.list, "alice").await;
    b.advance(40);
    login(&b.list, "alice").await;
    b.settle().await;
    let before = b.sessions(&b.list, "alice").await;
    assert_eq!(before.len(), 2, "{before:?}");
    let expired = before[1].handle.clone();
    assert_eq!(before[1].expires_at_ms, Some(t0 + 60_000));

    b.advance(30); // the first ended at t0 + 60 s; the second ends at t0 + 100 s
    if b.passivate {
        let store = b.store.as_ref().unwrap();
        assert_eq!(
            store.count().await.unwrap(),
            2,
            "the expired record is still stored"
        );
    }
    let after = b.sessions(&b.list, "alice").await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].handle, before[0].handle);
    assert!(!b.end.end_session_of_user("alice", &expired).await.unwrap());
    b.nothing_live().await;
    assert_eq!(user_of(&b.list, &first).await, None);
    assert_eq!(b.sessions(&b.list, "alice").await.len(), 1);
}

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_mode_lists_and_ends() {
    list_and_end(Backend::memory(HOUR)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_lists_and_ends_live_sessions() {
    list_and_end(Backend::store(HOUR, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_lists_and_ends_passivated_sessions() {
    list_and_end(Backend::store(HOUR, true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_store_lists_on_one_node_and_ends_on_another() {
    list_and_end(Backend::shared(HOUR)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_mode_leaves_out_expired_sessions() {
    expired_sessions_are_left_out(Backend::memory(MINUTE)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_leaves_out_expired_live_sessions() {
    expired_sessions_are_left_out(Backend::store(MINUTE, false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_leaves_out_expired_stored_records() {
    expired_sessions_are_left_out(Backend::store(MINUTE, true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_store_leaves_out_expired_sessions() {
    expired_sessions_are_left_out(Backend::shared(MINUTE)).await;
}

/// On a shared store, reads extend a session in the store without rewriting
/// its record, so the record's own expiry lags behind. The store decides:
/// such a session is listed, and ending it from another node reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_store_lists_and_ends_a_session_kept_alive_by_reads() {
    let b = Backend::shared(MINUTE);
    let t0 = b.now();
    let cookie = login(&b.list, "alice").await;
    b.advance(50);
    assert_eq!(user_of(&b.list, &cookie).await.as_deref(), Some("alice"));
    b.advance(20); // past the record's expiry (t0 + 60 s), not the store's (t0 + 110 s)

    let here = b.sessions(&b.list, "alice").await;
    assert_eq!(here.len(), 1, "{here:?}");
    assert_eq!(
        here[0].last_seen_at_ms,
        t0 + 50_000,
        "this node served the read"
    );
    assert_eq!(here[0].expires_at_ms, Some(t0 + 110_000));
    let there = b.sessions(&b.end, "alice").await;
    assert_eq!(there.len(), 1, "{there:?}");
    assert_eq!(there[0].handle, here[0].handle);
    assert_eq!(
        there[0].last_seen_at_ms, t0,
        "the other node knows the last write"
    );

    assert!(b
        .end
        .end_session_of_user("alice", &here[0].handle)
        .await
        .unwrap());
    assert_eq!(user_of(&b.list, &cookie).await, None);
    assert!(b.sessions(&b.list, "alice").await.is_empty());
}
