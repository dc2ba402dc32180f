//! Expiry with the durable store: across restarts, and expired records
//! leave the store within 10 s.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::*;

/// An idle timeout that passes while the server is down still ends the
/// session.
async fn idle_expiry_across_restart(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo
        .start(Cfg::durable(dir.path()).args(&["--max-age-ms", "1500"]))
        .await;
    let mut a = srv.agent();
    a.put("secret", "1").await;
    let last = Instant::now();
    let c = a.cookie.clone().unwrap();
    srv.stop().await;
    let wait = (last + Duration::from_millis(2000)).saturating_duration_since(Instant::now());
    tokio::time::sleep(wait).await;
    let srv = srv.restart().await;
    let mut a = srv.agent_with(&c);
    assert_eq!(
        a.session().await,
        json!({"id": null, "data": {}}),
        "a session idle past its max age while the server was down came back"
    );
}

/// The absolute end holds across a restart, however active the session.
async fn absolute_expiry_across_restart(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo
        .start(Cfg::durable(dir.path()).args(&[
            "--max-age-ms",
            "60000",
            "--absolute-timeout-ms",
            "2500",
        ]))
        .await;
    let mut a = srv.agent();
    let r = a.get("/counter").await;
    let created = r.sent;
    let c = a.cookie.clone().unwrap();
    srv.stop().await;
    let srv = srv.restart().await;
    let mut a = srv.agent_with(&c);
    let r = a.get("/read").await;
    if r.sent < created + Duration::from_millis(2000) {
        r.expect_body(200, "1");
    }
    // keep it busy until past the absolute end
    let until = created + Duration::from_millis(2900);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = srv.agent_with(&c).read().await;
    }
    let mut a = srv.agent_with(&c);
    assert_eq!(
        a.read().await,
        0,
        "session served past its absolute end across a restart"
    );
}

/// Expired records leave the durable store (`/stats` stored falls) within
/// 10 s of expiring.
async fn expired_records_leave_the_store(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let srv = demo
        .start(Cfg::durable(dir.path()).args(&["--max-age-ms", "500"]))
        .await;
    let (_, stored0) = srv.stats().await;
    let mut last = Instant::now();
    for _ in 0..3 {
        let mut a = srv.agent();
        a.counter().await;
        last = Instant::now();
    }
    let (s, ok) = srv
        .wait_stats(Duration::from_secs(3), |_, stored| stored >= stored0 + 3)
        .await;
    assert!(
        ok,
        "three sessions never reached the store with --durability sync: {s:?}"
    );
    let deadline = last + Duration::from_millis(500) + Duration::from_secs(10);
    let (s, ok) = srv
        .wait_stats(
            deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(500),
            |_, stored| stored <= stored0,
        )
        .await;
    assert!(
        ok,
        "expired records still in the store 10 s after expiry: (live, stored) = {s:?}"
    );
}

scenarios!(
    idle_expiry_across_restart,
    absolute_expiry_across_restart,
    expired_records_leave_the_store,
);
