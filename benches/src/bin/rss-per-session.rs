//! Memory per live session: creates N sessions through the registry (each
//! holding `n` and a 32-char token, like a small login session) and reports
//! the RSS growth per session.
//!
//! `cargo run --release -p livesession-benches --bin rss-per-session -- 100000`
//! (arguments: count, `two-writes`|`one-write`, `memory`|`durable`)
//!
//! `MAX_LIVE=N` (with `durable`): a flood under `max_live_sessions(N)` with
//! passivation after 5 min, so only the bound keeps sessions out of memory;
//! reports the peak RSS during the flood and drops the cookies as it goes.

use livesession::{RequestInfo, SessionConfig, SessionManager};
use livesession_benches::rss_bytes;
use std::time::Instant;

// mimalloc (the demos use the system allocator): unlike glibc malloc it
// returns freed memory to the OS, so RSS follows what is really in use
// after owners hibernate.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        println!(
            "rss-per-session [COUNT] [two-writes|one-write] [memory|durable]\n\n\
             Creates COUNT sessions (default 100000), each holding `n` and a 32-char token,\n\
             lets their owners hibernate, and prints the RSS growth per session.\n\
             two-writes (default): two inserts per session; one-write: one insert of both.\n\
             memory (default): no store; durable: sled with passivation after 1 s.\n\
             README figure: cargo run --release -p livesession-benches --bin rss-per-session -- 1000000"
        );
        return;
    }
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    // `two-writes` (default): the second write wakes each session's owner
    // actor; `one-write`: sessions are created with their data and no owner
    // ever runs.
    let two_writes = std::env::args().nth(2).as_deref() != Some("one-write");
    // `durable` as the third argument: a sled store (sync durability) and
    // passivation after 1 s, to measure memory once sessions have left RAM.
    let durable = std::env::args().nth(3).as_deref() == Some("durable");
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = SessionConfig::builder().secret("0123456789abcdef0123456789abcdef");
    if durable {
        let store = livesession_sled::SledStore::open(
            data_dir.path().join("sessions"),
            livesession_sled::SledConfig::new(),
        )
        .expect("open sled");
        config = config
            .store(std::sync::Arc::new(store))
            .passivate_after(std::time::Duration::from_secs(1));
    }
    let max_live: Option<usize> = std::env::var("MAX_LIVE").ok().and_then(|v| v.parse().ok());
    if let Some(max) = max_live {
        config = config
            .max_live_sessions(Some(max))
            .passivate_after(std::time::Duration::from_secs(300));
    }
    let mut peak = 0u64;
    let manager = SessionManager::new(config.build().expect("valid config"));
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
    // 64 requests in flight at a time, as from a pool of client connections.
    let mut cookies = Vec::with_capacity(n);
    let mut in_flight = tokio::task::JoinSet::new();
    for i in 0..n {
        if in_flight.len() >= 64 {
            let cookie = in_flight.join_next().await.unwrap().unwrap();
            if max_live.is_none() {
                cookies.push(cookie);
            }
        }
        if i % 10_000 == 0 {
            peak = peak.max(rss_bytes());
        }
        let m = manager.clone();
        in_flight.spawn(async move {
            let s = m.start(&RequestInfo {
                path: "/",
                ..Default::default()
            });
            if two_writes {
                s.insert("n", i).await.unwrap();
                s.insert("csrf", "0123456789abcdef0123456789abcdef")
                    .await
                    .unwrap();
            } else {
                s.insert(
                    "login",
                    serde_json::json!({"n": i, "csrf": "0123456789abcdef0123456789abcdef"}),
                )
                .await
                .unwrap();
            }
            s.finish().await.unwrap().pop().unwrap()
        });
    }
    while let Some(cookie) = in_flight.join_next().await {
        cookies.push(cookie.unwrap());
    }
    let elapsed = started.elapsed();
    let busy = rss_bytes();
    if max_live.is_some() {
        println!(
            "flood under max_live_sessions: peak rss {:.1}MiB (baseline {:.1}MiB), live at the end {}",
            peak.max(busy) as f64 / 1048576.0,
            before as f64 / 1048576.0,
            manager.stats().await.unwrap().live
        );
    }
    // Let every owner actor hibernate (default: 1 s after its last message),
    // and with a store every session passivate.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    for _ in 0..120 {
        if !durable || manager.stats().await.unwrap().live == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let idle = rss_bytes();
    let stats = manager.stats().await.unwrap();
    let live = stats.live;
    if durable {
        println!("stored={}", stats.stored);
    }
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    println!("alive tokio tasks after idling: {tasks}");
    let per = |rss: u64| rss.saturating_sub(before) / n as u64;
    println!(
        "sessions={n} live={live} create_time={:.2}s ({:.1} µs/session) rss_before={:.1}MiB \
         rss_with_owners_awake={:.1}MiB ({} B/session) rss_idle={:.1}MiB ({} B/session)",
        elapsed.as_secs_f64(),
        elapsed.as_micros() as f64 / n as f64,
        before as f64 / 1048576.0,
        busy as f64 / 1048576.0,
        per(busy),
        idle as f64 / 1048576.0,
        per(idle),
    );
    drop(cookies);
}
