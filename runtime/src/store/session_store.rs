//! The [`SessionStore`] trait: the contract every backend implements.

use super::{Committed, Lifetime, SessionKey, SessionRecord, StoreError, StoreFuture, Touched};

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
///
/// See [the module docs](crate::store#writing-your-own-store) for a complete store.
///
/// # Examples
///
/// The runtime holds a store as `Arc<dyn SessionStore>`; so can tests and
/// admin tools:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
/// use std::sync::Arc;
///
/// let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
/// let key = SessionKey::of_id("some-id");
/// let record = SessionRecord { user: Some("alice".into()), ..SessionRecord::default() };
/// store.create(&key, &record).await.unwrap();
/// store.flush().await.unwrap();
/// assert_eq!(store.load(&key).await.unwrap().unwrap().user.as_deref(), Some("alice"));
/// assert_eq!(store.keys_for_user("alice").await.unwrap(), vec![key]);
/// # });
/// ```
pub trait SessionStore: Send + Sync + 'static {
    /// Loads the record for `key`; `Ok(None)` when there is none.
    /// Expired records may be returned: the runtime checks expiry itself.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// assert_eq!(store.load(&key).await.unwrap(), None);
    /// store.save(&key, &SessionRecord::default()).await.unwrap();
    /// assert_eq!(store.load(&key).await.unwrap(), Some(SessionRecord::default()));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] when the stored bytes do not decode (the runtime
    /// logs it and treats the session as absent); [`StoreError::Backend`] when
    /// the backend fails.
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>>;

    /// Stores a new record; fails with [`StoreError::AlreadyExists`] when `key`
    /// is taken (the runtime never reuses ids).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// use livesession::StoreError;
    /// store.create(&key, &SessionRecord::default()).await.unwrap();
    /// let again = store.create(&key, &SessionRecord::default()).await;
    /// assert!(matches!(again, Err(StoreError::AlreadyExists)));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::AlreadyExists`] when `key` holds a record (nothing is
    /// written); [`StoreError::Backend`] when the backend fails.
    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()>;

    /// Inserts or replaces the record for `key`, updating the user and expiry indexes.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// let mut record = SessionRecord::default();
    /// record.user = Some("alice".into());
    /// store.save(&key, &record).await.unwrap(); // inserts
    /// record.user = Some("bob".into());
    /// store.save(&key, &record).await.unwrap(); // replaces, and re-indexes
    /// assert!(store.keys_for_user("alice").await.unwrap().is_empty());
    /// assert_eq!(store.keys_for_user("bob").await.unwrap(), vec![key]);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the backend fails.
    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()>;

    /// Deletes the record for `key`; returns whether one existed.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// store.save(&key, &SessionRecord::default()).await.unwrap();
    /// assert!(store.delete(&key).await.unwrap());
    /// assert!(!store.delete(&key).await.unwrap()); // nothing left to delete
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the backend fails.
    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool>;

    /// Keys of every record bound to `user` (expired ones included).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// let bound = SessionRecord { user: Some("alice".into()), ..SessionRecord::default() };
    /// store.save(&key, &bound).await.unwrap();
    /// store.save(&SessionKey::of_id("anonymous"), &SessionRecord::default()).await.unwrap();
    /// assert_eq!(store.keys_for_user("alice").await.unwrap(), vec![key]);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the backend fails.
    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>>;

    /// Removes up to `limit` records whose `expires_at_ms <= now_ms`, skipping
    /// any key for which `skip` returns true (live sessions own their record).
    /// A record re-saved with a later expiry in the meantime must survive.
    /// Returns how many records were removed. Must not scan every record: use
    /// an expiry index. An index may be coarse (the sled store's has 1 s
    /// buckets): a record may then be removed up to that much after its
    /// expiry, never before. (The runtime never serves an expired record.)
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// let at = |ms| SessionRecord { expires_at_ms: Some(ms), ..SessionRecord::default() };
    /// store.save(&key, &at(1_000)).await.unwrap();
    /// store.save(&SessionKey::of_id("live"), &at(1_000)).await.unwrap(); // owned by a live session
    /// store.save(&SessionKey::of_id("later"), &at(9_000)).await.unwrap();
    /// let live = SessionKey::of_id("live");
    /// let skip = move |k: &SessionKey| *k == live;
    /// assert_eq!(store.remove_expired(5_000, 100, &skip).await.unwrap(), 1);
    /// assert_eq!(store.count().await.unwrap(), 2);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the backend fails; records removed before
    /// the failure stay removed.
    fn remove_expired<'a>(
        &'a self,
        now_ms: u64,
        limit: usize,
        skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize>;

    /// Number of records held (expired but not yet swept ones included).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// assert_eq!(store.count().await.unwrap(), 0);
    /// store.save(&key, &SessionRecord::default()).await.unwrap();
    /// assert_eq!(store.count().await.unwrap(), 1);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the backend fails.
    fn count(&self) -> StoreFuture<'_, u64>;

    /// Durability barrier: when it returns `Ok`, every write that completed
    /// before the call is on disk. Concurrent callers should share one flush
    /// (group commit). A store configured for periodic flushing may return at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// store.save(&key, &SessionRecord::default()).await.unwrap();
    /// store.flush().await.unwrap(); // the save survives a crash from here on
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the writes cannot be made durable.
    fn flush(&self) -> StoreFuture<'_, ()>;

    /// Whether a write that completed (`create`, `save`, `delete` or `end`
    /// answered `Ok`) is durable already, as if [`flush`](Self::flush) had
    /// followed it. The runtime then calls no `flush` after a new session's
    /// create, a change's save or an ended session's delete; it still calls
    /// it where it needs what it *read* to be durable. The runtime asks after
    /// each write, so the answer may change from `false` to `true` (a store
    /// that opens in the background), never back. Default `false`;
    /// livesession-sled says `true` with sync durability, whose writes answer
    /// once their group is flushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::{MemoryStore, SessionStore};
    /// assert!(!MemoryStore::new().completed_writes_are_durable());
    /// ```
    fn completed_writes_are_durable(&self) -> bool {
        false
    }

    /// Deletes the record for `key` because its session was logged out or
    /// its id regenerated away (not revoked, not expired); returns whether
    /// one existed. A shared store remembers when, so that
    /// [`touch`](Self::touch) can answer [`Touched::Ended`] on every process.
    /// Default: [`delete`](Self::delete).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// store.save(&key, &SessionRecord::default()).await.unwrap();
    /// assert!(store.end(&key).await.unwrap()); // a plain delete in a store that is not shared
    /// assert_eq!(store.load(&key).await.unwrap(), None);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the backend fails.
    fn end<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        self.delete(key)
    }

    /// Whether several processes share this store (see [`Versioned`](super::Versioned)). A
    /// shared store implements [`create_shared`](Self::create_shared),
    /// [`touch`](Self::touch) and [`commit`](Self::commit), expires records
    /// by itself, and turns [`delete`](Self::delete) into a tombstone that no
    /// later write can bring back. The runtime then validates its cached copy
    /// of a session on every request and writes with compare-and-set; it never
    /// calls [`save`](Self::save) or [`remove_expired`](Self::remove_expired).
    /// Default: `false`.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// let store = MemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// use livesession::store::SharedMemoryStore;
    /// assert!(!store.is_shared());
    /// assert!(SharedMemoryStore::new().is_shared());
    /// # });
    /// ```
    fn is_shared(&self) -> bool {
        false
    }

    /// Shared stores: stores a new record at version 1, only if `key` holds
    /// nothing (no record, no tombstone), with its expiry set from
    /// `lifetime` by the store's clock. Returns the version.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{Lifetime, SessionKey, SessionRecord, SessionStore, SharedMemoryStore, StoreError};
    /// let store = SharedMemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// let day = Lifetime { idle_ms: Some(86_400_000), absolute_ms: None };
    /// assert_eq!(store.create_shared(&key, &SessionRecord::default(), day).await.unwrap(), 1);
    /// let again = store.create_shared(&key, &SessionRecord::default(), day).await;
    /// assert!(matches!(again, Err(StoreError::AlreadyExists)));
    /// # });
    /// ```
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
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{Lifetime, SessionKey, SessionRecord, SessionStore, SharedMemoryStore, Touched};
    /// let store = SharedMemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// let v1 = store.create_shared(&key, &SessionRecord::default(), Lifetime::default()).await.unwrap();
    /// // A process caching version 1 learns it is current; one that knows none gets the record.
    /// assert_eq!(store.touch(&key, Some(v1)).await.unwrap(), Touched::Unchanged);
    /// assert!(matches!(store.touch(&key, None).await.unwrap(), Touched::Changed(v) if v.version == v1));
    /// store.end(&key).await.unwrap(); // a logout
    /// assert!(matches!(store.touch(&key, Some(v1)).await.unwrap(), Touched::Ended { .. }));
    /// # });
    /// ```
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
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::store::{Committed, Lifetime, SessionKey, SessionRecord, SessionStore, SharedMemoryStore};
    /// let store = SharedMemoryStore::new();
    /// let key = SessionKey::of_id("some-id");
    /// let v1 = store.create_shared(&key, &SessionRecord::default(), Lifetime::default()).await.unwrap();
    /// let mut record = SessionRecord::default();
    /// record.user = Some("alice".into());
    /// // Binds the session to alice: the store indexes her before the write lands.
    /// let done = store.commit(&key, v1, &record, Lifetime::default(), Some("alice")).await.unwrap();
    /// assert_eq!(done, Committed::Done(v1 + 1));
    /// assert_eq!(store.keys_for_user("alice").await.unwrap(), vec![key]);
    /// # });
    /// ```
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
