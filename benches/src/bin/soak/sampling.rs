//! RSS and open fds of the running server (from /proc), and the size of its
//! data dir.

use crate::ctl::Ctl;
// Shared with durable-bench (dir_size) and the memory benchmarks (VmRSS).
pub use livesession_benches::{dir_size, rss_kb_of};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Open fds of a process.
pub fn proc_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// Samples RSS and fds of the running server every 2 s.
pub async fn sampler(ctl: Arc<Ctl>, stop: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    // Bounded: the whole run is far shorter than this many samples.
    for _ in 0..1_000_000u32 {
        tick.tick().await;
        if stop.load(SeqCst) {
            return;
        }
        sample_now(&ctl);
    }
}

/// One sample of the running server, into its incarnation.
pub fn sample_now(ctl: &Ctl) {
    let pid = ctl.pid.load(SeqCst) as u32;
    if pid == 0 {
        return;
    }
    if let (Some(rss), Some(fds)) = (rss_kb_of(pid), proc_fds(pid)) {
        let mut inc = ctl.incarnations.lock().unwrap();
        if let Some(i) = inc.last_mut() {
            if i.pid == pid && i.ended.is_none() {
                i.rss_kb.push(rss);
                i.fds.push(fds);
            }
        }
    }
}
