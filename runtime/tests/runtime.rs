//! Runtime behaviour through the public API, without HTTP: activation,
//! expiry, no resurrection, revocation, rotation and store failures.

use livesession::store::{MemoryStore, SessionKey, SessionStore};
use livesession::testing::{FaultyStore, Op};
use livesession::{RequestSession, SessionConfig, SessionManager};
use std::sync::Arc;
use std::time::Duration;

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_lose_nothing() {
    let m = SessionManager::new(config().build().unwrap());
    let cookie = new_session(&m).await;
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let (m, cookie) = (m.clone(), cookie.clone());
            tokio::spawn(async move {
                let s = request(&m, Some(&cookie));
                s.update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
                    .await
                    .unwrap();
                s.insert(&format!("k{i}"), i).await.unwrap();
                s.finish().await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = request(&m, Some(&cookie));
    let data = s.data().await.unwrap();
    assert_eq!(data["n"], 301);
    assert_eq!(
        data.len(),
        301,
        "every distinct key written concurrently is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_spread_over_hibernations_lose_nothing() {
    let m = SessionManager::new(config().build().unwrap());
    let cookie = new_session(&m).await;
    let tasks: Vec<_> = (0..8)
        .map(|t| {
            let (m, cookie) = (m.clone(), cookie.clone());
            tokio::spawn(async move {
                for i in 0..25u64 {
                    // 0..7 ms apart: owners keep hibernating between changes.
                    tokio::time::sleep(Duration::from_millis((i * 7 + t) % 8)).await;
                    increment(&m, &cookie).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(read_n(&m, &cookie).await, Some(201));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernated_sessions_still_expire_and_passivate() {
    let m = SessionManager::new(
        config()
            .max_age(Some(Duration::from_millis(150)))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    tokio::time::sleep(Duration::from_millis(60)).await; // owner is asleep by now
    assert_eq!(read_n(&m, &cookie).await, Some(1));
    wait_until(
        async || m.stats().await.unwrap().live == 0,
        "the parked alarm ends it",
    )
    .await;
    assert_eq!(read_n(&m, &cookie).await, None);

    let store = Arc::new(MemoryStore::new());
    let durable = SessionManager::new(
        config()
            .store(store.clone())
            .passivate_after(Duration::from_millis(100))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&durable).await;
    wait_until(
        async || durable.stats().await.unwrap().live == 0,
        "passivation by alarm",
    )
    .await;
    assert_eq!(store.count().await.unwrap(), 1);
    assert_eq!(read_n(&durable, &cookie).await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passivated_session_activates_exactly_once() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    passivated(&m).await;
    assert_eq!(m.stats().await.unwrap().stored, 1);
    let loads_before = store.calls(Op::Load);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (m, cookie) = (m.clone(), cookie.clone());
            tokio::spawn(async move { read_n(&m, &cookie).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(1));
    }
    assert_eq!(
        store.calls(Op::Load) - loads_before,
        1,
        "one load for 100 concurrent first requests"
    );
    assert_eq!(m.stats().await.unwrap().live, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn destroyed_session_never_comes_back() {
    let store = Arc::new(MemoryStore::new());
    let m = SessionManager::new(config().store(store.clone()).build().unwrap());
    let cookie = new_session(&m).await;
    let id = cookie
        .split_once('=')
        .unwrap()
        .1
        .split('.')
        .next()
        .unwrap()
        .to_string();
    // Requests that loaded the session before the logout write after it.
    let in_flight: Vec<RequestSession> = (0..20).map(|_| request(&m, Some(&cookie))).collect();
    for s in &in_flight {
        assert_eq!(s.get::<i64>("n").await.unwrap(), Some(1));
    }
    let logout = request(&m, Some(&cookie));
    logout.destroy().await.unwrap();
    let cleared = logout.finish().await.unwrap();
    assert!(cleared[0].contains("Max-Age=0"), "{cleared:?}");
    for s in &in_flight {
        s.update("n", |n: Option<i64>| n.unwrap_or(0) + 100)
            .await
            .unwrap();
        let set = s.finish().await.unwrap();
        assert!(
            !set.iter().any(|c| c.contains(&id)),
            "the old id was re-sent: {set:?}"
        );
    }
    assert_eq!(
        read_n(&m, &cookie).await,
        None,
        "the old cookie starts a fresh session"
    );
    assert!(store.load(&SessionKey::of_id(&id)).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn never_adopts_a_client_chosen_id() {
    use livesession::signing::{HmacSigner, Signer};
    let m = SessionManager::new(config().save_uninitialized(true).build().unwrap());
    let forged = format!(
        "sessionId={}",
        HmacSigner::new([SECRET]).unwrap().sign("attackerChosenId")
    );
    let s = request(&m, Some(&forged));
    assert_eq!(s.get::<i64>("n").await.unwrap(), None);
    s.save().await.unwrap();
    assert_ne!(s.id().await.unwrap().as_deref(), Some("attackerChosenId"));
    let set = s.finish().await.unwrap();
    assert!(!set[0].contains("attackerChosenId"), "{set:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_is_extended_by_reads_and_then_ends_the_session() {
    let m = SessionManager::new(
        config()
            .max_age(Some(Duration::from_millis(300)))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            read_n(&m, &cookie).await,
            Some(1),
            "reads keep the session alive"
        );
    }
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        m.stats().await.unwrap().live,
        0,
        "the expiry timer stopped the actor"
    );
    assert_eq!(read_n(&m, &cookie).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_timeout_ends_an_active_session_and_regenerate_restarts_it() {
    let m = SessionManager::new(
        config()
            .max_age(Some(Duration::from_secs(60)))
            .absolute_timeout(Some(Duration::from_millis(400)))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let s = request(&m, Some(&cookie));
    s.regenerate(&["n"]).await.unwrap();
    let renewed = pair(&s.finish().await.unwrap()[0]);
    assert_eq!(
        read_n(&m, &cookie).await,
        None,
        "the old id is invalid at once"
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    // 500 ms after the first id was made, the regenerated one still lives.
    assert_eq!(read_n(&m, &renewed).await, Some(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        read_n(&m, &renewed).await,
        None,
        "absolute deadline of the new id"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_reaches_live_and_stored_sessions() {
    let store = Arc::new(MemoryStore::new());
    let m = SessionManager::new(
        config()
            .store(store.clone())
            .passivate_after(Duration::from_millis(100))
            .build()
            .unwrap(),
    );
    let mut bob = Vec::new();
    for _ in 0..3 {
        let s = request(&m, None);
        s.insert("x", 1).await.unwrap();
        s.bind_user("bob").await.unwrap();
        bob.push(pair(&s.finish().await.unwrap()[0]));
    }
    let carol = request(&m, None);
    carol.bind_user("carol").await.unwrap();
    let carol = pair(&carol.finish().await.unwrap()[0]);
    // Two of bob's sessions leave memory; one stays live.
    wait_until(async || m.stats().await.unwrap().live == 0, "passivation").await;
    assert_eq!(read_n(&m, &bob[0]).await, None); // activates bob[0] again
    assert_eq!(m.revoke_user("bob").await.unwrap(), 3);
    for c in &bob {
        let s = request(&m, Some(c));
        assert_eq!(s.user().await.unwrap(), None);
    }
    let s = request(&m, Some(&carol));
    assert_eq!(s.user().await.unwrap().as_deref(), Some("carol"));
    assert_eq!(m.revoke_user("bob").await.unwrap(), 0);
    assert_eq!(store.count().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_secret_cookie_works_and_is_resigned() {
    let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
    let old = SessionManager::new(
        SessionConfig::builder()
            .secret("old-secret-old-secret-old-secret!!")
            .store(store.clone())
            .build()
            .unwrap(),
    );
    let cookie = new_session(&old).await;
    old.shutdown().await.unwrap();
    let rotated = SessionManager::new(
        SessionConfig::builder()
            .secrets([SECRET, "old-secret-old-secret-old-secret!!"])
            .store(store)
            .rolling(false)
            .build()
            .unwrap(),
    );
    let s = request(&rotated, Some(&cookie));
    assert_eq!(s.get::<i64>("n").await.unwrap(), Some(1));
    let set = s.finish().await.unwrap();
    assert_eq!(set.len(), 1, "re-signed even with rolling off");
    assert_ne!(pair(&set[0]), cookie);
    assert_eq!(
        pair(&set[0]).split('.').next(),
        cookie.split('.').next(),
        "same id, new signature"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failure_is_an_error_and_changes_nothing() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = SessionManager::new(config().store(Arc::new(store.clone())).build().unwrap());
    let cookie = new_session(&m).await;
    store.fail(Op::Save, true);
    let s = request(&m, Some(&cookie));
    let err = s.insert("n", 2).await.unwrap_err();
    assert!(err.is_backend_failure(), "{err}");
    assert_eq!(
        s.get::<i64>("n").await.unwrap(),
        Some(1),
        "nothing half-applied"
    );
    store.fail(Op::Delete, true);
    assert!(s.destroy().await.unwrap_err().is_backend_failure());
    store.heal();
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(1),
        "the session survived both failures"
    );
    let s = request(&m, Some(&cookie));
    s.insert("n", 3).await.unwrap();
    s.finish().await.unwrap();
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(3),
        "recovered once the store did"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uninitialized_sessions_follow_save_uninitialized() {
    let off = SessionManager::new(config().build().unwrap());
    let s = request(&off, None);
    assert_eq!(s.get::<i64>("n").await.unwrap(), None);
    assert_eq!(s.id().await.unwrap(), None);
    assert!(s.finish().await.unwrap().is_empty());
    assert_eq!(off.stats().await.unwrap().live, 0);

    let on = SessionManager::new(config().save_uninitialized(true).build().unwrap());
    let s = request(&on, None);
    assert_eq!(s.get::<i64>("n").await.unwrap(), None);
    assert_eq!(s.finish().await.unwrap().len(), 1);
    assert_eq!(on.stats().await.unwrap().live, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_from_cookie_loads_outside_a_request() {
    let m = SessionManager::new(config().build().unwrap());
    let cookie = new_session(&m).await;
    let value = cookie.split_once('=').unwrap().1;
    let s = m.session_from_cookie(value);
    assert_eq!(s.get::<i64>("n").await.unwrap(), Some(1));
    assert!(s.id().await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_update_leaves_the_session_unchanged() {
    let m = SessionManager::new(config().build().unwrap());
    let cookie = new_session(&m).await;
    let s = request(&m, Some(&cookie));
    let err = s
        .update("n", |_: Option<i64>| -> i64 { panic!("user bug") })
        .await
        .unwrap_err();
    assert!(err.is_backend_failure());
    assert_eq!(read_n(&m, &cookie).await, Some(1));
    s.update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
        .await
        .unwrap();
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(2),
        "the actor survived the panic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_clock_expires_sessions_without_sleeping() {
    use livesession::clock::ManualClock;
    let clock = Arc::new(ManualClock::starting_now());
    let m = SessionManager::new(
        config()
            .clock(clock.clone())
            .max_age(Some(Duration::from_secs(3600)))
            .absolute_timeout(Some(Duration::from_secs(8 * 3600)))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    clock.advance(Duration::from_secs(3599));
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(1),
        "just inside the idle timeout"
    );
    clock.advance(Duration::from_secs(3601));
    assert_eq!(
        read_n(&m, &cookie).await,
        None,
        "idle for more than an hour"
    );

    let cookie = new_session(&m).await;
    // 12 steps of 50 min: active throughout, past the 8 h deadline at step 10.
    for _ in 0..12 {
        clock.advance(Duration::from_secs(3000));
        let alive = read_n(&m, &cookie).await;
        if alive.is_none() {
            return; // ended by the absolute deadline (8 h) despite activity
        }
    }
    panic!("the absolute timeout never ended the session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_a_change_and_keep_the_session() {
    use livesession::{Limits, SessionError};
    let m = SessionManager::new(
        config()
            .limits(
                Limits::default()
                    .max_keys(3)
                    .max_key_bytes(8)
                    .max_session_bytes(200),
            )
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    let s = request(&m, Some(&cookie));
    s.insert("a", 1).await.unwrap();
    s.insert("b", 2).await.unwrap();
    let too_many = s.insert("c", 3).await.unwrap_err();
    assert!(
        matches!(too_many, SessionError::LimitExceeded(_)),
        "{too_many}"
    );
    assert!(!too_many.is_backend_failure());
    let long_key = s.insert("much-too-long-key", 1).await.unwrap_err();
    assert!(matches!(long_key, SessionError::LimitExceeded(_)));
    let big = s.insert("a", "x".repeat(500)).await.unwrap_err();
    assert!(matches!(big, SessionError::LimitExceeded(_)));
    s.finish().await.unwrap();
    let data = request(&m, Some(&cookie)).data().await.unwrap();
    assert_eq!(data.len(), 3, "n, a, b: nothing of the refused changes");
    assert_eq!(data["a"], 1);
    // New sessions are held to the same limits.
    let fresh = request(&m, None);
    assert!(fresh.insert("big", "x".repeat(500)).await.is_err());
    assert!(fresh.finish().await.unwrap().is_empty(), "nothing created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_store_times_out_without_blocking_other_sessions() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = SessionManager::new(
        config()
            .store(Arc::new(store.clone()))
            .store_timeout(Duration::from_secs(1))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    let other = new_session(&m).await;
    store.hang(Op::Save, true);
    let hung = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move {
            let s = request(&m, Some(&cookie));
            s.insert("n", 2).await
        })
    };
    // Another session is served while the hung change is still waiting.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(read_n(&m, &other).await, Some(1));
    assert!(
        !hung.is_finished(),
        "the other session was served while the hung save was still waiting"
    );
    let err = hung.await.unwrap().unwrap_err();
    assert!(
        err.is_backend_failure() && err.to_string().contains("timed out"),
        "{err}"
    );
    store.heal();
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(1),
        "the timed-out change was not applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_sessions_leave_no_alarm_behind() {
    // Found by the `cookie` fuzz target: every created session parks an
    // alarm; a destroyed one must take it away, or memory grows with
    // sessions ever created instead of sessions live.
    let m = SessionManager::new(config().build().unwrap());
    for _ in 0..200 {
        let cookie = new_session(&m).await;
        let s = request(&m, Some(&cookie));
        s.destroy().await.unwrap();
        s.finish().await.unwrap();
    }
    assert_eq!(m.stats().await.unwrap().live, 0);
    assert_eq!(
        m.pending_alarms(),
        0,
        "destroyed sessions left alarms queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_domain_that_would_add_attributes_is_refused() {
    use livesession::{CookieOptions, SessionError};
    let m = SessionManager::new(config().build().unwrap());
    let cookie = new_session(&m).await;
    for bad in [
        "example.com; SameSite=None",
        "example.com\r\nX-Injected: 1",
        "exa mple.com",
        "",
    ] {
        // On a live session and on one this request is creating.
        for incoming in [Some(cookie.as_str()), None] {
            let s = request(&m, incoming);
            let refused = s.options(CookieOptions::default().domain(bad)).await;
            assert!(
                matches!(refused, Err(SessionError::Invalid(_))),
                "domain {bad:?} was accepted: {refused:?}"
            );
            s.insert("k", 1).await.unwrap();
            let set = s.finish().await.unwrap();
            assert!(
                set.iter()
                    .all(|c| !c.contains("Domain=") && !c.contains("SameSite=None")),
                "domain {bad:?} reached the cookie: {set:?}"
            );
        }
    }
    // A well-formed domain is still set.
    let s = request(&m, Some(&cookie));
    s.options(CookieOptions::default().domain("example.com"))
        .await
        .unwrap();
    let set = s.finish().await.unwrap();
    assert!(set[0].contains("; Domain=example.com"), "{set:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_max_age_set_without_an_owner_still_ends_the_session_on_time() {
    // In memory mode a change that finds no owner running is applied by its
    // request; one that brings the session's end closer must move its alarm
    // too, or the session outlives its end (and counts as live) until the
    // old, later alarm.
    use livesession::clock::ManualClock;
    use livesession::CookieOptions;
    let clock = Arc::new(ManualClock::starting_now());
    let m = SessionManager::new(
        config()
            .clock(clock.clone())
            .max_age(Some(Duration::from_secs(86_400)))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    let s = request(&m, Some(&cookie));
    s.options(CookieOptions::default().max_age(Duration::from_secs(60)))
        .await
        .unwrap();
    s.finish().await.unwrap();
    assert_eq!(m.stats().await.unwrap().live, 1);
    clock.advance(Duration::from_secs(61));
    // Nothing touches the session from here: only its alarm can end it.
    wait_until(
        async || m.stats().await.unwrap().live == 0,
        "the session ends at its shortened max age",
    )
    .await;
}
