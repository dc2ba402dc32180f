//! Heap allocations per request on the runtime's hot paths, next to the
//! criterion timings of `benches/request.rs`.
//!
//! `cargo run --release -p livesession-benches --bin allocs-per-request [N]`
//!
//! Memory mode, one current-thread runtime; every path runs 1 000 times to
//! warm up, then `N` times (default 10 000) inside a counting region of the
//! global allocator (`stats_alloc`, wrapping the system allocator); the
//! figures printed are per request: allocations, reallocations and bytes
//! allocated. Paths: read of an existing session (rolling on: the response
//! re-sends its cookie; and off), a write (`update("n", +1)`) of an existing
//! session, and a new session (`insert` + `finish`).

use livesession::{RequestInfo, SessionManager};
use livesession_benches::{login, memory_manager};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::hint::black_box;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const WARM_UP: usize = 1_000;

fn request<'a>(cookie: Option<&'a str>) -> RequestInfo<'a> {
    RequestInfo {
        cookie_header: cookie,
        path: "/",
        ..Default::default()
    }
}

async fn read(m: &SessionManager, cookie: &str) {
    let s = m.start(&request(Some(cookie)));
    black_box(s.get::<i64>("n").await.expect("get"));
    black_box(s.finish().await.expect("finish"));
}

async fn write(m: &SessionManager, cookie: &str) {
    let s = m.start(&request(Some(cookie)));
    let n = s.update("n", |n: Option<i64>| n.unwrap_or(0) + 1).await;
    black_box(n.expect("update"));
    black_box(s.finish().await.expect("finish"));
}

async fn new_session(m: &SessionManager) {
    let s = m.start(&request(None));
    s.insert("n", 1i64).await.expect("insert");
    black_box(s.finish().await.expect("finish"));
}

/// Runs `one` WARM_UP times, then `n` times counted; prints per-request figures.
async fn count<F, Fut>(label: &str, n: usize, mut one: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARM_UP {
        one().await;
    }
    let region = Region::new(GLOBAL);
    for _ in 0..n {
        one().await;
    }
    let s = region.change();
    let per = |x: usize| x as f64 / n as f64;
    println!(
        "| {label} | {:.1} | {:.1} | {:.0} |",
        per(s.allocations),
        per(s.reallocations),
        per(s.bytes_allocated)
    );
}

fn main() {
    let n: usize = match std::env::args().nth(1) {
        None => 10_000,
        Some(a) => a.parse().unwrap_or_else(|_| {
            eprintln!("usage: allocs-per-request [N requests per path, default 10000]");
            std::process::exit(2)
        }),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let rolling = memory_manager(true);
        let not_rolling = memory_manager(false);
        let (c1, c2) = (login(&rolling, 1).await, login(&not_rolling, 1).await);
        println!("per request, memory mode, {n} requests per path after {WARM_UP} to warm up");
        println!();
        println!("| path | allocations | reallocations | bytes allocated |");
        println!("| --- | --: | --: | --: |");
        count("read, rolling (cookie re-sent)", n, || read(&rolling, &c1)).await;
        count("read, not rolling", n, || read(&not_rolling, &c2)).await;
        count("write (update n + 1)", n, || write(&rolling, &c1)).await;
        count("new session (insert + finish)", n, || new_session(&rolling)).await;
    });
}
