use super::{SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// A [`SessionStore`] kept in process memory: nothing survives a restart.
///
/// Useful for tests and for running the store behaviour suite; production
/// deployments that want durability use `livesession-sled`. Keeps an expiry
/// index so `remove_expired` does not scan every record.
///
/// ```
/// # tokio_test_block_on(async {
/// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
/// let store = MemoryStore::new();
/// let key = SessionKey::of_id("some-id");
/// store.create(&key, &SessionRecord::default()).await.unwrap();
/// assert!(store.load(&key).await.unwrap().is_some());
/// assert!(store.delete(&key).await.unwrap());
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    records: HashMap<SessionKey, SessionRecord>,
    by_expiry: BTreeSet<(u64, SessionKey)>,
}

impl Inner {
    fn put(&mut self, key: SessionKey, record: SessionRecord) {
        if let Some(old) = self.records.get(&key) {
            if let Some(t) = old.expires_at_ms {
                self.by_expiry.remove(&(t, key));
            }
        }
        if let Some(t) = record.expires_at_ms {
            self.by_expiry.insert((t, key));
        }
        self.records.insert(key, record);
    }

    fn remove(&mut self, key: &SessionKey) -> bool {
        match self.records.remove(key) {
            Some(old) => {
                if let Some(t) = old.expires_at_ms {
                    self.by_expiry.remove(&(t, *key));
                }
                true
            }
            None => false,
        }
    }
}

impl MemoryStore {
    /// An empty store.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::MemoryStore;
    /// use livesession::{SessionConfig, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// // Passivation needs a store; this one keeps idle sessions in memory, serialized.
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(Arc::new(MemoryStore::new()))
    ///         .build()
    ///         .unwrap(),
    /// );
    /// assert!(manager.config().is_durable());
    /// # });
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update of a
        // plain map; the map itself is still consistent.
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        let r = self.with(|i| i.records.get(key).cloned());
        Box::pin(async move { Ok(r) })
    }

    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        let r = self.with(|i| {
            if i.records.contains_key(key) {
                Err(StoreError::AlreadyExists)
            } else {
                i.put(*key, record.clone());
                Ok(())
            }
        });
        Box::pin(async move { r })
    }

    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        self.with(|i| i.put(*key, record.clone()));
        Box::pin(async { Ok(()) })
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        let existed = self.with(|i| i.remove(key));
        Box::pin(async move { Ok(existed) })
    }

    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
        let keys = self.with(|i| {
            i.records
                .iter()
                .filter(|(_, r)| r.user.as_deref() == Some(user))
                .map(|(k, _)| *k)
                .collect()
        });
        Box::pin(async move { Ok(keys) })
    }

    fn remove_expired<'a>(
        &'a self,
        now_ms: u64,
        limit: usize,
        skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        let removed = self.with(|i| {
            let due: Vec<SessionKey> = i
                .by_expiry
                .range(..=(now_ms, SessionKey::from_bytes([0xff; 32])))
                .map(|(_, k)| *k)
                .filter(|k| !skip(k))
                .take(limit)
                .collect();
            due.iter().filter(|k| i.remove(k)).count()
        });
        Box::pin(async move { Ok(removed) })
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        let n = self.with(|i| i.records.len() as u64);
        Box::pin(async move { Ok(n) })
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }
}
