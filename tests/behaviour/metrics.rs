//! `GET /metrics`: Prometheus text whose counters move with the requests
//! this test makes.

use crate::common::*;
use reqwest::Method;

/// The value of the sample `name` (with its labels, e.g.
/// `livesession_sessions_ended_total{reason="destroyed"}`), 0 when absent.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            (key == name).then(|| value.parse().ok()).flatten()
        })
        .unwrap_or(0.0)
}

async fn scrape(srv: &Server) -> String {
    let r = srv.get("/metrics").await;
    r.expect(200).expect_no_cookie();
    let content_type = r
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("version=0.0.4"),
        "content type {content_type:?}"
    );
    r.body.clone()
}

/// Every named metric is listed from the start, and the counters follow
/// new sessions, logouts, regenerates and revokes.
async fn metrics_follow_the_requests(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let before = scrape(&srv).await;
    for name in [
        "livesession_live_sessions",
        "livesession_sessions_created_total",
        "livesession_activations_total",
        "livesession_passivations_total",
        "livesession_sessions_ended_total",
        "livesession_store_errors_total",
    ] {
        assert!(before.contains(name), "{name} missing from:\n{before}");
    }

    let mut agents = Vec::new();
    for _ in 0..3 {
        let mut a = srv.agent();
        assert_eq!(a.counter().await, 1);
        agents.push(a);
    }
    agents[0].post("/logout").await.expect(204);
    agents[1].post("/regenerate").await.expect(204);
    agents[2].login("mia").await;
    srv.send(Method::POST, "/users/mia/revoke", None, None, &[])
        .await
        .expect(200);

    let after = scrape(&srv).await;
    let moved = |name: &str| sample(&after, name) - sample(&before, name);
    // 3 new sessions, 1 regenerated and 1 login (2 more new ids).
    assert_eq!(moved("livesession_sessions_created_total"), 5.0, "{after}");
    for (reason, n) in [("destroyed", 1.0), ("regenerated", 2.0), ("revoked", 1.0)] {
        let name = format!("livesession_sessions_ended_total{{reason=\"{reason}\"}}");
        assert_eq!(moved(&name), n, "{name}:\n{after}");
    }
    assert_eq!(
        sample(&after, "livesession_live_sessions"),
        1.0,
        "one session is left live:\n{after}"
    );
}

/// The two histograms are Prometheus histograms (the contract's kind, and
/// the kind that adds up across servers), with buckets that count every
/// sample: a write's batch and the store calls a durable write makes.
async fn histograms_are_prometheus_histograms(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let srv = demo.start(Cfg::durable(dir.path())).await;
    let mut agent = srv.agent();
    for n in 1..=3 {
        assert_eq!(agent.counter().await, n);
    }
    let text = scrape(&srv).await;
    for name in ["livesession_store_op_seconds", "livesession_batch_changes"] {
        let kind = format!("# TYPE {name} histogram");
        assert!(text.contains(&kind), "{kind} missing from:\n{text}");
    }
    // The first request creates the session, the next two are one batch
    // each: every batch has at least one change, none more than 3.
    let batches = sample(&text, "livesession_batch_changes_count");
    assert!(batches >= 2.0, "{batches} batches:\n{text}");
    assert_eq!(
        sample(&text, "livesession_batch_changes_bucket{le=\"4\"}"),
        batches,
        "{text}"
    );
    assert_eq!(
        sample(&text, "livesession_batch_changes_bucket{le=\"+Inf\"}"),
        batches,
        "{text}"
    );
    // Each write saved the session: the save buckets end at the count.
    let saves = sample(&text, "livesession_store_op_seconds_count{op=\"save\"}");
    assert!(saves >= 2.0, "{saves} saves:\n{text}");
    assert_eq!(
        sample(
            &text,
            "livesession_store_op_seconds_bucket{op=\"save\",le=\"+Inf\"}"
        ),
        saves,
        "{text}"
    );
}

scenarios!(
    metrics_follow_the_requests,
    histograms_are_prometheus_histograms
);
