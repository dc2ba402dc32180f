//! An in-process shared store: the semantics of a store that several
//! processes share (versions, compare-and-set, tombstones, expiry by the
//! store's own clock), for tests that run several managers in one process
//! as if each were an app server.

use super::{
    Committed, Lifetime, SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture, Touched,
    Versioned,
};
use crate::clock::{Clock, SystemClock};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A [`SessionStore`] with the shared-store contract ([`is_shared`] is true),
/// kept in process memory.
///
/// Several [`SessionManager`](crate::SessionManager)s given clones of one
/// `Arc<SharedMemoryStore>` behave like app servers sharing a Redis: each
/// validates its cached sessions on every request and writes with
/// compare-and-set. Time is the store's own clock (the system clock unless
/// [`with_clock`](Self::with_clock) gives another), as a Redis server's is.
///
/// [`is_shared`]: SessionStore::is_shared
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use livesession::store::{Committed, Lifetime, SessionKey, SessionRecord, SessionStore, SharedMemoryStore, Touched};
/// let store = SharedMemoryStore::new();
/// let key = SessionKey::of_id("some-id");
/// let v = store.create_shared(&key, &SessionRecord::default(), Lifetime::default()).await.unwrap();
/// assert_eq!(store.touch(&key, Some(v)).await.unwrap(), Touched::Unchanged);
/// let done = store.commit(&key, v, &SessionRecord::default(), Lifetime::default(), None).await.unwrap();
/// assert_eq!(done, Committed::Done(v + 1));
/// // A write on top of an old version is refused, with what is there now.
/// let stale = store.commit(&key, v, &SessionRecord::default(), Lifetime::default(), None).await.unwrap();
/// assert!(matches!(stale, Committed::Conflict(now) if now.version == v + 1));
/// store.delete(&key).await.unwrap();
/// assert_eq!(store.touch(&key, None).await.unwrap(), Touched::Gone);
/// # });
/// ```
pub struct SharedMemoryStore {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<SessionKey, Entry>>,
}

struct Entry {
    /// `None`: a tombstone.
    live: Option<Versioned>,
    /// A tombstone left by `end`: when (store clock).
    ended_at_ms: Option<u64>,
    idle_ms: Option<u64>,
    absolute_end_ms: Option<u64>,
    /// When the entry disappears (Unix ms by the store's clock).
    expires_at_ms: Option<u64>,
}

impl Entry {
    fn expired(&self, now: u64) -> bool {
        self.expires_at_ms.is_some_and(|t| t <= now)
    }

