//! Black-box behaviour suite: drives `poem-demo` and `salvo-demo` over real
//! HTTP on 127.0.0.1, per examples/README.md, in `--memory` mode (one
//! scenario of `devices` also on a sled data dir, for handles that survive a
//! restart).
//!
//! Every scenario is written once as `async fn name(demo: Demo)` and
//! instantiated for both servers by `scenarios!`, which generates
//! `<module>::poem::<name>` and `<module>::salvo::<name>`
//! (filter with `cargo test --test behaviour poem::` or `salvo::`).

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod bad_input;
mod concurrency;
mod cookies;
mod devices;
mod expiry;
mod memory_mode;
mod metrics;
mod options;
mod routes;
mod secrets;

/// Each server here is one process (see `tests/behaviour_shared` for the
/// same scenarios on two processes sharing Redis).
pub const SHARED: bool = false;
