//! What a store shared by several processes answers: versioned records,
//! compare-and-set commits and validating touches.
//!
//! A store that several app servers use at once (Redis) is the truth about
//! every session; each process keeps only a cache of it. Every record then
//! carries a version the store increments on each write, so a process can
//! tell whether what it holds is current ([`SessionStore::touch`]) and write
//! only on top of what it read ([`SessionStore::commit`]). Stores used by
//! one process (memory, sled) need none of this: the runtime's single owner
//! per session already serialises every change.

use super::SessionRecord;
#[cfg(doc)]
use super::SessionStore;

/// A record and the version the store holds it at.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use livesession::store::{Lifetime, SessionKey, SessionRecord, SessionStore, SharedMemoryStore, Touched};
/// let store = SharedMemoryStore::new();
/// let key = SessionKey::of_id("some-id");
/// store.create_shared(&key, &SessionRecord::default(), Lifetime::default()).await.unwrap();
/// let Touched::Changed(cached) = store.touch(&key, None).await.unwrap() else { unreachable!() };
/// assert_eq!(cached.version, 1);
/// assert_eq!(cached.record, SessionRecord::default());
/// # });
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    /// Incremented by the store on every write to the record; starts at 1.
    pub version: u64,
    /// The record as stored.
    pub record: SessionRecord,
}

/// How long a session lives, measured by the shared store's own clock, so
/// that processes with skewed clocks agree on when a session ends.
///
/// # Examples
///
/// ```
/// use livesession::store::Lifetime;
/// // A 30-minute idle timeout, ending 12 hours after login at the latest:
/// let lifetime = Lifetime { idle_ms: Some(30 * 60_000), absolute_ms: Some(12 * 3_600_000) };
/// assert_eq!(Lifetime::default(), Lifetime { idle_ms: None, absolute_ms: None }); // never ends
/// # let _ = lifetime;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifetime {
    /// Idle timeout: the session ends this long after it was last created,
    /// touched or committed. `None`: no idle end.
    pub idle_ms: Option<u64>,
    /// Absolute timeout, counted from creation. `None`: none. Only
    /// [`SessionStore::create_shared`] reads it; the store keeps the end it
    /// computed then.
    pub absolute_ms: Option<u64>,
}

/// The answer of [`SessionStore::touch`].
///
/// # Examples
///
/// What a process does with the answer on each request:
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use livesession::store::{Lifetime, SessionKey, SessionRecord, SessionStore, SharedMemoryStore, Touched, Versioned};
/// let store = SharedMemoryStore::new();
/// let key = SessionKey::of_id("some-id");
/// let version = store.create_shared(&key, &SessionRecord::default(), Lifetime::default()).await.unwrap();
/// let mut cache = Some(Versioned { version, record: SessionRecord::default() });
///
/// match store.touch(&key, cache.as_ref().map(|c| c.version)).await.unwrap() {
///     Touched::Unchanged => {}                       // the cached copy is current
///     Touched::Changed(current) => cache = Some(current), // another process wrote
///     Touched::Ended { .. } | Touched::Gone => cache = None, // start a new session
///     _ => cache = None,                              // #[non_exhaustive]
/// }
/// assert_eq!(cache.map(|c| c.version), Some(1));
/// # });
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Touched {
    /// No live record: never existed, expired, or revoked (or ended longer
    /// ago than a store remembers endings for).
    Gone,
    /// No live record: [`SessionStore::end`] ended it (a logout, or its id
    /// was regenerated away) `ago_ms` milliseconds ago, by the store's
    /// clock. A request still carrying its cookie was most likely sent
    /// before that answer reached the browser.
    Ended {
        /// How long ago, by the store's clock.
        ago_ms: u64,
    },
    /// The record is still at the version the caller knows.
    Unchanged,
    /// The record is at another version (or the caller knew none): here it is.
    Changed(Versioned),
}

/// The answer of [`SessionStore::commit`].
///
/// # Examples
///
/// A read-modify-write that loses nothing to other processes: on a
/// conflict, apply the change again to what the store holds.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use livesession::store::{Committed, Lifetime, SessionKey, SessionRecord, SessionStore, SharedMemoryStore, Versioned};
/// let store = SharedMemoryStore::new();
/// let key = SessionKey::of_id("some-id");
/// let v1 = store.create_shared(&key, &SessionRecord::default(), Lifetime::default()).await.unwrap();
/// let mut seen = Versioned { version: v1, record: SessionRecord::default() };
/// // Another process writes first:
/// store.commit(&key, v1, &SessionRecord::default(), Lifetime::default(), None).await.unwrap();
///
/// let version = loop {
///     let mut record = seen.record.clone();
///     record.data.insert("visits".into(), serde_json::json!(1));
///     match store.commit(&key, seen.version, &record, Lifetime::default(), None).await.unwrap() {
///         Committed::Done(version) => break version,
///         Committed::Conflict(current) => seen = current, // try again on top of it
///         Committed::Gone => panic!("the session ended meanwhile"),
///     }
/// };
/// assert_eq!(version, 3);
/// # });
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Committed {
    /// Written; the record is now at this version.
    Done(u64),
    /// Someone else wrote first: nothing was written; here is what the store
    /// holds now. The caller re-applies its changes to it and tries again.
    Conflict(Versioned),
    /// No live record: nothing was written, and nothing ever will be under
    /// this key (a commit never creates a record).
    Gone,
}
