//! A durable [`SessionStore`](livesession::store::SessionStore) for
//! `livesession`, built on [sled] 0.34.
//!
//! [`SledStore`] keeps one sled database with four trees:
//!
//! | tree        | key                                              | value          |
//! |-------------|--------------------------------------------------|----------------|
//! | `records`   | 32-byte [`SessionKey`](livesession::store::SessionKey) | [`codec`]-encoded record |
//! | `by_expiry` | `expires_at_ms` (u64 BE) ++ key                  | empty          |
//! | `by_user`   | user length (u32 BE) ++ user bytes ++ key        | empty          |
//! | `meta`      | layout version, persisted record count           | small values   |
//!
//! Indexes are written before the record and cleaned after it, so a crash
//! leaves at most stale extra index entries, which every reader tolerates and
//! the expiry sweep removes.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use livesession::store::{SessionKey, SessionRecord, SessionStore};
//! use livesession_sled::{SledConfig, SledStore};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let store = SledStore::open(dir.path(), SledConfig::default()).unwrap();
//! let key = SessionKey::of_id("some-session-id");
//! store.create(&key, &SessionRecord::default()).await.unwrap();
//! store.flush().await.unwrap(); // durable from here on
//! assert_eq!(store.count().await.unwrap(), 1);
//! # });
//! ```
//!
//! # Record count
//!
//! `count()` is O(1): an in-memory counter that every insert and removal
//! updates from what sled reports it did. A clean shutdown (dropping the last
//! [`SledStore`] clone) persists it in `meta` with a "clean" flag, which
//! opening consumes, so startup never scans the sessions. After a crash the
//! persisted value is only an estimate: the store opens at once anyway and a
//! background thread recounts the records, exactly even under concurrent
//! writes (see [`SledStore::count_is_exact`]).
//!
//! # Durability
//!
//! With [`Durability::Sync`] (the default), [`flush`](livesession::store::SessionStore::flush)
//! is a group commit: concurrent callers share one `sled::Db::flush()`. On
//! Linux, sled 0.34 makes a flush stable with `sync_file_range`, which
//! survives a process crash (`kill -9`) but not necessarily a power loss or
//! kernel crash until sled's background thread has run `fsync` (every 500 ms).
//! [`Durability::Periodic`] makes `flush` return at once and lets sled flush in
//! the background at the given interval.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
mod config;
mod counter;
mod group_commit;
mod store;

pub use config::{Durability, SledConfig};
pub use store::SledStore;
