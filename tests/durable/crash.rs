//! SIGKILL: with `--durability sync` (default) an acknowledged change is on
//! disk before its response, so nothing acknowledged is lost, and destroyed
//! ids stay destroyed.

use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::common::*;

/// kill -9 during concurrent `/counter` load on one session: every value
/// acknowledged with 200 is <= the value read after restart, and that value
/// is >= the number of acknowledged increments.
async fn kill9_during_counter_load_loses_no_ack(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo.start(Cfg::durable(dir.path())).await;
    let mut a = srv.agent();
    a.put("seed", "true").await;
    let cookie = a.cookie.clone().unwrap();

    let worker = |_: usize| {
        let a = srv.agent_with(&cookie);
        async move {
            let mut acks = Vec::new();
            let mut other = Vec::new();
            for _ in 0..5000 {
                match a.try_peek(Method::GET, "/counter", None).await {
                    Ok(r) if r.status == 200 => acks.push(r.int()),
                    Ok(r) => other.push(format!("{r:?}")),
                    Err(_) => break,
                }
            }
            (acks, other)
        }
    };
    let killer = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        srv.signal(libc::SIGKILL);
    };
    let (results, ()) = futures::join!(join_all((0..6).map(worker)), killer);
    srv.kill9();
    let mut acks: Vec<i64> = Vec::new();
    for (a, other) in results {
        assert!(other.is_empty(), "non-200 answers under load: {other:?}");
        acks.extend(a);
    }
    assert!(
        acks.len() >= 10,
        "too few acknowledged increments ({}) to mean anything",
        acks.len()
    );
    let mut sorted = acks.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        acks.len(),
        "two 200 answers carried the same value"
    );

    let srv = srv.restart().await;
    let mut a = srv.agent_with(&cookie);
    let fin = a.read().await;
    let max = *sorted.last().unwrap();
    eprintln!(
        "{}: {} acknowledged increments (max {max}), {fin} after kill -9 and restart",
        demo.name(),
        acks.len()
    );
    assert!(
        max <= fin,
        "acknowledged value {max} lost: read {fin} after kill -9 ({} acks)",
        acks.len()
    );
    assert!(
        fin >= acks.len() as i64,
        "final {fin} < {} acknowledged increments",
        acks.len()
    );
    assert_eq!(a.session().await["data"]["seed"], json!(true));
}

/// kill -9 right after concurrent writes to many sessions and keys: all
/// acknowledged writes are there after restart.
async fn kill9_keeps_acknowledged_writes(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo.start(Cfg::durable(dir.path())).await;
    let cookies = join_all((0..16).map(|s| {
        let srv = &srv;
        async move {
            let mut a = srv.agent();
            a.put("owner", &s.to_string()).await;
            let puts = (0..8).map(|k| {
                a.peek(
                    Method::PUT,
                    format!("/session/k{k}"),
                    Some(Body::Json(json!([s, k]).to_string())),
                )
            });
            for r in join_all(puts).await {
                r.expect(204);
            }
            a.cookie.clone().unwrap()
        }
    }))
    .await;
    srv.kill9();
    let srv = srv.restart().await;
    for (s, c) in cookies.iter().enumerate() {
        let mut a = srv.agent_with(c);
        let data = a.session().await["data"].clone();
        assert_eq!(data["owner"], json!(s), "session {s} lost: {data}");
        for k in 0..8 {
            assert_eq!(
                data[format!("k{k}")],
                json!([s, k]),
                "session {s} key k{k} lost: {data}"
            );
        }
    }
}

/// logout, revoke and regenerate hold across kill -9, each one being the
/// last thing the server did before SIGKILL (so no later write can flush it
/// by accident).
async fn destroyed_ids_stay_destroyed_across_kill9(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo.start(Cfg::durable(dir.path())).await;
    let mut failures = Vec::new();

    // bound sessions that must survive everything below
    let mut carol = srv.agent();
    carol.login("carol").await;
    let carol_c = carol.cookie.clone().unwrap();

    // 1. logout, then kill -9
    let mut out = srv.agent();
    out.login("dave").await;
    out.put("secret", "1").await;
    let out_c = out.cookie.clone().unwrap();
    out.post("/logout").await.expect(204);
    drop(out);
    srv.kill9();
    let mut srv = srv.restart().await;
    check_dead(&srv, "logged out", &out_c, &mut failures).await;

    // 2. revoke, then kill -9
    let mut bobs = Vec::new();
    for _ in 0..2 {
        let mut b = srv.agent();
        b.login("bob").await;
        b.put("secret", "1").await;
        bobs.push(b.cookie.clone().unwrap());
    }
    let r = srv
        .send(Method::POST, "/users/bob/revoke", None, None, &[])
        .await;
    assert_eq!(r.json(), json!({"revoked": 2}), "{r:?}");
    srv.kill9();
    let mut srv = srv.restart().await;
    for c in &bobs {
        check_dead(&srv, "revoked", c, &mut failures).await;
    }
    let r = srv
        .send(Method::POST, "/users/bob/revoke", None, None, &[])
        .await;
    if r.json() != json!({"revoked": 0}) {
        failures.push(format!("revoking bob again after kill -9: {r:?}"));
    }

    // 3. regenerate, then kill -9
    let mut regen = srv.agent();
    regen.put("secret", "1").await;
    regen.put("kept", "2").await;
    let regen_old = regen.cookie.clone().unwrap();
    regen.post("/regenerate?keep=kept").await.expect(204);
    let regen_new = regen.cookie.clone().unwrap();
    drop(regen);
    srv.kill9();
    let srv = srv.restart().await;
    check_dead(&srv, "regenerated away", &regen_old, &mut failures).await;
    let mut n = srv.agent_with(&regen_new);
    assert_eq!(n.session().await["data"], json!({"kept": 2}));

    let mut c = srv.agent_with(&carol_c);
    assert_eq!(c.me().await.as_deref(), Some("carol"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn check_dead(srv: &Server, what: &str, cookie: &str, failures: &mut Vec<String>) {
    let mut x = srv.agent_with(cookie);
    let s = x.session().await;
    if s != json!({"id": null, "data": {}}) {
        failures.push(format!("{what} id came back after kill -9: /session {s}"));
    }
    let mut x = srv.agent_with(cookie);
    if let Some(u) = x.me().await {
        failures.push(format!("{what} id: /me is {u:?} after kill -9"));
    }
}

scenarios!(
    kill9_during_counter_load_loses_no_ack,
    kill9_keeps_acknowledged_writes,
    destroyed_ids_stay_destroyed_across_kill9,
);