    fn extend(&mut self, now: u64) {
        let idle = self.idle_ms.map(|i| now.saturating_add(i));
        self.expires_at_ms = match (idle, self.absolute_end_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

impl Default for SharedMemoryStore {
    fn default() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }
}

impl SharedMemoryStore {
    /// An empty store on the system clock.
    ///
    /// # Examples
    ///
    /// Two managers sharing one store, as two app servers share a Redis:
    ///
    /// ```
    /// use livesession::store::SharedMemoryStore;
    /// use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = Arc::new(SharedMemoryStore::new());
    /// let server = || {
    ///     SessionManager::new(
    ///         SessionConfig::builder()
    ///             .secret("a secret of at least thirty-two bytes!")
    ///             .store(store.clone())
    ///             .build()
    ///             .unwrap(),
    ///     )
    /// };
    /// let (a, b) = (server(), server());
    /// let first = a.start(&RequestInfo { path: "/", ..Default::default() });
    /// first.insert("user", "alice").await.unwrap();
    /// let cookie = first.finish().await.unwrap().remove(0);
    /// let cookie = cookie.split(';').next().unwrap();
    /// let next = b.start(&RequestInfo { cookie_header: Some(cookie), path: "/", ..Default::default() });
    /// assert_eq!(next.get::<String>("user").await.unwrap().as_deref(), Some("alice"));
    /// # });
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store whose expiries follow `clock`.
    ///
    /// # Examples
    ///
    /// Expiry by the store's clock, without sleeping:
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use livesession::clock::ManualClock;
    /// use livesession::store::{Lifetime, SessionKey, SessionRecord, SessionStore, SharedMemoryStore, Touched};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let clock = Arc::new(ManualClock::new(0));
    /// let store = SharedMemoryStore::with_clock(clock.clone());
    /// let key = SessionKey::of_id("some-id");
    /// let idle = Lifetime { idle_ms: Some(1_000), absolute_ms: None };
    /// let v = store.create_shared(&key, &SessionRecord::default(), idle).await.unwrap();
    /// clock.advance(Duration::from_millis(999));
    /// assert_eq!(store.touch(&key, Some(v)).await.unwrap(), Touched::Unchanged); // extends it
    /// clock.advance(Duration::from_millis(1_000));
    /// assert_eq!(store.touch(&key, Some(v)).await.unwrap(), Touched::Gone);
    /// # });
    /// ```
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        SharedMemoryStore {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Runs `f` on the live entries at the store's now (expired ones removed
    /// first, as a server drops them).
    fn with<T>(
        &self,
        key: &SessionKey,
        f: impl FnOnce(&mut HashMap<SessionKey, Entry>, u64) -> T,
    ) -> T {
        let now = self.clock.now_ms();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.get(key).is_some_and(|e| e.expired(now)) {
            entries.remove(key);
        }
        f(&mut entries, now)
    }

    fn live_count(&self) -> u64 {
        let now = self.clock.now_ms();
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, e| !e.expired(now));
        entries.values().filter(|e| e.live.is_some()).count() as u64
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(async move { value })
}

impl SessionStore for SharedMemoryStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        let record = self.with(key, |entries, _| {
            entries
                .get(key)
                .and_then(|e| e.live.as_ref())
                .map(|v| v.record.clone())
        });
        ready(Ok(record))
    }

    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        let lifetime = Lifetime::default();
        let created = self.with(key, |entries, now| {
            create(entries, now, key, record, lifetime)
        });
        ready(created.map(|_| ()))
    }

    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        self.with(key, |entries, _| {
            let version = entries
                .get(key)
                .and_then(|e| e.live.as_ref())
                .map_or(1, |v| v.version + 1);
            entries.insert(
                *key,
                Entry {
                    live: Some(Versioned {
                        version,
                        record: record.clone(),
                    }),
                    ended_at_ms: None,
                    idle_ms: None,
                    absolute_end_ms: None,
                    expires_at_ms: record.expires_at_ms,
                },
            );
        });
        ready(Ok(()))
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        let existed = self.with(key, |entries, _| match entries.get_mut(key) {
            Some(entry) => entry.live.take().is_some(),
            None => false,
        });
        ready(Ok(existed))
    }

    fn end<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        let existed = self.with(key, |entries, now| match entries.get_mut(key) {
            Some(entry) if entry.live.is_some() => {
                entry.live = None;
                entry.ended_at_ms = Some(now);
                true
            }
            _ => false,
        });
        ready(Ok(existed))
    }

    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
        let now = self.clock.now_ms();
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let keys = entries
            .iter()
            .filter(|(_, e)| !e.expired(now))
            .filter(|(_, e)| {
                e.live
                    .as_ref()
                    .is_some_and(|v| v.record.user.as_deref() == Some(user))
            })
            .map(|(k, _)| *k)
            .collect();
        ready(Ok(keys))
    }

    fn remove_expired<'a>(
        &'a self,
        _now_ms: u64,
        _limit: usize,
        _skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        // Entries expire by the store's own clock.
        ready(Ok(0))
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        ready(Ok(self.live_count()))
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        ready(Ok(()))
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn create_shared<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a SessionRecord,
        lifetime: Lifetime,
    ) -> StoreFuture<'a, u64> {
        ready(self.with(key, |entries, now| {
            create(entries, now, key, record, lifetime)
        }))
    }

    fn touch<'a>(&'a self, key: &'a SessionKey, known: Option<u64>) -> StoreFuture<'a, Touched> {
        let touched = self.with(key, |entries, now| {
            let Some(entry) = entries.get_mut(key) else {
                return Touched::Gone;
            };
            let Some(current) = &entry.live else {
                return match entry.ended_at_ms {
                    Some(at) => Touched::Ended {
                        ago_ms: now.saturating_sub(at),
                    },
                    None => Touched::Gone,
                };
            };
            let answer = if Some(current.version) == known {
                Touched::Unchanged
            } else {
                Touched::Changed(current.clone())
            };
            entry.extend(now);
            answer
        });
        ready(Ok(touched))
    }

    fn commit<'a>(
        &'a self,
        key: &'a SessionKey,
        expected: u64,
        record: &'a SessionRecord,
        lifetime: Lifetime,
        _new_user: Option<&'a str>,
    ) -> StoreFuture<'a, Committed> {
        let committed = self.with(key, |entries, now| {
            let Some(entry) = entries.get_mut(key) else {
                return Committed::Gone;
            };
            let Some(current) = &mut entry.live else {
                return Committed::Gone;
            };
            if current.version != expected {
                return Committed::Conflict(current.clone());
            }
            current.version += 1;
            current.record = record.clone();
            let version = current.version;
            entry.idle_ms = lifetime.idle_ms;
            entry.extend(now);
            Committed::Done(version)
        });
        ready(Ok(committed))
    }
}

fn create(
    entries: &mut HashMap<SessionKey, Entry>,
    now: u64,
    key: &SessionKey,
    record: &SessionRecord,
    lifetime: Lifetime,
) -> Result<u64, StoreError> {
    if entries.contains_key(key) {
        return Err(StoreError::AlreadyExists);
    }
    let mut entry = Entry {
        live: Some(Versioned {
            version: 1,
            record: record.clone(),
        }),
        ended_at_ms: None,
        idle_ms: lifetime.idle_ms,
        absolute_end_ms: lifetime.absolute_ms.map(|a| now.saturating_add(a)),
        expires_at_ms: None,
    };
    entry.extend(now);
    entries.insert(*key, entry);
    Ok(1)
}
