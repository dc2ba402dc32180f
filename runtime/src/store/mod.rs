//! The persistence boundary: what a durable backend must do for the runtime.
//!
//! The runtime talks to storage only through [`SessionStore`]. A store never
//! sees a raw session id: records are keyed by [`SessionKey`], the SHA-256 of
//! the id, so a leaked data directory cannot be replayed as cookies.
//!
//! # Writing your own store
//!
//! A complete store over a `BTreeMap`, with the expiry and user lookups the
//! trait asks for (a real backend keeps indexes instead of scanning), run
//! against the shared behaviour suite every backend must pass (feature
//! `testing`) and used by a session manager:
//!
//! ```
//! use livesession::store::{SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture};
//! use std::collections::BTreeMap;
//! use std::sync::Mutex;
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<BTreeMap<SessionKey, SessionRecord>>);
//!
//! impl MapStore {
//!     fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<SessionKey, SessionRecord>> {
//!         self.0.lock().unwrap_or_else(|e| e.into_inner())
//!     }
//! }
//!
//! impl SessionStore for MapStore {
//!     fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
//!         Box::pin(async move { Ok(self.map().get(key).cloned()) })
//!     }
//!
//!     fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
//!         Box::pin(async move {
//!             let mut map = self.map();
//!             if map.contains_key(key) {
//!                 return Err(StoreError::AlreadyExists);
//!             }
//!             map.insert(*key, record.clone());
//!             Ok(())
//!         })
//!     }
//!
//!     fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
//!         Box::pin(async move {
//!             self.map().insert(*key, record.clone());
//!             Ok(())
//!         })
//!     }
//!
//!     fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
//!         Box::pin(async move { Ok(self.map().remove(key).is_some()) })
//!     }
//!
//!     fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
//!         Box::pin(async move {
//!             Ok(self.map().iter()
//!                 .filter(|(_, r)| r.user.as_deref() == Some(user))
//!                 .map(|(k, _)| *k)
//!                 .collect())
//!         })
//!     }
//!
//!     fn remove_expired<'a>(
//!         &'a self,
//!         now_ms: u64,
//!         limit: usize,
//!         skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
//!     ) -> StoreFuture<'a, usize> {
//!         Box::pin(async move {
//!             let mut map = self.map();
//!             let due: Vec<SessionKey> = map.iter()
//!                 .filter(|(k, r)| r.expires_at_ms.is_some_and(|t| t <= now_ms) && !skip(k))
//!                 .map(|(k, _)| *k)
//!                 .take(limit)
//!                 .collect();
//!             for k in &due {
//!                 map.remove(k);
//!             }
//!             Ok(due.len())
//!         })
//!     }
//!
//!     fn count(&self) -> StoreFuture<'_, u64> {
//!         Box::pin(async move { Ok(self.map().len() as u64) })
//!     }
//!
//!     fn flush(&self) -> StoreFuture<'_, ()> {
//!         Box::pin(async { Ok(()) }) // nothing to make durable in memory
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Every backend passes the shared behaviour suite...
//! livesession::testing::store_suite(MapStore::default).await;
//!
//! // ...and plugs into the manager.
//! use livesession::{RequestInfo, SessionConfig, SessionManager};
//! use std::sync::Arc;
//! let manager = SessionManager::new(
//!     SessionConfig::builder()
//!         .secret("a secret of at least thirty-two bytes!")
//!         .store(Arc::new(MapStore::default()))
//!         .build()
//!         .unwrap(),
//! );
//! let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
//! session.insert("user", "alice").await.unwrap();
//! session.save().await.unwrap(); // a new session is stored at the latest when its request ends
//! assert_eq!(manager.stats().await.unwrap().stored, 1);
//! # });
//! ```

pub mod codec;
mod data;
mod deferred;
mod key;
mod memory;
mod record;
mod shared;
mod shared_memory;
mod timeout;

#[doc(hidden)]
pub use data::SessionData;
pub use deferred::DeferredStore;
pub use key::SessionKey;
pub use memory::MemoryStore;
pub use record::{CookieOverrides, SessionRecord};
pub use shared::{Committed, Lifetime, Touched, Versioned};
pub use shared_memory::SharedMemoryStore;
pub(crate) use timeout::TimeoutStore;

use std::future::Future;
use std::pin::Pin;

/// The boxed future every [`SessionStore`] method returns (object safe, `Send`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A failure of the durable store. Never caused by client input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `create` found a record under that key already.
    #[error("a session record with this key already exists")]
    AlreadyExists,
    /// A stored record could not be decoded. The runtime logs it and treats the
    /// session as absent.
    #[error("corrupt session record: {0}")]
    Corrupt(String),
    /// The backend failed (I/O, disk full, closed database, timeout, ...);
    /// the backend's own error is its source.
    #[error("session store failure: {0}")]
    Backend(#[source] BoxError),
}

/// Any error a backend reports, kept with its type (see
/// [`std::error::Error::source`]).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl StoreError {
    /// Wraps any backend error (an error type, or a message).
    ///
    /// ```
    /// use livesession::StoreError;
    /// let io = std::io::Error::other("disk full");
    /// let err = StoreError::backend(io);
    /// let source = std::error::Error::source(&err).unwrap();
    /// assert!(source.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn backend(err: impl Into<BoxError>) -> Self {
        StoreError::Backend(err.into())
    }
}

