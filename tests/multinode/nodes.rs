//! The contract's rules across processes: no lost update, no stale read,
//! no resurrection, revoke everywhere, nothing acknowledged lost to a kill.

use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;

use crate::common::*;
use crate::redis::Backend;

/// N concurrent `GET /counter` spread over three processes end at N.
async fn concurrent_counter_over_three_nodes_ends_at_n(demo: Demo, redis: &Backend) {
    let nodes = redis.nodes(demo, 3, &[]).await;
    let mut first = nodes[0].agent();
    assert_eq!(first.counter().await, 1);
    let cookie = first.cookie.clone().unwrap();
    let hits = (0..90).map(|i| {
        let agent = nodes[i % 3].agent_with(&cookie);
        async move {
            let r = agent.peek(Method::GET, "/counter", None).await;
            r.expect(200);
            r.int()
        }
    });
    let mut seen: Vec<i64> = join_all(hits).await;
    seen.sort();
    assert_eq!(
        seen,
        (2..=91).collect::<Vec<_>>(),
        "each increment answered once, in some order"
    );
    for node in &nodes {
        assert_eq!(
            node.agent_with(&cookie).read().await,
            91,
            "{} reads 91",
            node.port
        );
    }
}

/// Concurrent writes of distinct keys through different processes all stay.
async fn distinct_keys_through_different_nodes_all_stay(demo: Demo, redis: &Backend) {
    let nodes = redis.nodes(demo, 3, &[]).await;
    let mut first = nodes[0].agent();
    first.put("seed", "0").await;
    let cookie = first.cookie.clone().unwrap();
    let writes = (0..30).map(|i| {
        let agent = nodes[i % 3].agent_with(&cookie);
        async move {
            let r = agent
                .peek(
                    Method::PUT,
                    format!("/session/k{i}"),
                    Some(Body::Json(i.to_string())),
                )
                .await;
            r.expect(204);
        }
    });
    join_all(writes).await;
    let data = nodes[2].agent_with(&cookie).session().await;
    for i in 0..30 {
        assert_eq!(data["data"][format!("k{i}")], i, "k{i} in {data}");
    }
}

/// A change acknowledged by one process is seen by the very next request
/// on another, even one that holds the session live already.
async fn a_write_on_one_node_is_read_at_once_on_another(demo: Demo, redis: &Backend) {
    let nodes = redis.nodes(demo, 2, &[]).await;
    let mut a = nodes[0].agent();
    a.put("n", "1").await;
    let mut b = nodes[1].agent_with(a.cookie.as_deref().unwrap());
    assert_eq!(b.read().await, 1);
    for n in 2..8 {
        a.put("n", &n.to_string()).await;
        assert_eq!(b.read().await, n, "b reads a's write at once");
        assert_eq!(b.counter().await, n + 1);
        assert_eq!(a.read().await, n + 1, "a reads b's write at once");
    }
}

/// A logout on one process is final on every process, whatever requests of
/// the session the others were serving meanwhile.
async fn a_logout_is_final_on_every_node(demo: Demo, redis: &Backend) {
    let nodes = redis.nodes(demo, 3, &[]).await;
    let mut a = nodes[0].agent();
    a.login("alice").await;
    let old = a.cookie.clone().unwrap();
    let old_id = a.id();
    // B and C keep serving the session while A logs out.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let logout = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.post("/logout").await.expect(204);
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let (b_answers, c_answers, ()) = tokio::join!(
        counter_until(&nodes[1], &old, &stop),
        counter_until(&nodes[2], &old, &stop),
        logout
    );
    assert!(
        b_answers > 0 && c_answers > 0,
        "the other nodes served meanwhile"
    );
    for node in &nodes {
        let mut agent = node.agent_with(&old);
        assert_eq!(agent.me().await, None, "{}: logged out", node.port);
        let r = agent.peek(Method::GET, "/session", None).await;
        assert_eq!(
            r.json()["id"],
            serde_json::Value::Null,
            "a fresh session, not {old_id}"
        );
        let r = agent.peek(Method::GET, "/counter", None).await;
        assert_ne!(
            r.cookie_id().as_deref(),
            Some(old_id.as_str()),
            "the old id never comes back"
        );
    }
}

/// `POST /users/{user}/revoke` on any process reaches that user's sessions
/// wherever they were created or are live.
async fn revoke_on_one_node_reaches_sessions_of_the_others(demo: Demo, redis: &Backend) {
    let nodes = redis.nodes(demo, 3, &[]).await;
    let mut alice_a = nodes[0].agent();
    alice_a.login("alice").await;
    let mut alice_b = nodes[1].agent();
    alice_b.login("alice").await;
    let mut bob = nodes[0].agent();
    bob.login("bob").await;
    // Each session is live on every node.
    for node in &nodes {
        for agent in [&alice_a, &alice_b, &bob] {
            let mut there = node.agent_with(agent.cookie.as_deref().unwrap());
            assert!(there.me().await.is_some());
        }
    }
    let r = nodes[2]
        .send(Method::POST, "/users/alice/revoke", None, None, &[])
        .await;
    r.expect(200);
    assert_eq!(r.json()["revoked"], 2, "{r:?}");
    for node in &nodes {
        for agent in [&alice_a, &alice_b] {
            let mut there = node.agent_with(agent.cookie.as_deref().unwrap());
            assert_eq!(there.me().await, None, "{}: alice revoked", node.port);
        }
        let mut there = node.agent_with(bob.cookie.as_deref().unwrap());
        assert_eq!(there.me().await.as_deref(), Some("bob"), "bob untouched");
    }
}

