//! Idle and absolute expiry. These sleep, so they are kept short.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// `--max-age-ms 400`: after ~700 ms idle the cookie starts a fresh session
/// (data gone, new id).
async fn idle_timeout_expires_session(demo: Demo) {
    let srv = demo.memory(&["--max-age-ms", "400"]).await;
    let mut a = srv.agent();
    a.put("secret", r#""x""#).await;
    assert_eq!(a.counter().await, 1);
    let old = a.cookie.clone().unwrap();
    let old_id = a.id();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut b = srv.agent_with(&old);
    assert_eq!(
        b.session().await,
        json!({"id": null, "data": {}}),
        "expired data served"
    );
    let mut b = srv.agent_with(&old);
    let r = b.get("/counter").await;
    r.expect_body(200, "1");
    let id = r.cookie_id().expect("a new cookie for the new session");
    assert_ne!(id, old_id, "the expired id was reused");
    // and it stays gone
    let mut c = srv.agent_with(&old);
    assert_eq!(c.read().await, 0);
}

/// Reads every 200 ms for 1.2 s keep a 400 ms idle session alive (reads
/// extend the idle timeout), with rolling on and off.
async fn reads_extend_idle_timeout(demo: Demo) {
    for rolling in ["true", "false"] {
        let srv = demo
            .memory(&["--max-age-ms", "400", "--rolling", rolling])
            .await;
        let mut a = srv.agent();
        assert_eq!(a.counter().await, 1);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1200) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let r = a.get("/read").await;
            assert_eq!(
                (r.status, r.body.as_str()),
                (200, "1"),
                "--rolling {rolling}: session expired despite reads every 200 ms at {:?}: {r:?}",
                start.elapsed()
            );
        }
        assert_eq!(a.counter().await, 2);
    }
}

/// `--absolute-timeout-ms 800` with a 10 s idle timeout: requests every
/// 150 ms do not keep it past ~800 ms.
async fn absolute_timeout_ends_active_session(demo: Demo) {
    let srv = demo
        .memory(&["--max-age-ms", "10000", "--absolute-timeout-ms", "800"])
        .await;
    let mut a = srv.agent();
    let t0 = Instant::now();
    let r = a.get("/counter").await;
    r.expect_body(200, "1");
    let created = r.received;
    let cookie = a.cookie.clone().unwrap();
    let old_id = a.id();
    let mut saw_gone = false;
    while t0.elapsed() < Duration::from_millis(1300) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let b = srv.agent_with(&cookie);
        let r = b.peek(reqwest::Method::GET, "/read", None).await;
        r.expect(200);
        if r.sent < t0 + Duration::from_millis(600) {
            assert_eq!(r.body, "1", "session gone before its absolute end: {r:?}");
        }
        if r.sent > created + Duration::from_millis(950) {
            assert_eq!(r.body, "0", "session served past its absolute end: {r:?}");
            saw_gone = true;
        }
    }
    assert!(saw_gone);
    let mut b = srv.agent_with(&cookie);
    assert_eq!(b.counter().await, 1);
    assert_ne!(b.id(), old_id);
}

/// A new id (login) restarts the absolute clock.
async fn login_restarts_absolute_clock(demo: Demo) {
    let srv = demo
        .memory(&["--max-age-ms", "10000", "--absolute-timeout-ms", "800"])
        .await;
    let mut a = srv.agent();
    a.counter().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t_login = Instant::now();
    a.login("alice").await;
    let after_login = Instant::now();
    // past the first session's absolute end, within the new one's
    tokio::time::sleep(Duration::from_millis(450)).await;
    let r = a.get("/me").await;
    if r.sent < t_login + Duration::from_millis(700) {
        assert_eq!(
            r.status, 200,
            "login did not restart the absolute clock: {r:?}"
        );
    }
    // past the new one's end
    let wait =
        (after_login + Duration::from_millis(1000)).saturating_duration_since(Instant::now());
    tokio::time::sleep(wait).await;
    assert_eq!(
        a.me().await,
        None,
        "logged-in session outlived its absolute timeout"
    );
}

scenarios!(
    idle_timeout_expires_session,
    reads_extend_idle_timeout,
    absolute_timeout_ends_active_session,
    login_restarts_absolute_clock,
);
