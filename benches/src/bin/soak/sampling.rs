//! RSS and open fds of the running server (from /proc), and the size of its
//! data dir.

use crate::ctl::Ctl;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// VmRSS of a process, in kB.
pub fn proc_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Open fds of a process.
pub fn proc_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

/// Bytes in the files under `p`.
pub fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
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
    if let (Some(rss), Some(fds)) = (proc_rss_kb(pid), proc_fds(pid)) {
        let mut inc = ctl.incarnations.lock().unwrap();
        if let Some(i) = inc.last_mut() {
            if i.pid == pid && i.ended.is_none() {
                i.rss_kb.push(rss);
                i.fds.push(fds);
            }
        }
    }
}