/// kill -9 of one process under load: nothing it acknowledged is lost, and
/// the others serve its sessions.
async fn kill9_of_one_node_loses_nothing_acknowledged(demo: Demo, redis: &Backend) {
    let mut nodes = redis.nodes(demo, 2, &[]).await;
    let mut first = nodes[0].agent();
    first.put("seed", "true").await;
    let cookie = first.cookie.clone().unwrap();
    drop(first);
    let (victim, survivor) = nodes.split_at_mut(1);
    let victim = &mut victim[0];
    let survivor = &survivor[0];
    let victim_port = victim.port;
    let on_victim = counters(victim, &cookie, 400);
    let killer = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        victim.signal(libc::SIGKILL);
    };
    let (mut acks, survivor_acks, ()) =
        tokio::join!(on_victim, counters(survivor, &cookie, 400), killer);
    victim.kill9();
    acks.extend(survivor_acks);
    assert!(
        acks.len() >= 10,
        "too few increments ({}) on {victim_port}",
        acks.len()
    );
    let last = survivor.agent_with(&cookie).read().await;
    let max = *acks.iter().max().unwrap();
    assert!(
        last >= max,
        "acknowledged {max}, read {last} after the kill"
    );
    assert!(
        last >= acks.len() as i64,
        "{} increments acknowledged, value {last}",
        acks.len()
    );
}

/// Redis keys hold a hash of the id, never the id itself, and `/stats`
/// counts the records in Redis.
async fn redis_holds_no_raw_id_and_stats_count_its_records(demo: Demo, redis: &Backend) {
    let nodes = redis.nodes(demo, 2, &[]).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut agent = nodes[i % 2].agent();
        agent.login(&format!("user{i}")).await;
        ids.push(agent.id());
    }
    for (key, value) in redis.dump() {
        assert!(
            key.starts_with("livesession:"),
            "key {key} outside the prefix"
        );
        for id in &ids {
            assert!(!key.contains(id.as_str()), "raw id in key {key}");
            let needle = id.as_bytes();
            assert!(
                !value.windows(needle.len()).any(|w| w == needle),
                "raw id in the value of {key}"
            );
        }
    }
    for node in &nodes {
        let (_, stored) = node.stats().await;
        assert_eq!(stored, 4, "{}: stored", node.port);
    }
}

/// A user's sessions listed on any process, wherever they were created; one
/// ended by its handle on one process is gone on all of them.
async fn a_users_sessions_are_listed_and_ended_from_any_node(demo: Demo, redis: &Backend) {
    let nodes = redis.nodes(demo, 3, &[]).await;
    let mut on_a = nodes[0].agent();
    on_a.login("dora").await;
    let mut on_b = nodes[1].agent();
    on_b.login("dora").await;
    let list = nodes[2].get("/users/dora/sessions").await;
    list.expect(200).expect_no_cookie();
    let sessions = list.json()["sessions"].as_array().cloned().unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    // Newest first: the one created on b.
    let newest = sessions[0]["handle"].as_str().unwrap().to_string();
    let r = nodes[2]
        .send(
            Method::DELETE,
            format!("/users/dora/sessions/{newest}"),
            None,
            None,
            &[],
        )
        .await;
    r.expect(204);
    for node in &nodes {
        let mut b_there = node.agent_with(on_b.cookie.as_deref().unwrap());
        assert_eq!(b_there.me().await, None, "{}: ended", node.port);
        let mut a_there = node.agent_with(on_a.cookie.as_deref().unwrap());
        assert_eq!(
            a_there.me().await.as_deref(),
            Some("dora"),
            "{}: kept",
            node.port
        );
    }
    let after = nodes[0].get("/users/dora/sessions").await;
    assert_eq!(after.json()["sessions"].as_array().map(Vec::len), Some(1));
}

/// `GET /counter` on `node` until `stop`; each must answer 200. Returns how
/// many did.
async fn counter_until(node: &Server, cookie: &str, stop: &std::sync::atomic::AtomicBool) -> usize {
    let agent = node.agent_with(cookie);
    let mut answers = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let r = agent.peek(Method::GET, "/counter", None).await;
        assert!(r.status == 200, "in-flight counter: {r:?}");
        answers += 1;
    }
    answers
}

/// Up to `max` `GET /counter` on `node`, until one fails; the values
/// acknowledged with 200.
async fn counters(node: &Server, cookie: &str, max: usize) -> Vec<i64> {
    let agent = node.agent_with(cookie);
    let mut acks = Vec::new();
    for _ in 0..max {
        match agent.try_peek(Method::GET, "/counter", None).await {
            Ok(r) if r.status == 200 => acks.push(r.int()),
            _ => break,
        }
    }
    acks
}

on_redis!(
    concurrent_counter_over_three_nodes_ends_at_n,
    distinct_keys_through_different_nodes_all_stay,
    a_write_on_one_node_is_read_at_once_on_another,
    a_logout_is_final_on_every_node,
    revoke_on_one_node_reaches_sessions_of_the_others,
    kill9_of_one_node_loses_nothing_acknowledged,
    redis_holds_no_raw_id_and_stats_count_its_records,
    a_users_sessions_are_listed_and_ended_from_any_node,
);
