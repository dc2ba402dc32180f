//! A durable [`SessionStore`](livesession::store::SessionStore) for
//! `livesession`, built on [sled] 0.34.
//!
//! [`SledStore`] keeps one sled database with four trees:
//!
//! | tree        | key                                              | value          |
//! |-------------|--------------------------------------------------|----------------|
//! | `records`   | 32-byte [`SessionKey`](livesession::store::SessionKey) | [`codec`](livesession::store::codec)-encoded record |
//! | `by_expiry` | `expires_at_ms` (u64 BE) ++ key                  | empty          |
//! | `by_user`   | user length (u32 BE) ++ user bytes ++ key        | empty          |
//! | `meta`      | layout version, persisted record count           | small values   |
//!
//! Indexes are written before the record and cleaned after it, so a crash
//! leaves at most stale extra index entries, which every reader tolerates:
//! the expiry sweep removes stale `by_expiry` entries; a stale `by_user`
//! entry (a crash between a record's removal and its index cleanup, or a
//! corrupt record's) is skipped by every listing and stays.
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
//! With [`Durability::Sync`] (the default), writes and flushes are a group
//! commit: every write (create, save, delete) joins a queue, one job on the
//! store's threads applies everything queued (and what arrives meanwhile),
//! runs ONE `sled::Db::flush()` for the group, and only then answers each
//! writer; what arrives during that flush forms the next group. So a write
//! returns `Ok` only once it is durable, and the
//! [`flush`](livesession::store::SessionStore::flush) that follows it
//! returns at once; a flush that fails fails every write of its group. On
//! Linux, sled 0.34 makes a flush stable with `sync_file_range`, which
//! survives a process crash (`kill -9`) but not necessarily a power loss or
//! kernel crash until sled's background thread has run `fsync` (every 500 ms).
//! [`Durability::Periodic`] makes `flush` return at once and lets sled flush in
//! the background at the given interval; its writes use the same queue
//! without the flush: applied in groups (one thread hand-off per group) and
//! answered once applied.
//!
//! # Blocking and deadlines
//!
//! sled's calls block (disk reads, log writes, flushes), so the store never
//! makes them on an executor thread: each [`SessionStore`](livesession::store::SessionStore)
//! method returns a future that does nothing until polled, encodes or decodes
//! the record on the calling task, and hands the sled operations to a few
//! threads of the store's own (one per core, at least 4, at most 16), which
//! also run the group commit. A stalled disk therefore
//! stalls no executor thread, and the runtime's `store_timeout` bounds every
//! call: a call that times out answers an error at its deadline; if its sled
//! operations had not started they never run, otherwise they finish in the
//! background.
//!
//! The hand-off costs up to two thread wake-ups per call. Measured on a busy
//! 2-core VM (`tests/scale.rs`, `durable_write_throughput`, before -> after):
//! sequential save + flush 3-4k/s -> unchanged (the flush dominates); 64
//! concurrent writers saving + flushing 120-170k/s -> 100-140k/s; sequential
//! saves without flush 24-28k/s -> 11-21k/s; sequential loads 110-190k/s ->
//! 12-70k/s. (Tokio's `spawn_blocking` instead of the store's threads: 64
//! writers 18-30k/s, as it starts a thread per concurrent call.)
//!
//! With [`Durability::Sync`], writes then joined the group commit (one
//! hand-off and one flush per group; same test, busy 2-core VM, before ->
//! after): sequential save + flush 2.0k/s -> 2.6k/s; 8, 64, 200 concurrent
//! writers 8.3k, 86k, 128k/s -> 11k, 110k, 146k/s; sequential saves without
//! flush 9.8k/s -> 3.3k/s, as each now waits for its own flush (concurrent
//! ones share it).
//!
//! # Disk full and other I/O errors
//!
//! After sled 0.34 reports an I/O error (the disk is full, say), it refuses
//! every further write, and some reads, until the database is reopened. The
//! store does that itself; no restart is needed:
//!
//! * From the first I/O error, writes and flushes fail with
//!   [`StoreError::Backend`](livesession::store::StoreError::Backend) (the
//!   runtime answers 500) and [`SledStore::failure`] reports the error, for a
//!   health check. Reads still work where sled can serve them without writing
//!   (it compacts pages as it reads them); the others fail too.
//! * Each later store call checks whether a reopen is due (at once, then
//!   after waits doubling from 100 ms to 5 s while attempts fail). An attempt
//!   first writes and removes a 1 MiB probe file in the database directory:
//!   while that fails, the failed database stays as it is, serving reads.
//! * Once there is room, the call closes the failed database and opens it
//!   again: sled recovers everything that was flushed. The store then writes
//!   again every record written (the write returned `Ok`) since the last
//!   successful flush (with [`Durability::Sync`] it keeps them in memory until
//!   a flush covers them), flushes, and only then serves calls: a write
//!   acknowledged before the failure is not lost, and a later `flush` that
//!   returns `Ok` really covers it. Calls made while the database is being
//!   reopened fail at once.
//! * The record count is recounted in the background after a reopen, as after
//!   a crash (see [`SledStore::count_is_exact`]).
//!
//! With [`Durability::Periodic`], writes are not kept for a reopen: one loses
//! what sled had not flushed yet, at most one interval, as a crash would.
//! Deletions by the expiry sweep are not kept either: a lost one only brings
//! back an expired record, which the next sweep removes again.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
mod config;
mod counter;
mod db;
mod group_commit;
mod pool;
mod store;

pub use config::{Durability, SledConfig};
pub use store::SledStore;
