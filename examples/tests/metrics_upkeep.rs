//! The demos' metrics recorder keeps its memory bounded without a scrape.
//!
//! The Prometheus recorder keeps every histogram sample until upkeep drains
//! it; the demos record one per batch of changes and per store call, so a
//! server nobody scrapes would grow by every write it ever served unless
//! upkeep runs on its own.

use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Samples recorded, as many writes would.
const SAMPLES: usize = 500_000;

fn bytes_held(region: &Region<'_, System>) -> isize {
    let c = region.change();
    c.bytes_allocated as isize + c.bytes_reallocated - c.bytes_deallocated as isize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histogram_samples_are_drained_without_a_scrape() {
    let handle = livesession_demos::routes::install_metrics();
    // The first samples register the histogram; what follows only grows
    // its sample buckets.
    metrics::histogram!("livesession_batch_changes").record(1.0);
    let region = Region::new(GLOBAL);
    for _ in 0..SAMPLES {
        metrics::histogram!("livesession_batch_changes").record(1.0);
    }
    let grown = bytes_held(&region);
    assert!(
        grown > (SAMPLES * 4) as isize,
        "recording {SAMPLES} samples held only {grown} bytes: the test no longer sees the buckets"
    );
    // Nobody renders /metrics: upkeep must drain the samples by itself.
    // Traffic goes on meanwhile, a little (the recorder frees drained sample
    // blocks as later recordings pass by).
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut more = 0;
    while bytes_held(&region) > grown / 4 {
        for _ in 0..100 {
            metrics::histogram!("livesession_batch_changes").record(1.0);
        }
        more += 100;
        assert!(
            Instant::now() < deadline,
            "{} of {grown} bytes of histogram samples still held after 30 s without a scrape",
            bytes_held(&region)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The samples were summarised, not lost.
    let count = format!("livesession_batch_changes_count {}", SAMPLES + 1 + more);
    assert!(handle.render().contains(&count), "{count} not rendered");
}
