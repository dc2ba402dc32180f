//! A Redis (or Redis Cluster) session store for
//! [livesession](https://docs.rs/livesession) shared by several app servers.
//!
//! [`RedisStore`] is a *shared* store ([`SessionStore::is_shared`] is true):
//! Redis holds the truth about every session, each app server keeps only a
//! cache, and every write is a compare-and-set on a version the store keeps.
//! Two servers writing one session at once never lose an update (the second
//! gets [`Committed::Conflict`] with the current record and re-applies its
//! changes), a logout on one server is final on all of them (a deleted
//! session leaves a tombstone that no later write can bring back), and
//! expiry is measured by the Redis node's clock, so the servers' clocks do
//! not matter.
//!
//! ```no_run
//! use livesession::{SessionConfig, SessionManager};
//! use livesession_redis::{RedisOptions, RedisStore};
//! use std::sync::Arc;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect(
//!     "redis://127.0.0.1:6379/",
//!     RedisOptions::new().prefix("myapp:sessions:"),
//! )
//! .await?;
//! let manager = SessionManager::new(
//!     SessionConfig::builder()
//!         .secret(std::env::var("SESSION_SECRET")?)
//!         .store(Arc::new(store))
//!         .build()?,
//! );
//! # let _ = manager;
//! # Ok(())
//! # }
//! ```
//!
//! A Cluster: [`RedisStore::connect_cluster`] with the URLs of some of its
//! nodes. Needs Redis 7.0 or later (or Valkey 7.2 or later).
//!
//! # Keys
//!
//! Nothing in Redis names a raw session id or a raw user name: the runtime
//! hands the store only [`SessionKey`]s (SHA-256 of the id), and users are
//! indexed by the SHA-256 of their name. With the default prefix
//! `livesession:`:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `livesession:s:{<hex of the session key>}` | hash | one session: `v` version, `r` the record ([`codec`] bytes), `i` idle timeout ms (0: none), `a` absolute end ms by Redis time (0: none), `u` hex SHA-256 of the bound user, `x` the expiry last written to the count index, `d` = 1 for a tombstone (which has no `r`), `e` when [`end`](SessionStore::end) made it one (Redis time ms) |
//! | `livesession:u:{<hex SHA-256 of the user>}` | sorted set | the user's sessions (hex keys), scored by the Redis time they were bound |
//! | `livesession:index` | sorted set | every live session (hex key), scored by its expiry ms (`+inf`: none), for [`count`](SessionStore::count) |
//!
//! The braces are a Cluster hash tag. Every script touches exactly one key,
//! so it runs on the one node that owns it; the user index and the count
//! index are written by separate commands. The count index is a single key:
//! on a Cluster, one node takes every session's index writes.
//!
//! A session key expires (`PEXPIREAT`) at the earlier of its idle end (the
//! last create, touch or commit + its idle timeout) and its absolute end,
//! both by the time Redis reads inside the script (`TIME`); with neither it
//! never expires. A tombstone keeps the expiry of the session it ends.
//!
//! # Round trips
//!
//! | call | round trips |
//! | --- | --- |
//! | [`touch`](SessionStore::touch) | 1 script; + 1 `ZADD` when the expiry moved by more than a quarter of the idle timeout since the count index last heard of it |
//! | [`commit`](SessionStore::commit) | 1 script (+ 1 `ZADD` as for touch, or when the expiry moved earlier); + 1 before it when it binds a user |
//! | [`create_shared`](SessionStore::create_shared) | 1 script + 1 `ZADD`; + 1 before them when the record has a user (and a prune of the user's index when that brings it to 64, 128, ... entries) |
//! | [`delete`](SessionStore::delete), [`end`](SessionStore::end) | 1 script; + 1 (the index removals, pipelined) when it deleted something; + 1 `WAIT` when [`RedisOptions::wait_replicas`] is set |
//! | [`keys_for_user`](SessionStore::keys_for_user) | 1 `ZRANGE` + 1 pipeline of `HMGET`s (per 500 sessions) + 1 script when it prunes |
//! | [`count`](SessionStore::count) | 1 script; + 2 (a pipeline of probes, a script) when index entries are due for a recheck |
//! | [`load`](SessionStore::load) | 1 `HMGET` |
//! | [`save`](SessionStore::save), [`create`](SessionStore::create) (not used by the runtime on a shared store) | 1 script + 1 `ZADD`; + 1 before them when the record has a user |
//!
//! On a Cluster, a "pipeline" is the same commands sent concurrently, one
//! request each, over the multiplexed connections to the nodes.
//!
//! # Consistency and durability
//!
//! - A user is indexed *before* the write that binds the session to it, so
//!   a [`keys_for_user`](SessionStore::keys_for_user) (a revoke) that starts
//!   after `create_shared` or `commit` returned finds the session.
//!   `keys_for_user` returns only live sessions still bound to the user; it
//!   prunes tombstones from the index at once, and entries of sessions that
//!   are gone or bound to someone else once they were indexed more than a
//!   minute ago (until then their write may still be on its way).
//! - [`count`](SessionStore::count) is exact once expired entries are
//!   rechecked: each call first rechecks up to 1000 index entries whose
//!   indexed expiry has passed (removing the gone ones, re-scoring the live
//!   ones from `PEXPIRETIME`), then answers the index's size. Entries are
//!   never indexed later than their key expires, so only a backlog of more
//!   than 1000 due entries makes it count sessions that already ended.
//! - [`flush`](SessionStore::flush) returns at once: Redis acknowledges a
//!   write once it has applied it, and with `appendonly yes` and
//!   `appendfsync always` it is on disk by then (with `everysec`, up to a
//!   second of writes can be lost in a crash). Replication is asynchronous:
//!   a failover can lose acknowledged writes. [`RedisOptions::wait_replicas`]
//!   makes `delete` (logouts, revokes) wait for replicas with `WAIT`.
//! - Index upkeep after a decisive write (the `ZADD` after a create or
//!   commit, the removals after a delete) is best effort: a failure is
//!   logged and the write still counts, because a commit reported as failed
//!   would be retried and applied twice. `keys_for_user` prunes stale
//!   entries and `count` rechecks them; a session whose `ZADD` into the
//!   count index failed is indexed again by a later touch or commit that
//!   moves its expiry, but one that never moves (no idle timeout) stays out
//!   of `count` (a metric only) until it is written with a new expiry.
//!   A user's index keeps the entries of sessions that simply expired until
//!   the user's sessions are next listed or revoked, or a binding finds the
//!   index at 64 entries (then 128, 256, ...) and prunes it.
//!
//! # Connections and outages
//!
//! [`RedisStore::connect`] connects at once and fails (after
//! [`RedisOptions::connect_timeout`] and two quick retries) when Redis is
//! unreachable, so a misconfigured server is noticed at startup. Once
//! connected, the store reconnects by itself: during an outage calls fail
//! with [`StoreError::Backend`] within a few connect timeouts, and the first
//! calls after Redis is back succeed again on the same store. Scripts are
//! sent as `EVALSHA` and loaded again when a restarted server lost them.
//!
//! [`codec`]: livesession::store::codec

#![forbid(unsafe_code)]
#![deny(missing_docs)]

// What the crate docs above link to.
#[cfg(doc)]
use livesession::store::{Committed, SessionKey, SessionStore, StoreError};

mod conn;
mod indexes;
mod keys;
mod options;
mod reply;
mod scripts;
mod session_ops;
mod store;

pub use options::RedisOptions;
pub use store::RedisStore;
