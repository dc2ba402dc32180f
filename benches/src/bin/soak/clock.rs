//! Times as the reports show them.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The start of the run (set first thing in `main`).
pub static START: OnceLock<Instant> = OnceLock::new();

pub fn since_start(t: Instant) -> f64 {
    START
        .get()
        .map_or(0.0, |s| t.saturating_duration_since(*s).as_secs_f64())
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}
