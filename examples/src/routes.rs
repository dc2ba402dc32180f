//! Framework-neutral parts of the demo routes.

use livesession::metrics::{BATCH_CHANGES_BUCKETS, STORE_OP_SECONDS_BUCKETS};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Largest accepted `PUT /session/{key}` body (1 MiB); larger gets 413.
pub const MAX_BODY: usize = 1 << 20;

/// The keys named in `?keep=a,b` (empty names dropped).
pub fn keep_list(keep: Option<&str>) -> Vec<&str> {
    keep.map(|k| k.split(',').filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct Login {
    user: String,
}

/// The user named by a `POST /login` body `{"user": "..."}`.
pub fn login_user(body: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<Login>(body)
        .map(|l| l.user)
        .map_err(|e| format!("expected {{\"user\": \"...\"}}: {e}"))
}

/// The `GET /session` body.
pub fn session_json(id: Option<String>, data: BTreeMap<String, Value>) -> Value {
    json!({ "id": id, "data": data })
}

/// The `GET /users/{user}/sessions` body: `{"sessions": [{"handle",
/// "created_at", "last_seen_at", "expires_at"}, ...]}`, newest first (times
/// in Unix ms, `expires_at` null when the session never expires).
pub fn user_sessions_json(sessions: &[livesession::UserSession]) -> Value {
    let sessions: Vec<Value> = sessions
        .iter()
        .map(|s| {
            json!({
                "handle": s.handle,
                "created_at": s.created_at_ms,
                "last_seen_at": s.last_seen_at_ms,
                "expires_at": s.expires_at_ms,
            })
        })
        .collect();
    json!({ "sessions": sessions })
}

/// The `GET /read` body: `n` as JSON text, `0` when absent.
pub fn read_body(n: Option<Value>) -> String {
    n.map_or_else(|| "0".to_string(), |v| v.to_string())
}

/// `/counter`'s step: absent counts as 0; saturates instead of overflowing.
pub fn increment(n: Option<i64>) -> i64 {
    n.unwrap_or(0).saturating_add(1)
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("cannot listen for SIGTERM");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The `Content-Type` of `GET /metrics` (Prometheus text format).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// How often the recorder's upkeep runs without a scrape.
pub const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the Prometheus recorder for livesession's metrics; the handle
/// renders them for `GET /metrics`. Call it inside the Tokio runtime: it
/// spawns the recorder's upkeep, every [`METRICS_UPKEEP`]. The recorder
/// keeps each histogram sample (one per batch of changes, one per store
/// call) until upkeep folds it into the histogram; without it a server
/// that nobody scrapes would hold 16 bytes for every write it ever served.
pub fn install_metrics() -> PrometheusHandle {
    let handle = prometheus_builder().install_recorder().unwrap_or_else(|e| {
        eprintln!("cannot install the metrics recorder: {e}");
        std::process::exit(1);
    });
    livesession::metrics::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    handle
}

/// The demos' Prometheus exporter: the runtime's histograms get their
/// buckets, so they are rendered as Prometheus histograms (which add up
/// across servers) rather than summaries.
pub fn prometheus_builder() -> PrometheusBuilder {
    let buckets = [
        ("livesession_store_op_seconds", STORE_OP_SECONDS_BUCKETS),
        ("livesession_batch_changes", BATCH_CHANGES_BUCKETS),
    ];
    buckets
        .into_iter()
        .fold(PrometheusBuilder::new(), |builder, (name, bounds)| {
            builder
                .set_buckets_for_metric(Matcher::Full(name.to_string()), bounds)
                .expect("the runtime's bucket bounds are not empty")
        })
}

/// The body of `GET /metrics`.
pub fn render_metrics(handle: &PrometheusHandle) -> String {
    handle.run_upkeep();
    handle.render()
}

/// Logs to stderr, `RUST_LOG` to filter (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(keep_list(Some("a,,b")), ["a", "b"]);
        assert!(keep_list(None).is_empty());
        assert_eq!(login_user(br#"{"user":"bob"}"#).unwrap(), "bob");
        assert!(login_user(b"{").is_err());
        assert!(login_user(br#"{"user":1}"#).is_err());
        assert_eq!(read_body(None), "0");
        assert_eq!(read_body(Some(json!(5))), "5");
        assert_eq!(increment(Some(i64::MAX)), i64::MAX);
        assert_eq!(user_sessions_json(&[]), json!({ "sessions": [] }));
    }
}
