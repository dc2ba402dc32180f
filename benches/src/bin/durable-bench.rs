//! Durable-store figures for the README: fill a sled store with N sessions,
//! then measure reopen time, activation latency from disk (p50/p99), RSS with
//! N stored and L live sessions, disk bytes per session, and the time
//! `shutdown` takes to write the L live sessions out.
//!
//! `cargo run --release -p livesession-benches --bin durable-bench -- 1000000 10000`
//!
//! The fill writes records straight through the store API (not over HTTP);
//! everything after the reopen goes through the `SessionManager`, as requests do.

use livesession::id::random_id;
use livesession::signing::{HmacSigner, Signer};
use livesession::store::{SessionData, SessionKey, SessionRecord, SessionStore};
use livesession::{SessionConfig, SessionManager};
use livesession_benches::{dir_size, rss_bytes, SECRET};
use livesession_sled::{SledConfig, SledStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let stored: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let live: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sessions");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;

    // 1. Fill.
    let signer = HmacSigner::new([SECRET]).unwrap();
    let mut sample_ids = Vec::with_capacity(live);
    let started = Instant::now();
    {
        let store = SledStore::open(&path, SledConfig::new()).expect("open");
        for i in 0..stored {
            let id = random_id();
            let mut data = SessionData::new();
            data.insert("n".to_string(), serde_json::json!(i));
            data.insert(
                "csrf".to_string(),
                serde_json::json!("0123456789abcdef0123456789abcdef"),
            );
            let record = SessionRecord {
                data,
                user: Some(format!("user{}", i % 50_000)),
                created_at_ms: now_ms,
                expires_at_ms: Some(now_ms + 86_400_000),
                ..SessionRecord::default()
            };
            store
                .create(&SessionKey::of_id(&id), &record)
                .await
                .expect("create");
            if i < live {
                sample_ids.push(id);
            }
        }
        store.flush().await.expect("flush");
    }
    let fill = started.elapsed();
    let disk = dir_size(&path);
    println!(
        "filled {stored} sessions in {:.1}s ({:.0}/s); disk {:.1} MiB = {} bytes/session",
        fill.as_secs_f64(),
        stored as f64 / fill.as_secs_f64(),
        disk as f64 / 1048576.0,
        disk / stored as u64
    );

    // 2. Reopen: what a restart pays before serving.
    let rss_before_open = rss_bytes();
    let started = Instant::now();
    let store = SledStore::open(&path, SledConfig::new()).expect("reopen");
    let manager = SessionManager::new(
        SessionConfig::builder()
            .secret(SECRET)
            .store(Arc::new(store))
            .build()
            .unwrap(),
    );
    let count = manager.stats().await.unwrap().stored;
    let reopen = started.elapsed();
    println!(
        "reopen + first stats with {count} stored: {:.0} ms",
        reopen.as_secs_f64() * 1000.0
    );

    // 3. Activation from disk, one session at a time (p50/p99), then RSS.
    let mut latencies = Vec::with_capacity(live);
    for id in &sample_ids {
        let cookie = signer.sign(id);
        let t = Instant::now();
        let session = manager.session_from_cookie(&cookie);
        let n: Option<u64> = session.get("n").await.expect("activation");
        latencies.push(t.elapsed());
        assert!(n.is_some(), "activated session has its data");
    }
    latencies.sort();
    println!(
        "activation from disk ({live} sessions): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        percentile(&latencies, 0.5).as_secs_f64() * 1e6,
        percentile(&latencies, 0.99).as_secs_f64() * 1e6,
        latencies.last().unwrap().as_secs_f64() * 1e6
    );
    let stats = manager.stats().await.unwrap();
    println!(
        "RSS with {} stored and {} live: {:.1} MiB (process before reopen: {:.1} MiB)",
        stats.stored,
        stats.live,
        rss_bytes() as f64 / 1048576.0,
        rss_before_open as f64 / 1048576.0
    );

    // 4. Shutdown: every live session changed once, so each is written out.
    for id in &sample_ids {
        let session = manager.session_from_cookie(&signer.sign(id));
        session
            .update("n", |n: Option<u64>| n.unwrap_or(0) + 1)
            .await
            .expect("write");
    }
    let t = Instant::now();
    manager.shutdown().await.expect("shutdown");
    println!(
        "shutdown writing out {live} changed live sessions: {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
}
