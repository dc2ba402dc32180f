//! Coverage counters: what the runs exercised, summed over every case of
//! the process; printed after each case with `MODEL_STATS=1`.

use livesession::testing::Op as StoreOp;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) static CASES: AtomicU64 = AtomicU64::new(0);
pub(crate) static STEPS: AtomicU64 = AtomicU64::new(0);
/// Steps run with a store fault injected.
pub(crate) static FAULTED: AtomicU64 = AtomicU64::new(0);
/// Actions, finishes, revokes and concurrent requests that failed with
/// a store error.
pub(crate) static FAILED: AtomicU64 = AtomicU64::new(0);
/// Actions that succeeded although a fault was armed.
pub(crate) static SURVIVED: AtomicU64 = AtomicU64::new(0);
/// Requests dropped mid-action, and how many of those had their change
/// (or end) applied anyway.
pub(crate) static CANCELLED: AtomicU64 = AtomicU64::new(0);
pub(crate) static CANCELLED_APPLIED: AtomicU64 = AtomicU64::new(0);
/// Store failures by the operation that failed (`StoreOp::ALL` order).
pub(crate) static FAILED_BY_OP: [AtomicU64; StoreOp::ALL.len()] =
    [const { AtomicU64::new(0) }; StoreOp::ALL.len()];

pub(crate) fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn failed(op: StoreOp) {
    if let Some(i) = StoreOp::ALL.iter().position(|o| *o == op) {
        add(&FAILED_BY_OP[i]);
    }
}

pub(crate) fn print(what: &str) {
    if std::env::var_os("MODEL_STATS").is_none() {
        return;
    }
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let by_op: Vec<String> = StoreOp::ALL
        .iter()
        .zip(&FAILED_BY_OP)
        .filter(|(_, n)| get(n) > 0)
        .map(|(op, n)| format!("{op:?} {}", get(n)))
        .collect();
    eprintln!(
        "model stats after {what}: {} cases, {} steps, {} faulted, {} failed ({}), {} survived a fault, {} cancelled ({} applied)",
        get(&CASES),
        get(&STEPS),
        get(&FAULTED),
        get(&FAILED),
        by_op.join(", "),
        get(&SURVIVED),
        get(&CANCELLED),
        get(&CANCELLED_APPLIED)
    );
}
