//! The behaviour suite again, with every server made of two demo processes
//! sharing one Redis of their own and requests alternating between them
//! (`/health` and `/stats` go to the first): every rule of the demos'
//! contract holds when each request lands on a different app server.
//!
//! The scenarios are the `behaviour` suite's own files, minus what is
//! per process by nature: `--memory` mode's stats and passivation, and
//! `/metrics` counters. Without `redis-server` each scenario says so loudly
//! and runs on one process in memory instead (`LIVESESSION_REQUIRE_REDIS=1`,
//! set in CI, makes that a failure).

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

#[path = "../behaviour/bad_input.rs"]
mod bad_input;
#[path = "../behaviour/concurrency.rs"]
mod concurrency;
#[path = "../behaviour/cookies.rs"]
mod cookies;
#[path = "../behaviour/devices.rs"]
mod devices;
#[path = "../behaviour/expiry.rs"]
mod expiry;
#[path = "../behaviour/options.rs"]
mod options;
#[path = "../behaviour/routes.rs"]
mod routes;
#[path = "../behaviour/secrets.rs"]
mod secrets;

/// Servers started with `Cfg::memory()` are two processes on one Redis.
pub const SHARED: bool = true;
