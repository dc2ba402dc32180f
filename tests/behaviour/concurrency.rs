//! Concurrent requests on one session: no lost updates, and a destroyed,
//! regenerated-away or revoked id never comes back.

use std::collections::BTreeSet;

use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::common::*;

const N: usize = 256;

/// N concurrent `GET /counter` on one cookie: the returned values are
/// exactly 1..=N and the final `/read` is N.
async fn concurrent_counter_loses_nothing(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("seed", "true").await;
    let id = a.id();
    let reqs = (0..N).map(|_| a.peek(Method::GET, "/counter", None));
    let resps = join_all(reqs).await;
    let mut values = BTreeSet::new();
    for r in &resps {
        r.expect(200);
        values.insert(r.int());
        if let Some(cid) = r.cookie_id() {
            assert_eq!(cid, id, "a concurrent /counter changed the id: {r:?}");
        }
    }
    let expected: BTreeSet<i64> = (1..=N as i64).collect();
    assert_eq!(values, expected, "returned values are not exactly 1..=N");
    assert_eq!(a.read().await, N as i64);
}

/// Concurrent writes to 50 different keys of one session all stay, mixed
/// with counters.
async fn concurrent_writes_to_distinct_keys(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("seed", "0").await;
    let puts = (0..50).map(|i| {
        a.peek(
            Method::PUT,
            format!("/session/k{i}"),
            Some(Body::Json(json!({"i": i}).to_string())),
        )
    });
    let counters = (0..50).map(|_| a.peek(Method::GET, "/counter", None));
    let deletes = (0..10).map(|_| a.peek(Method::DELETE, "/session/seed", None));
    let (puts, counters, deletes) =
        futures::join!(join_all(puts), join_all(counters), join_all(deletes));
    for r in puts.iter().chain(deletes.iter()) {
        r.expect(204);
    }
    for r in &counters {
        r.expect(200);
    }
    let s = a.session().await;
    let data = s["data"].as_object().expect("data object");
    for i in 0..50 {
        assert_eq!(
            data.get(&format!("k{i}")),
            Some(&json!({"i": i})),
            "k{i} lost: {s}"
        );
    }
    assert_eq!(data.get("n"), Some(&json!(50)), "counter lost updates: {s}");
    assert!(data.get("seed").is_none(), "{s}");
    assert_eq!(data.len(), 51, "{s}");
}

/// Many sessions at once stay isolated.
async fn concurrent_sessions_are_isolated(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let agents = join_all((0..64).map(|i| {
        let srv = &srv;
        async move {
            let mut a = srv.agent();
            a.put("who", &i.to_string()).await;
            for _ in 0..3 {
                a.counter().await;
            }
            a
        }
    }))
    .await;
    let mut ids = BTreeSet::new();
    for (i, mut a) in agents.into_iter().enumerate() {
        assert!(ids.insert(a.id()), "two clients share an id");
        let s = a.session().await;
        assert_eq!(s["data"], json!({"who": i, "n": 3}));
    }
    // concurrent first requests without a cookie each get their own session
    let resps = join_all((0..32).map(|_| srv.get("/counter"))).await;
    let mut ids = BTreeSet::new();
    for r in &resps {
        r.expect_body(200, "1");
        assert!(ids.insert(r.cookie_id().expect("cookie")), "duplicate id");
    }
}

/// A mix of requests of one session with `/logout` (or another killer)
/// landing in the middle. Returns (requests sent before, the killer's
/// response, requests sent after the killer answered).
async fn storm_with<'a>(
    a: &Agent<'a>,
    killer: impl std::future::Future<Output = Resp>,
) -> (Vec<Resp>, Resp, Vec<Resp>) {
    let mix = |i: usize| match i % 5 {
        0 => a.peek(Method::GET, "/counter", None),
        1 => a.peek(Method::GET, "/read", None),
        2 => a.peek(Method::GET, "/session", None),
        3 => a.peek(
            Method::PUT,
            "/session/late",
            Some(Body::Json(i.to_string())),
        ),
        _ => a.peek(Method::GET, "/me", None),
    };
    let before = join_all((0..50).map(mix));
    let killer = async {
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        killer.await
    };
    let (before, k) = futures::join!(before, killer);
    let after = join_all((0..25).map(mix)).await;
    (before, k, after)
}

