//! Test helpers for [`SessionStore`](crate::store::SessionStore) backends
//! (feature `testing`).
//!
//! - [`store_suite`]: the behaviour suite every backend that keeps its
//!   records until `remove_expired` (memory, sled) must pass.
//! - [`shared_store_suite`]: the contract of a store shared by several
//!   processes (`is_shared`: versions, compare-and-set, tombstones, expiry
//!   by the store's own clock).
//! - [`FaultyStore`]: a wrapper that fails, delays or hangs chosen operations,
//!   for fault-injection tests of the runtime.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use livesession::store::MemoryStore;
//! livesession::testing::store_suite(MemoryStore::new).await;
//! # });
//! ```

mod faulty;
mod shared_suite;
mod suite;

pub use faulty::{FaultyStore, Op};
pub use shared_suite::shared_store_suite;
pub use suite::store_suite;
