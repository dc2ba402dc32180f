//! Memory per live session: creates N sessions through the registry (each
//! holding `n` and a 32-char token, like a small login session) and reports
//! the RSS growth per session.
//!
//! `cargo run --release -p livesession-benches --bin rss-per-session -- 100000`

use livesession::{RequestInfo, SessionConfig, SessionManager};
use livesession_benches::rss_bytes;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let manager = SessionManager::new(
        SessionConfig::builder()
            .secret("0123456789abcdef0123456789abcdef")
            .build()
            .expect("valid config"),
    );
    // Warm up allocator and runtime so the baseline is fair.
    for _ in 0..1000 {
        let s = manager.start(&RequestInfo {
            path: "/",
            ..Default::default()
        });
        s.insert("n", 1).await.unwrap();
        s.finish().await.unwrap();
    }
    let before = rss_bytes();
    let started = Instant::now();
    let mut cookies = Vec::with_capacity(n);
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let m = manager.clone();
            tokio::spawn(async move {
                let s = m.start(&RequestInfo {
                    path: "/",
                    ..Default::default()
                });
                s.insert("n", i).await.unwrap();
                s.insert("csrf", "0123456789abcdef0123456789abcdef")
                    .await
                    .unwrap();
                s.finish().await.unwrap().pop().unwrap()
            })
        })
        .collect();
    for t in tasks {
        cookies.push(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    let after = rss_bytes();
    let live = manager.stats().await.unwrap().live;
    println!(
        "sessions={n} live={live} create_time={:.2}s ({:.1} µs/session) rss_before={:.1}MiB rss_after={:.1}MiB per_session={} bytes",
        elapsed.as_secs_f64(),
        elapsed.as_micros() as f64 / n as f64,
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        (after.saturating_sub(before)) / n as u64
    );
    drop(cookies);
}
