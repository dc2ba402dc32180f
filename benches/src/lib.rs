//! Shared helpers for the livesession benchmarks.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use livesession::store::SessionStore;
use livesession::{RequestInfo, SessionConfig, SessionManager};
use std::path::Path;
use std::sync::Arc;

/// The secret every benchmark signs with.
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// A memory-mode manager, with `rolling` as given (call it inside a Tokio
/// runtime).
pub fn memory_manager(rolling: bool) -> SessionManager {
    SessionManager::new(
        SessionConfig::builder()
            .secret(SECRET)
            .rolling(rolling)
            .build()
            .expect("valid config"),
    )
}

/// A manager like [`memory_manager`] (rolling cookies) over `store`.
pub fn store_manager(store: Arc<dyn SessionStore>) -> SessionManager {
    SessionManager::new(
        SessionConfig::builder()
            .secret(SECRET)
            .store(store)
            .build()
            .expect("valid config"),
    )
}

/// Creates a session as the demos' `/login` leaves it (`n`, a user name and
/// a 32-char token) and returns the `Cookie` header value that names it.
pub async fn login(m: &SessionManager, n: i64) -> String {
    let s = m.start(&RequestInfo {
        path: "/",
        ..Default::default()
    });
    s.insert("n", n).await.expect("insert");
    s.insert("user", "alice").await.expect("insert");
    s.insert("csrf", "0123456789abcdef0123456789abcdef")
        .await
        .expect("insert");
    let set_cookie = s.finish().await.expect("finish").remove(0);
    set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .to_string()
}

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
