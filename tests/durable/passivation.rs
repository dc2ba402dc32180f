//! Passivation: an idle live session is written to disk and its actor
//! stopped; the next request reactivates it.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::common::*;

/// `--passivate-after-ms 300`: `/stats` live falls to 0 while stored stays;
/// the cookie still reads its data and live goes back to 1.
async fn idle_sessions_passivate_and_come_back(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let srv = demo
        .start(Cfg::durable(dir.path()).args(&["--passivate-after-ms", "300"]))
        .await;
    let mut a = srv.agent();
    a.counter().await;
    a.put("obj", r#"{"deep": [1, {"x": null}]}"#).await;
    let (s, _) = srv.stats().await;
    assert!(s >= 1, "no live actor right after a request: live {s}");
    let ((live, stored), ok) = srv
        .wait_stats(Duration::from_secs(5), |live, _| live == 0)
        .await;
    assert!(
        ok,
        "live never fell to 0 with --passivate-after-ms 300: live {live}"
    );
    assert!(
        stored >= 1,
        "passivated session not in the store: stored {stored}"
    );

    let r = a.get("/session").await;
    r.expect(200);
    assert_eq!(
        r.json(),
        json!({"id": a.id(), "data": {"n": 1, "obj": {"deep": [1, {"x": null}]}}})
    );
    let (live, stored2) = srv.stats().await;
    assert_eq!(live, 1, "reactivated session: live {live}");
    assert!(stored2 >= 1);
    assert_eq!(a.counter().await, 2);

    // passivate again and restart: still there
    let (_, ok) = srv
        .wait_stats(Duration::from_secs(5), |live, _| live == 0)
        .await;
    assert!(ok);
    let cookie = a.cookie.clone().unwrap();
    drop(a);
    let mut srv = srv;
    srv.stop().await;
    let srv = srv.restart().await;
    let mut a = srv.agent_with(&cookie);
    assert_eq!(a.read().await, 2);
}

/// Revoke reaches sessions that are only on disk; logout of a passivated
/// session destroys it; concurrent requests reactivating one passivated
/// session all see the same data and lose no increment.
async fn passivated_sessions_revoke_logout_concurrency(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let srv = demo
        .start(Cfg::durable(dir.path()).args(&["--passivate-after-ms", "300"]))
        .await;
    let mut bobs = Vec::new();
    for _ in 0..2 {
        let mut b = srv.agent();
        b.login("bob").await;
        bobs.push(b.cookie.clone().unwrap());
    }
    let mut live_bob = srv.agent();
    live_bob.login("bob").await;
    let mut x = srv.agent();
    x.put("secret", "1").await;
    let xc = x.cookie.clone().unwrap();
    let mut c = srv.agent();
    c.put("seed", "1").await;
    let cc = c.cookie.clone().unwrap();

    let (s, ok) = srv
        .wait_stats(Duration::from_secs(5), |live, _| live == 0)
        .await;
    assert!(ok, "live never fell to 0: {s:?}");
    // one bob is live again, two are on disk only
    assert_eq!(live_bob.me().await.as_deref(), Some("bob"));
    let r = srv
        .send(Method::POST, "/users/bob/revoke", None, None, &[])
        .await;
    assert_eq!(
        r.json(),
        json!({"revoked": 3}),
        "revoke must reach passivated sessions: {r:?}"
    );
    for c in bobs.iter().chain([live_bob.cookie.as_ref().unwrap()]) {
        let mut b = srv.agent_with(c);
        assert_eq!(b.me().await, None, "a revoked session is still logged in");
    }

    // logout reactivates then destroys
    let mut x = srv.agent_with(&xc);
    x.post("/logout").await.expect(204);
    let mut x = srv.agent_with(&xc);
    assert_eq!(x.session().await, json!({"id": null, "data": {}}));

    // many concurrent requests waking up one passivated session
    let (_, ok) = srv
        .wait_stats(Duration::from_secs(5), |live, _| live == 0)
        .await;
    assert!(ok);
    let c = srv.agent_with(&cc);
    let resps =
        futures::future::join_all((0..64).map(|_| c.peek(Method::GET, "/counter", None))).await;
    let mut vals: Vec<i64> = resps.iter().map(|r| r.expect(200).int()).collect();
    vals.sort();
    assert_eq!(vals, (1..=64).collect::<Vec<i64>>(), "reactivation raced");
    let (live, _) = srv.stats().await;
    assert_eq!(live, 1, "one session woke up as {live} actors");
}

scenarios!(
    idle_sessions_passivate_and_come_back,
    passivated_sessions_revoke_logout_concurrency,
);
