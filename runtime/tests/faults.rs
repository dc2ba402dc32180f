//! The runtime's guarantees under store faults, cancelled requests and
//! unusual races: one owner per session, no resurrection, and nothing shown
//! to a client that is not durable.

mod common;

use common::*;
use livesession::clock::ManualClock;
use livesession::store::{MemoryStore, SessionStore};
use livesession::testing::{FaultyStore, Op};
use livesession::SessionManager;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_load_leaves_one_owner_for_the_session() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    passivated(&m).await;

    // The first load fails after 50 ms; a second request waits on the same
    // activation meanwhile, and a third arrives after the failure.
    store.delay(Op::Load, Duration::from_millis(50));
    store.fail_next(Op::Load, 1);
    let first = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move { request(&m, Some(&cookie)).get::<i64>("n").await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let second = request(&m, Some(&cookie));
    let waiting = {
        let second = second.clone();
        tokio::spawn(async move { second.get::<i64>("n").await })
    };
    assert!(first.await.unwrap().is_err(), "the injected load failure");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let third = request(&m, Some(&cookie));
    let _ = third.get::<i64>("n").await;
    let _ = waiting.await.unwrap();
    store.delay(Op::Load, Duration::ZERO);

    second
        .update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
        .await
        .unwrap();
    second.finish().await.unwrap();
    third
        .update("n", |n: Option<i64>| n.unwrap_or(0) + 100)
        .await
        .unwrap();
    third.finish().await.unwrap();
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(102),
        "both changes went through one owner"
    );
    assert_eq!(m.stats().await.unwrap().live, 1, "one live session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_activation_leaves_no_registry_state() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    passivated(&m).await;

    store.delay(Op::Load, Duration::from_millis(100));
    let s = request(&m, Some(&cookie));
    let cancelled = tokio::time::timeout(Duration::from_millis(20), s.get::<i64>("n")).await;
    assert!(cancelled.is_err(), "the request was dropped mid-load");
    drop(s);
    store.delay(Op::Load, Duration::ZERO);
    // Whatever the dropped request started settles by itself: the session
    // either became live (and passivates again) or left no trace.
    passivated(&m).await;
    assert_eq!(read_n(&m, &cookie).await, Some(1), "the session is intact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_fails_the_change_and_shows_nothing() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    store.fail(Op::Flush, true);
    let s = request(&m, Some(&cookie));
    let err = s
        .update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
        .await
        .expect_err("a change that is not durable is not acknowledged");
    assert!(err.is_backend_failure(), "{err}");
    store.heal();
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(1),
        "the failed change is not shown to a later request"
    );
    // Passivation writes the published state back, not the failed write.
    passivated(&m).await;
    assert_eq!(read_n(&m, &cookie).await, Some(1), "nor after passivation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_shown_only_once_it_is_durable() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    store.delay(Op::Flush, Duration::from_millis(300));
    let writer = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move { increment(&m, &cookie).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(1),
        "a read during the flush sees the last durable value"
    );
    writer.await.unwrap();
    store.delay(Op::Flush, Duration::ZERO);
    assert_eq!(read_n(&m, &cookie).await, Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_share_one_write_and_one_flush() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    store.delay(Op::Flush, Duration::from_millis(50));
    let (saves, flushes) = (store.calls(Op::Save), store.calls(Op::Flush));
    increment_concurrently(std::slice::from_ref(&m), &cookie, 64).await;
    store.delay(Op::Flush, Duration::ZERO);
    assert_eq!(read_n(&m, &cookie).await, Some(65), "no update lost");
    let (saves, flushes) = (
        store.calls(Op::Save) - saves,
        store.calls(Op::Flush) - flushes,
    );
    assert!(
        saves <= 16 && flushes <= 16,
        "64 concurrent changes were batched: {saves} saves, {flushes} flushes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_flushed_unless_the_store_made_them_durable_when_they_completed() {
    for durable_on_completion in [false, true] {
        let store = FaultyStore::new(MemoryStore::new());
        store.durable_on_completion(durable_on_completion);
        let m = durable(&store);
        // A store whose completed writes are durable (the sled store with
        // sync durability) needs no barrier after the runtime's own write.
        let expected = if durable_on_completion { 0 } else { 1 };
        let flushes = || store.calls(Op::Flush);

        let before = (store.calls(Op::Create), flushes());
        let cookie = new_session(&m).await;
        assert_eq!(store.calls(Op::Create) - before.0, 1);
        assert_eq!(
            flushes() - before.1,
            expected,
            "create, durable on completion: {durable_on_completion}"
        );

        let before = (store.calls(Op::Save), flushes());
        increment_concurrently(std::slice::from_ref(&m), &cookie, 1).await;
        assert_eq!(read_n(&m, &cookie).await, Some(2));
        assert_eq!(store.calls(Op::Save) - before.0, 1);
        assert_eq!(
            flushes() - before.1,
            expected,
            "change, durable on completion: {durable_on_completion}"
        );

        let before = (store.calls(Op::Delete), flushes());
        let s = request(&m, Some(&cookie));
        s.destroy().await.unwrap();
        s.finish().await.unwrap();
        assert_eq!(store.calls(Op::Delete) - before.0, 1);
        assert_eq!(
            flushes() - before.1,
            expected,
            "end, durable on completion: {durable_on_completion}"
        );
        assert_eq!(read_n(&m, &cookie).await, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_options_are_flushed_before_they_are_acknowledged() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    store.fail(Op::Flush, true);
    let s = request(&m, Some(&cookie));
    let options = livesession::CookieOptions::default().max_age(Duration::from_secs(60));
    let outcome = match s.options(options).await {
        Ok(()) => s.finish().await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert!(
        outcome.is_err(),
        "an options() change that could not be flushed must not be acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_passivation_backs_off() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable_after(&store, Duration::from_millis(20));
    let cookie = new_session(&m).await;
    // A read moves the idle clock, so passivation has an expiry to write.
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(read_n(&m, &cookie).await, Some(1));
    store.fail(Op::Save, true);
    let before = store.calls(Op::Save);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let attempts = store.calls(Op::Save) - before;
    assert!(
        (1..=3).contains(&attempts),
        "a failing passivation is retried with back-off, not in a loop: {attempts} attempts in 600 ms"
    );
    store.heal();
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(1),
        "the session stayed live"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_woken_by_its_alarm_hibernates_again_at_once() {
    let m = SessionManager::new(
        common::config()
            .hibernate_after(Duration::from_millis(300))
            .max_age(Some(Duration::from_millis(2000)))
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(m.pending_alarms(), 1, "the owner hibernated");
    // A read moves the idle end to ~3 s; the alarm parked for ~2 s finds
    // nothing due and must park again at once.
    assert_eq!(read_n(&m, &cookie).await, Some(1));
    tokio::time::sleep(Duration::from_millis(1150)).await;
    assert_eq!(
        m.pending_alarms(),
        1,
        "the alarm-woken owner went back to sleep without waiting out hibernate_after"
    );
    assert_eq!(read_n(&m, &cookie).await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_closure_may_call_back_into_its_session() {
    let m = SessionManager::new(config().build().unwrap());
    let s = request(&m, None);
    let inside = s.clone();
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        s.update("n", move |n: Option<i64>| {
            n.unwrap_or(0) + i64::from(inside.is_modified())
        }),
    )
    .await
    .expect("the closure must not deadlock on the session's own lock")
    .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_after_a_memory_mode_shutdown_answer_at_once() {
    let m = SessionManager::new(config().build().unwrap());
    let cookie = new_session(&m).await;
    m.shutdown().await.unwrap();
    let s = request(&m, Some(&cookie));
    let read = tokio::time::timeout(Duration::from_secs(2), s.get::<i64>("n"))
        .await
        .expect("a lookup after shutdown must not wait for a retired session");
    assert_eq!(read.unwrap(), None, "the session ended with the process");
    assert_eq!(m.stats().await.unwrap().live, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_used_after_its_response_refuses_every_call() {
    let m = SessionManager::new(config().build().unwrap());
    let cookie = new_session(&m).await;
    let s = request(&m, Some(&cookie));
    assert_eq!(s.get::<i64>("n").await.unwrap(), Some(1));
    s.finish().await.unwrap();
    let late = s.insert("n", 99).await.unwrap_err();
    assert!(
        matches!(late, livesession::SessionError::Finished),
        "a write after the response: {late}"
    );
    assert!(
        s.get::<i64>("n").await.is_err(),
        "a read after the response"
    );
    assert!(s.destroy().await.is_err(), "a destroy after the response");
    assert_eq!(read_n(&m, &cookie).await, Some(1), "nothing changed");

    // A new session used after its response is never created.
    let fresh = request(&m, None);
    assert!(fresh.finish().await.unwrap().is_empty());
    assert!(fresh.insert("n", 1).await.is_err());
    assert!(fresh.save().await.is_err());
    assert_eq!(m.stats().await.unwrap().live, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cookie_does_not_clear_a_fresh_login() {
    let m = SessionManager::new(config().build().unwrap());
    let old = new_session(&m).await;
    // The browser sends a request with the old cookie, then logs in.
    let stale = request(&m, Some(&old));
    assert_eq!(stale.get::<i64>("n").await.unwrap(), Some(1));
    let login = request(&m, Some(&old));
    login.regenerate(&[]).await.unwrap();
    login.bind_user("alice").await.unwrap();
    let new = pair(&login.finish().await.unwrap()[0]);
    // The stale request answers after the login: it must not clear the cookie.
    let set = stale.finish().await.unwrap();
    assert!(
        set.is_empty(),
        "a request sent before the login cleared the new cookie: {set:?}"
    );
    // Nor does a request that arrives with the old id after the login.
    let late = request(&m, Some(&old));
    assert_eq!(late.get::<i64>("n").await.unwrap(), None);
    assert!(late.finish().await.unwrap().is_empty());

    // The same after a logout.
    let logout = request(&m, Some(&new));
    logout.destroy().await.unwrap();
    let cleared = logout.finish().await.unwrap();
    assert!(
        cleared[0].contains("Max-Age=0"),
        "logout clears: {cleared:?}"
    );
    let after = request(&m, Some(&new));
    assert_eq!(after.get::<i64>("n").await.unwrap(), None);
    assert!(after.finish().await.unwrap().is_empty());

    // An id the server never knew is still cleared, as fastify does.
    let signer = livesession::signing::HmacSigner::new([SECRET]).unwrap();
    let unknown = livesession::signing::Signer::sign(&signer, &"A".repeat(32));
    let s = request(&m, Some(&format!("sessionId={unknown}")));
    assert_eq!(s.get::<i64>("n").await.unwrap(), None);
    let set = s.finish().await.unwrap();
    assert!(
        set[0].contains("Max-Age=0"),
        "unknown ids are cleared: {set:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clearing_cookie_keeps_the_attributes_it_was_set_with() {
    let m = SessionManager::new(
        config()
            .cookie_name("__Host-sid")
            .secure(livesession::Secure::Always)
            .partitioned(true)
            .same_site(Some(livesession::SameSite::None))
            .build()
            .unwrap(),
    );
    let s = request(&m, None);
    s.insert("n", 1).await.unwrap();
    s.options(livesession::CookieOptions::default().domain("example.com"))
        .await
        .unwrap();
    let set = s.finish().await.unwrap();
    let cookie = pair(&set[0]);
    let logout = request(&m, Some(&cookie));
    logout.destroy().await.unwrap();
    let cleared = logout.finish().await.unwrap();
    let cleared = &cleared[0];
    for attribute in [
        "Max-Age=0",
        "Secure",
        "Partitioned",
        "SameSite=None",
        "Domain=example.com",
        "Path=/",
    ] {
        assert!(
            cleared.contains(attribute),
            "the clear lacks {attribute}: {cleared}"
        );
    }
    assert!(!cleared.contains("SameSite=Lax"), "{cleared}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_reaches_a_login_still_inside_its_request() {
    for durable_store in [false, true] {
        let store = FaultyStore::new(MemoryStore::new());
        let m = if durable_store {
            durable(&store)
        } else {
            SessionManager::new(config().build().unwrap())
        };
        let s = request(&m, None);
        s.insert("n", 1).await.unwrap();
        s.bind_user("alice").await.unwrap();
        let cookie = pair(&s.finish().await.unwrap()[0]);

        // A regenerate (login refresh) is in flight: the new session exists
        // only inside its request when the revoke runs.
        let login = request(&m, Some(&cookie));
        login.regenerate(&["n"]).await.unwrap();
        assert_eq!(m.revoke_user("alice").await.unwrap(), 0);
        let set = login.finish().await.unwrap();
        assert!(
            set.iter().all(|c| c.contains("Max-Age=0")),
            "a session bound to alice before the revoke was created after it: {set:?}"
        );
        // A fresh session bound in a request still open is revoked too.
        let fresh = request(&m, None);
        fresh.bind_user("alice").await.unwrap();
        fresh.insert("n", 5).await.unwrap();
        m.revoke_user("alice").await.unwrap();
        let set = fresh.finish().await.unwrap();
        assert!(set.is_empty(), "durable={durable_store}: {set:?}");
    }
}

/// A manager over a `FaultyStore` with a manual clock, whose owners stay
/// up (a hibernated session has nothing to write), and `store_timeout`.
fn owners_kept_up(
    store_timeout: Duration,
) -> (FaultyStore<MemoryStore>, Arc<ManualClock>, SessionManager) {
    let clock = Arc::new(ManualClock::starting_now());
    let store = FaultyStore::new(MemoryStore::new());
    let m = SessionManager::new(
        config()
            .store(Arc::new(store.clone()))
            .clock(clock.clone())
            .hibernate_after(Duration::from_secs(600))
            .store_timeout(store_timeout)
            .build()
            .unwrap(),
    );
    (store, clock, m)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_writes_live_sessions_out_concurrently() {
    // A store that commits in groups (sled with sync durability) answers a
    // write only after its group's flush: written one after the other, 10k
    // sessions took ~0.6 s; written together they share flushes.
    let (store, clock, m) = owners_kept_up(Duration::from_secs(600));
    const LIVE: u64 = 8;
    let mut cookies = Vec::new();
    for _ in 0..LIVE {
        cookies.push(new_session(&m).await);
    }
    // Read an hour on: every session's idle expiry moved later than the
    // stored one (refreshed lazily), so shutdown writes each out.
    clock.advance(Duration::from_secs(3600));
    for cookie in &cookies {
        read_n(&m, cookie).await;
    }
    let saves_before = store.calls(Op::Save);
    store.hang(Op::Save, true);
    let shutdown = {
        let m = m.clone();
        tokio::spawn(async move { m.shutdown().await })
    };
    wait_until(
        async || store.calls(Op::Save) - saves_before == LIVE,
        "all live sessions' writes are under way at once",
    )
    .await;
    shutdown.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_under_a_hanging_store_queue_one_expiry_write_back_at_a_time() {
    // Every read of a session whose stored expiry lags asks its owner to
    // write the expiry back. With the store hanging, each such write waits
    // out its deadline and grace; queued one per read, they kept the owner
    // (and a shutdown's retire behind them) busy for reads x that long.
    let (store, clock, m) = owners_kept_up(Duration::from_millis(40));
    let cookie = new_session(&m).await;
    clock.advance(Duration::from_secs(8 * 3600)); // a third of the max age on
    store.hang(Op::Save, true);
    let saves_before = store.calls(Op::Save);
    const READS: u64 = 20;
    for _ in 0..READS {
        assert_eq!(read_n(&m, &cookie).await, Some(1));
    }
    // Shutdown's retire waits for whatever the owner has queued first.
    let _ = m.shutdown().await;
    let saves = store.calls(Op::Save) - saves_before;
    assert!(
        saves <= 4,
        "{saves} saves for {READS} reads and a shutdown: each read queued a write-back of its own"
    );
}

/// A new session whose store write was under way when shutdown began is
/// refused, not left live behind shutdown's back: a change to it would be
/// acknowledged after shutdown's last flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_created_across_shutdown_is_refused() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    store.delay(Op::Create, Duration::from_millis(200));
    let creating = {
        let m = m.clone();
        tokio::spawn(async move {
            let s = request(&m, None);
            s.insert("n", 1).await?;
            s.finish().await
        })
    };
    wait_until(
        async || store.calls(Op::Create) > 0,
        "the new session's store write has started",
    )
    .await;
    m.shutdown().await.unwrap();
    let created = creating.await.unwrap();
    assert!(
        created
            .as_ref()
            .is_err_and(|e| e.to_string().contains("shutting down")),
        "a session created across shutdown: {created:?}"
    );
    assert_eq!(m.stats().await.unwrap().live, 0, "nothing left live");
}

/// A session being activated from the store when shutdown began is not
/// served: shutdown has written out the sessions it listed, and a change to
/// this one would be acknowledged after its last flush.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_activated_across_shutdown_is_not_served() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    passivated(&m).await;
    store.delay(Op::Load, Duration::from_millis(200));
    let loads = store.calls(Op::Load);
    let reading = {
        let (m, cookie) = (m.clone(), cookie.clone());
        tokio::spawn(async move {
            let s = request(&m, Some(&cookie));
            s.insert("n", 2).await
        })
    };
    wait_until(
        async || store.calls(Op::Load) > loads,
        "the activation's load has started",
    )
    .await;
    m.shutdown().await.unwrap();
    let written = reading.await.unwrap();
    assert!(
        matches!(&written, Err(livesession::SessionError::Unavailable(why)) if why.contains("shutting down")),
        "a change to a session activated across shutdown: {written:?}"
    );
    assert_eq!(m.stats().await.unwrap().live, 0, "nothing left live");
}

/// A store that panics while a session is activated fails that request and
/// frees the session's registry slot: the next request loads it afresh
/// instead of waiting forever on a slot nobody settles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_panic_during_activation_fails_the_request_and_frees_the_slot() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    let cookie = new_session(&m).await;
    passivated(&m).await;
    store.panic(Op::Load, true);
    let read = tokio::time::timeout(
        Duration::from_secs(2),
        request(&m, Some(&cookie)).get::<i64>("n"),
    )
    .await
    .expect("a request during a panicking activation must not hang");
    assert!(read.is_err(), "{read:?}");
    store.panic(Op::Load, false);
    let again = tokio::time::timeout(Duration::from_secs(2), read_n(&m, &cookie))
        .await
        .expect("the slot of the failed activation was freed");
    assert_eq!(again, Some(1));
}

/// A request dropped while its new session is being written leaves no
/// record behind: its id was never sent, and a record bound to a user
/// would be listed among that user's sessions until it expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dropped_while_creating_its_session_leaves_no_record() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = durable(&store);
    store.delay(Op::Flush, Duration::from_millis(200));
    let creating = {
        let m = m.clone();
        tokio::spawn(async move {
            let s = request(&m, None);
            s.insert("n", 1).await.unwrap();
            s.bind_user("alice").await.unwrap();
            s.finish().await
        })
    };
    wait_until(
        async || store.calls(Op::Flush) > 0,
        "the new session's record is written and being flushed",
    )
    .await;
    creating.abort();
    assert!(creating.await.is_err(), "the request was dropped");
    store.delay(Op::Flush, Duration::ZERO);
    wait_until(
        async || store.inner().count().await.unwrap() == 0,
        "the dropped request's record is deleted",
    )
    .await;
    assert!(m.sessions_of_user("alice").await.unwrap().is_empty());
}

/// A request dropped while the store refuses its new session's id (taken
/// by another session: a custom id generator can collide) must not delete
/// that other session's record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_create_never_deletes_another_sessions_record() {
    let store = FaultyStore::new(MemoryStore::new());
    let m = SessionManager::new(
        config()
            .store(Arc::new(store.clone()))
            .passivate_after(Duration::from_millis(50))
            .id_generator(|| "the-same-id-every-time-0123456789abcdef".to_string())
            .build()
            .unwrap(),
    );
    let cookie = new_session(&m).await;
    passivated(&m).await; // out of the registry: only the store knows the id
    store.delay(Op::Create, Duration::from_millis(100));
    let creates = store.calls(Op::Create);
    let colliding = {
        let m = m.clone();
        tokio::spawn(async move {
            let s = request(&m, None);
            s.insert("n", 2).await?;
            s.save().await
        })
    };
    wait_until(
        async || store.calls(Op::Create) > creates,
        "the colliding create has started",
    )
    .await;
    colliding.abort();
    assert!(colliding.await.is_err(), "the request was dropped");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        read_n(&m, &cookie).await,
        Some(1),
        "the first session's record stays"
    );
}
