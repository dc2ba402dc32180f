//! Shared helpers for the livesession benchmarks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::Path;

/// Resident set size of this process in bytes (Linux `/proc/self/status`).
pub fn rss_bytes() -> u64 {
    vm_rss_kb("/proc/self/status").map_or(0, |kb| kb * 1024)
}

/// Resident set size of process `pid` in kB (Linux `/proc/<pid>/status`).
pub fn rss_kb_of(pid: u32) -> Option<u64> {
    vm_rss_kb(&format!("/proc/{pid}/status"))
}

/// The `VmRSS:` line of a `/proc/.../status` file, in kB.
fn vm_rss_kb(status: &str) -> Option<u64> {
    std::fs::read_to_string(status)
        .ok()?
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Bytes in the files under `path`, subdirectories included (what cannot be
/// read counts 0).
pub fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
