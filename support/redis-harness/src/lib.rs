//! Real Redis servers for tests.
//!
//! [`RedisServer::start`] runs one `redis-server` on a free loopback port, in
//! a temp dir of its own, with the append-only file fsynced on every write
//! (`--appendonly yes --appendfsync always`): [`RedisServer::stop`] kills it
//! (SIGKILL, no shutdown save) and [`RedisServer::start_again`] brings it back
//! on the same port with everything it acknowledged. [`RedisCluster::start`]
//! runs three cluster masters and joins them with `redis-cli --cluster
//! create`. Dropping either kills the processes and removes their dirs.
//!
//! Everything is blocking (no async runtime needed); from an async test,
//! call it before the first `.await` or in `spawn_blocking`.
//!
//! When `redis-server` (or, for a cluster, `redis-cli`) is missing, `start`
//! prints a loud `SKIPPED` note to stderr and returns `None`, so the test can
//! return early:
//!
//! ```no_run
//! use livesession_redis_harness::{command, Reply, RedisServer};
//!
//! let Some(redis) = RedisServer::start() else { return };
//! assert_eq!(command(redis.port(), &["SET", "k", "v"]).unwrap(), Reply::Simple("OK".into()));
//! // hand redis.url() ("redis://127.0.0.1:PORT/") to the code under test
//! ```
//!
//! Environment:
//!
//! | variable | effect |
//! | --- | --- |
//! | `LIVESESSION_REQUIRE_REDIS=1` | a missing binary panics instead of skipping (set in CI) |
//! | `LIVESESSION_REDIS_SERVER` | the `redis-server` to run: a path, or a name looked up on `PATH`; a path that does not exist counts as missing |
//! | `LIVESESSION_REDIS_CLI` | the same for `redis-cli` (used only to create clusters) |
//!
//! A binary that is present but fails to start (or a cluster that does not
//! reach `cluster_state:ok`) always panics, with the tail of its log.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cluster;
mod node;
mod resp;
mod server;

pub use cluster::RedisCluster;
pub use resp::{command, Reply};
pub use server::RedisServer;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The variable that turns a missing Redis binary into a panic.
pub const REQUIRE_ENV: &str = "LIVESESSION_REQUIRE_REDIS";
/// The variable that overrides which `redis-server` is run.
pub const SERVER_ENV: &str = "LIVESESSION_REDIS_SERVER";
/// The variable that overrides which `redis-cli` is run.
pub const CLI_ENV: &str = "LIVESESSION_REDIS_CLI";

/// Whether `LIVESESSION_REQUIRE_REDIS=1` is set: tests needing Redis must
/// then fail rather than skip.
pub fn redis_required() -> bool {
    std::env::var_os(REQUIRE_ENV).is_some_and(|v| v == "1")
}

/// Reports that the calling test cannot run because of `reason` (e.g.
/// `"redis-server not found"`): panics when [`redis_required`], otherwise
/// prints a loud `SKIPPED` note to stderr, naming the test, and returns so
/// the caller can return early. `start` calls this itself; use it for other
/// Redis prerequisites a test checks on its own.
pub fn skip_or_panic(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed thread>")
        .to_owned();
    if redis_required() {
        panic!(
            "{reason} and {REQUIRE_ENV}=1, so test `{test}` fails instead of skipping. \
             Install it with: apt-get install redis-server redis-tools \
             (or point {SERVER_ENV} / {CLI_ENV} at the binaries)"
        );
    }
    let bar = "=".repeat(78);
    let note = format!(
        "\n{bar}\n\
         === SKIPPED: {reason}: test `{test}` did not run.\n\
         === Install it with: apt-get install redis-server redis-tools\n\
         === (or set {REQUIRE_ENV}=1 to make this a failure)\n\
         {bar}\n"
    );
    // Straight to the stderr stream, not `eprintln!`: the test harness
    // captures `eprintln!` of passing tests, which would hide the skip.
    let _ = std::io::stderr().lock().write_all(note.as_bytes());
}

/// Finds the binary `name`, or the one the variable `env` names. `None` if
/// it is not there.
fn locate(name: &str, env: &str) -> Option<PathBuf> {
    let wanted: OsString = match std::env::var_os(env) {
        Some(v) if !v.is_empty() => v,
        _ => name.into(),
    };
    let wanted = PathBuf::from(wanted);
    if wanted.components().count() > 1 || wanted.is_absolute() {
        return is_executable(&wanted).then_some(wanted);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(&wanted))
        .find(|candidate| is_executable(candidate))
}

/// Finds `name` (see [`locate`]), or reports the skip and returns `None`.
fn require_binary(name: &str, env: &str) -> Option<PathBuf> {
    let found = locate(name, env);
    if found.is_none() {
        let how = match std::env::var_os(env) {
            Some(v) if !v.is_empty() => format!("{env}={}", v.to_string_lossy()),
            _ => "PATH".to_owned(),
        };
        skip_or_panic(&format!("{name} not found (looked in {how})"));
    }
    found
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}
