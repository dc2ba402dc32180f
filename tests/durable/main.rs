//! Process-level tests with the default sled store in a temporary
//! `--data-dir`: restarts, SIGKILL, secret rotation across restarts,
//! expiry and passivation, and what reaches the data dir.
//!
//! Every scenario is written once as `async fn name(demo: Demo)` and run for
//! both servers: `<module>::poem::<name>` and `<module>::salvo::<name>`.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod crash;
mod expiry;
mod passivation;
mod restart;
mod store_privacy;

/// Servers started with `Cfg::memory()` are single processes.
pub const SHARED: bool = false;