/// Check that responses of requests sent after the killer answered never
/// show the old session, and the old cookie is dead afterwards.
async fn assert_old_id_dead(
    srv: &Server,
    old_cookie: &str,
    old_id: &str,
    before: &[Resp],
    killer: &Resp,
    after: &[Resp],
) {
    for r in before.iter().chain(after.iter()) {
        assert!(r.status < 500, "5xx during the storm: {r:?}");
    }
    let late = before
        .iter()
        .filter(|r| r.sent > killer.received)
        .chain(after.iter());
    for r in late {
        if let Some(id) = r.cookie_id() {
            assert_ne!(
                id, old_id,
                "a request after the kill re-validated the old id: {r:?}"
            );
        }
        if r.what.starts_with("GET /session") {
            let v = r.json();
            assert_ne!(
                v["id"],
                json!(old_id),
                "old id served after the kill: {r:?}"
            );
            assert!(
                v["data"].get("secret").is_none(),
                "old data served after the kill: {r:?}"
            );
        }
        if r.what.starts_with("GET /me") {
            assert_eq!(r.status, 401, "old login served after the kill: {r:?}");
        }
        if r.what.starts_with("GET /counter") {
            assert_eq!(r.body, "1", "old counter continued after the kill: {r:?}");
        }
    }
    // and afterwards, whatever was in flight
    let mut old = srv.agent_with(old_cookie);
    assert_eq!(
        old.session().await,
        json!({"id": null, "data": {}}),
        "the old id came back"
    );
    let mut old = srv.agent_with(old_cookie);
    assert_eq!(old.me().await, None);
}

/// `/logout` while 50 other requests of the session are in flight.
async fn logout_during_inflight_requests(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.login("alice").await;
    a.put("secret", r#""old""#).await;
    let old_cookie = a.cookie.clone().unwrap();
    let old_id = a.id();
    let killer = a.peek(Method::POST, "/logout", None);
    let (before, k, after) = storm_with(&a, killer).await;
    k.expect(204);
    assert_old_id_dead(&srv, &old_cookie, &old_id, &before, &k, &after).await;
}

/// `/users/{u}/revoke` while 50 requests of a bound session are in flight.
async fn revoke_during_inflight_requests(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.login("mallory").await;
    a.put("secret", r#""old""#).await;
    let old_cookie = a.cookie.clone().unwrap();
    let old_id = a.id();
    let killer = srv.send(Method::POST, "/users/mallory/revoke", None, None, &[]);
    let (before, k, after) = storm_with(&a, killer).await;
    k.expect(200);
    assert_eq!(k.json(), json!({"revoked": 1}), "{k:?}");
    assert_old_id_dead(&srv, &old_cookie, &old_id, &before, &k, &after).await;
}

/// `/regenerate` while 50 requests on the old id are in flight: the old id
/// is dead afterwards; the new id holds the kept key.
async fn regenerate_during_inflight_requests(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("keep", r#""yes""#).await;
    a.put("secret", r#""old""#).await;
    let old_cookie = a.cookie.clone().unwrap();
    let old_id = a.id();
    let killer = a.peek(Method::POST, "/regenerate?keep=keep", None);
    let (before, k, after) = storm_with(&a, killer).await;
    k.expect(204);
    let new_cookie = k.must_cookie().value.clone();
    // the old session's /me was 401 anyway; ignore it for regenerate
    assert_old_id_dead(&srv, &old_cookie, &old_id, &before, &k, &after).await;
    let mut n = srv.agent_with(&new_cookie);
    let s = n.session().await;
    assert_eq!(s["data"]["keep"], json!("yes"), "{s}");
    assert!(s["data"].get("secret").is_none(), "{s}");
}

scenarios!(
    concurrent_counter_loses_nothing,
    concurrent_writes_to_distinct_keys,
    concurrent_sessions_are_isolated,
    logout_during_inflight_requests,
    revoke_during_inflight_requests,
    regenerate_during_inflight_requests,
);