/// A durable home for session snapshots.
///
/// Implementations must be safe to call concurrently. The runtime guarantees
/// that at most one live actor writes a given key at a time, so a store needs
/// no per-key locking of its own; it must however keep its secondary indexes
/// (user -> keys, expiry -> keys) consistent with the records it holds, and it
/// may leave stale index entries behind after a crash as long as they are
/// ignored or cleaned up later.
///
/// Every backend runs the shared behaviour suite in
/// `livesession::testing::store_suite` (feature `testing`).
pub trait SessionStore: Send + Sync + 'static {
    /// Loads the record for `key`; `Ok(None)` when there is none.
    /// Expired records may be returned: the runtime checks expiry itself.
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>>;

    /// Stores a new record; fails with [`StoreError::AlreadyExists`] when `key`
    /// is taken (the runtime never reuses ids).
    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()>;

    /// Inserts or replaces the record for `key`, updating the user and expiry indexes.
    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()>;

    /// Deletes the record for `key`; returns whether one existed.
    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool>;

    /// Keys of every record bound to `user` (expired ones included).
    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>>;

    /// Removes up to `limit` records whose `expires_at_ms <= now_ms`, skipping
    /// any key for which `skip` returns true (live sessions own their record).
    /// A record re-saved with a later expiry in the meantime must survive.
    /// Returns how many records were removed. Must not scan every record: use
    /// an expiry index. An index may be coarse (the sled store's has 1 s
    /// buckets): a record may then be removed up to that much after its
    /// expiry, never before. (The runtime never serves an expired record.)
    fn remove_expired<'a>(
        &'a self,
        now_ms: u64,
        limit: usize,
        skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize>;

    /// Number of records held (expired but not yet swept ones included).
    fn count(&self) -> StoreFuture<'_, u64>;

    /// Durability barrier: when it returns `Ok`, every write that completed
    /// before the call is on disk. Concurrent callers should share one flush
    /// (group commit). A store configured for periodic flushing may return at once.
    fn flush(&self) -> StoreFuture<'_, ()>;

    /// Deletes the record for `key` because its session was logged out or
    /// its id regenerated away (not revoked, not expired); returns whether
    /// one existed. A shared store remembers when, so that
    /// [`touch`](Self::touch) can answer [`Touched::Ended`] on every process.
    /// Default: [`delete`](Self::delete).
    fn end<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        self.delete(key)
    }

    /// Whether several processes share this store (see [`Versioned`]). A
    /// shared store implements [`create_shared`](Self::create_shared),
    /// [`touch`](Self::touch) and [`commit`](Self::commit), expires records
    /// by itself, and turns [`delete`](Self::delete) into a tombstone that no
    /// later write can bring back. The runtime then validates its cached copy
    /// of a session on every request and writes with compare-and-set; it never
    /// calls [`save`](Self::save) or [`remove_expired`](Self::remove_expired).
    /// Default: `false`.
    fn is_shared(&self) -> bool {
        false
    }

    /// Shared stores: stores a new record at version 1, only if `key` holds
    /// nothing (no record, no tombstone), with its expiry set from
    /// `lifetime` by the store's clock. Returns the version.
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when `key` is taken; [`StoreError::Backend`]
    /// on failure, and always from stores that are not shared.
    fn create_shared<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a SessionRecord,
        lifetime: Lifetime,
    ) -> StoreFuture<'a, u64> {
        let _ = (key, record, lifetime);
        not_shared()
    }

    /// Shared stores: validates a cached copy and marks the session used, in
    /// one call. Extends the record's idle expiry (by the store's clock, with
    /// the idle timeout of its last write, never past its absolute end) and
    /// answers [`Touched::Unchanged`] when the record is at `known`,
    /// [`Touched::Changed`] with the record when it is at another version or
    /// `known` is `None`, [`Touched::Ended`] for a record [`end`](Self::end)
    /// ended, and [`Touched::Gone`] when there is no live record otherwise.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] for an undecodable record;
    /// [`StoreError::Backend`] on failure, and always from stores that are not
    /// shared.
    fn touch<'a>(&'a self, key: &'a SessionKey, known: Option<u64>) -> StoreFuture<'a, Touched> {
        let _ = (key, known);
        not_shared()
    }

    /// Shared stores: replaces the record only if it is still at `expected`
    /// (compare-and-set), incrementing its version and setting its expiry
    /// from `lifetime.idle_ms`. `new_user`: the user this write binds the
    /// session to, when it differs from the record it was applied to; the
    /// store indexes it before the write lands, so a
    /// [`keys_for_user`](Self::keys_for_user) that starts after this call
    /// returns finds the session. Never creates a record.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] on failure, and always from stores that are not
    /// shared. A conflict or a missing record is an answer ([`Committed`]),
    /// not an error.
    fn commit<'a>(
        &'a self,
        key: &'a SessionKey,
        expected: u64,
        record: &'a SessionRecord,
        lifetime: Lifetime,
        new_user: Option<&'a str>,
    ) -> StoreFuture<'a, Committed> {
        let _ = (key, expected, record, lifetime, new_user);
        not_shared()
    }
}

/// The answer of the shared-store methods of a store that is not shared.
fn not_shared<'a, T: 'a>() -> StoreFuture<'a, T> {
    Box::pin(async {
        Err(StoreError::backend(
            "this session store is not shared: it has no versioned operations",
        ))
    })
}
