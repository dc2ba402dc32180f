//! A store that opens in the background, so a server can start serving
//! while a large store recovers (sled replays its log after a crash).

use super::{SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture};
use std::sync::Arc;
use tokio::sync::watch;

type Opened = Option<Result<Arc<dyn SessionStore>, String>>;

/// A [`SessionStore`] whose backend is opened on a background thread.
/// Calls made before it is open wait for it (within the runtime's store
/// timeout); if opening failed, every call fails with that error.
///
/// For a store that is not shared (livesession-sled): the runtime asks
/// [`SessionStore::is_shared`] when it starts, before the backend is open,
/// and this wrapper answers `false` and does not forward the shared-store
/// calls (`create_shared`, `touch`, `commit`, `end`). Open a shared store
/// (livesession-redis) directly.
///
/// ```
/// use livesession::store::{DeferredStore, MemoryStore, SessionKey, SessionStore};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = DeferredStore::open(|| Ok(MemoryStore::new()));
/// store.ready().await.unwrap();
/// assert_eq!(store.count().await.unwrap(), 0);
/// # });
/// ```
#[derive(Clone)]
pub struct DeferredStore {
    opened: watch::Receiver<Opened>,
}

impl DeferredStore {
    /// Starts `open` on a new thread and returns at once.
    ///
    /// # Examples
    ///
    /// A server that serves at once while its store opens:
    ///
    /// ```
    /// use livesession::store::{DeferredStore, MemoryStore};
    /// use livesession::{SessionConfig, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// // With livesession-sled: `DeferredStore::open(move || SledStore::open(dir, SledConfig::new()))`.
    /// let store = DeferredStore::open(|| Ok(MemoryStore::new()));
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(Arc::new(store.clone()))
    ///         .build()
    ///         .unwrap(),
    /// );
    /// store.ready().await.unwrap(); // optional: a readiness probe
    /// # let _ = manager;
    /// # });
    /// ```
    pub fn open<S, F>(open: F) -> Self
    where
        S: SessionStore,
        F: FnOnce() -> Result<S, StoreError> + Send + 'static,
    {
        let (tx, rx) = watch::channel(None);
        std::thread::Builder::new()
            .name("livesession-store-open".into())
            .spawn(move || {
                let opened = open()
                    .map(|s| Arc::new(s) as Arc<dyn SessionStore>)
                    .map_err(|e| match e {
                        StoreError::Backend(why) => why.to_string(),
                        other => other.to_string(),
                    });
                let _ = tx.send(Some(opened));
            })
            .map(drop)
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "could not start the store-opening thread");
            });
        DeferredStore { opened: rx }
    }

    /// Waits until the store is open; fails if opening failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::{DeferredStore, MemoryStore, StoreError};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let broken = DeferredStore::open(|| -> Result<MemoryStore, _> { Err(StoreError::backend("no such directory")) });
    /// let err = broken.ready().await.unwrap_err();
    /// assert!(err.to_string().contains("no such directory"));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when opening failed (with its message), or the
    /// opening thread died.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.store().await.map(drop)
    }

    async fn store(&self) -> Result<Arc<dyn SessionStore>, StoreError> {
        let mut rx = self.opened.clone();
        let opened = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| StoreError::backend("the store-opening thread died"))?;
        match opened.as_ref() {
            Some(Ok(store)) => Ok(store.clone()),
            Some(Err(e)) => Err(StoreError::backend(format!(
                "the store failed to open: {e}"
            ))),
            None => Err(StoreError::backend("the store is not open")),
        }
    }
}

impl SessionStore for DeferredStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        Box::pin(async move { self.store().await?.load(key).await })
    }

    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.store().await?.create(key, record).await })
    }

    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move { self.store().await?.save(key, record).await })
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        Box::pin(async move { self.store().await?.delete(key).await })
    }

    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
        Box::pin(async move { self.store().await?.keys_for_user(user).await })
    }

    fn remove_expired<'a>(
        &'a self,
        now_ms: u64,
        limit: usize,
        skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            self.store()
                .await?
                .remove_expired(now_ms, limit, skip)
                .await
        })
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move { self.store().await?.count().await })
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move { self.store().await?.flush().await })
    }

    /// The opened store's answer; `false` until it is open (a write made
    /// then waits for it, and a flush after it costs little).
    fn completed_writes_are_durable(&self) -> bool {
        match &*self.opened.borrow() {
            Some(Ok(store)) => store.completed_writes_are_durable(),
            _ => false,
        }
    }
}
