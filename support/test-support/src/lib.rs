//! Test code shared by several livesession crates (dev-dependency only).
//!
//! [`manager`]: requests through a [`SessionManager`](livesession::SessionManager)
//! with the cookie carried by hand (`request`, `pair`, `new_session`,
//! `read_n`, `increment`, ...), for the runtime's integration tests and the
//! Redis store's multi-manager tests.
//!
//! [`model`]: the model-based property harness. Random sequences of
//! requests, clock moves, passivations, restarts, store faults and cancelled
//! requests run against a [`SessionManager`](livesession::SessionManager)
//! and, step by step, against a sequential model of every session. A test
//! picks where sessions are stored (a [`model::Host`]) and runs cases:
//!
//! ```no_run
//! use livesession_test_support::model::{case, check, config, NoStore};
//! use proptest::prelude::*;
//!
//! proptest! {
//!     #![proptest_config(config(48))]
//!
//!     #[test]
//!     fn memory_mode_matches_the_model((setup, ops) in case(40)) {
//!         check(NoStore, &setup, &ops)?;
//!     }
//! }
//! ```
//!
//! `runtime/tests/model.rs` runs it over memory mode and `MemoryStore`,
//! `persistence/sled/tests/model.rs` over `SledStore`.
//!
//! The store behaviour suites and the fault-injecting `FaultyStore` stay in
//! `livesession::testing` (feature `testing`): they are part of the
//! published crate's API, for authors of other store backends.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod manager;
pub mod model;
