//! Opening a [`SledStore`], its health (count, size, failure), and running
//! sled calls on the store's own threads.

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, Weak};

#[cfg(doc)]
use livesession::store::SessionStore;
use livesession::store::StoreError;

use super::recovery::{message, unavailable, PROBE_FILE, REOPENING};
use super::{Shared, SledStore, State};
use crate::config::{Durability, SledConfig};
use crate::db::Db;
use crate::group_commit::GroupCommit;
use crate::pool::Pool;

impl SledStore {
    /// Opens (or creates) the store in the directory `path`.
    ///
    /// Opening does not scan the sessions: after a clean shutdown the
    /// persisted count is used as is; otherwise the count is recounted in a
    /// background thread (see [`count_is_exact`](Self::count_is_exact)).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{SessionConfig, SessionManager};
    /// use livesession_sled::{SledConfig, SledStore};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap(); // e.g. /var/lib/myapp/sessions
    /// let store = SledStore::open(dir.path(), SledConfig::new()).unwrap();
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(Arc::new(store))
    ///         .build()
    ///         .unwrap(),
    /// );
    /// // ... serve; then write every live session out before exiting:
    /// manager.shutdown().await.unwrap();
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when sled cannot open the directory, when
    /// another process (or another open store in this one) still holds it after
    /// [`SledConfig::lock_wait`], or when it holds an unknown layout version:
    ///
    /// ```
    /// use livesession_sled::{SledConfig, SledStore};
    /// use std::time::Duration;
    /// let dir = tempfile::tempdir().unwrap();
    /// let config = SledConfig::new().lock_wait(Duration::from_millis(50));
    /// let first = SledStore::open(dir.path(), config.clone()).unwrap();
    /// assert!(SledStore::open(dir.path(), config).is_err()); // locked by `first`
    /// # drop(first);
    /// ```
    pub fn open(path: impl AsRef<Path>, config: SledConfig) -> Result<SledStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = Db::open(&path, &config)?;
        // Left behind if the process died during a reopen attempt.
        let _ = std::fs::remove_file(path.join(PROBE_FILE));
        let durability = config.get_durability();
        let keep_unflushed = durability == Durability::Sync;
        let shared = Arc::new_cyclic(|me: &Weak<Shared>| {
            let me = me.clone();
            Shared {
                path,
                config,
                state: RwLock::new(State::Open(db)),
                unflushed: keep_unflushed.then(Mutex::default),
                recovery: Mutex::default(),
                group: match durability {
                    Durability::Sync => GroupCommit::new(Box::new(move || match me.upgrade() {
                        Some(shared) => shared.flush().map_err(message),
                        None => Err("the store is closed".to_owned()),
                    })),
                    Durability::Periodic(_) => GroupCommit::without_flush(),
                },
                pool: Pool::new(sled_threads()),
                #[cfg(test)]
                test: Default::default(),
            }
        });
        Ok(SledStore { shared })
    }

    /// Whether [`count`](SessionStore::count) is exact.
    ///
    /// It is, except for a while after opening a store that was not shut down
    /// cleanly: then `count` starts from the last persisted value and a
    /// background thread recounts the records (measured: ~2.5 s for 1M records,
    /// without blocking other operations), after which the count is exact
    /// again, including every change made in the meantime. Reopening after an
    /// I/O error counts as such an open.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::{SledConfig, SledStore};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SledStore::open(dir.path(), SledConfig::new()).unwrap();
    /// assert!(store.count_is_exact()); // a new store has nothing to recount
    /// ```
    pub fn count_is_exact(&self) -> bool {
        match self.shared.try_read().as_deref() {
            Some(State::Open(db)) => db.count_is_exact(),
            _ => false,
        }
    }

    /// The configured durability.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::{Durability, SledConfig, SledStore};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SledStore::open(dir.path(), SledConfig::new()).unwrap();
    /// assert_eq!(store.durability(), Durability::Sync);
    /// ```
    pub fn durability(&self) -> Durability {
        self.shared.config.get_durability()
    }

    /// Bytes the database occupies on disk.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::{SledConfig, SledStore};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SledStore::open(dir.path(), SledConfig::new()).unwrap();
    /// let bytes = store.size_on_disk().unwrap(); // for a disk-usage gauge
    /// # let _ = bytes;
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when sled cannot tell, or while the database is
    /// closed or being reopened after an I/O error (see [`failure`](Self::failure)).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        match self.shared.try_read().as_deref() {
            Some(State::Open(db)) => db.size_on_disk(),
            Some(State::Closed { error, .. }) => Err(unavailable(error)),
            None => Err(StoreError::backend(REOPENING)),
        }
    }

    /// The I/O error the store is recovering from, or `None` when it is
    /// healthy: for a health check.
    ///
    /// From the first I/O error sled reports (a full disk, say) until the
    /// database is reopened, writes fail and so do some reads; a store call
    /// made once there is room again reopens it (see
    /// [the crate docs](crate#disk-full-and-other-io-errors)).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::{SledConfig, SledStore};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SledStore::open(dir.path(), SledConfig::new()).unwrap();
    /// // A health check:
    /// let healthy = store.failure().is_none();
    /// assert!(healthy);
    /// ```
    pub fn failure(&self) -> Option<String> {
        match self.shared.try_read().as_deref() {
            Some(State::Open(db)) => db.failure().map(str::to_owned),
            Some(State::Closed { error, .. }) => Some(error.clone()),
            None => Some(REOPENING.to_owned()),
        }
    }

    /// Runs `op` on the store's sled threads, where sled may block (disk
    /// reads, log writes): never on an executor thread, and only once the
    /// returned future is polled, so dropping the future unpolled (or before
    /// `op` starts) does nothing, and a deadline around it really bounds it.
    pub(super) async fn blocking<T, F>(&self, op: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Shared) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = Arc::clone(&self.shared);
        self.shared.pool.submit(move || {
            if tx.is_closed() {
                // The caller gave up (a deadline passed) before we started.
                return;
            }
            let result = op(&shared);
            // Before answering: whoever awaits may then drop the last handle
            // and expect the database closed.
            drop(shared);
            let _ = tx.send(result);
        });
        rx.await
            .map_err(|_| StoreError::backend("a sled call panicked"))?
    }
}

/// Threads for sled calls: they mostly compute for microseconds, but a read
/// that misses the cache waits for the disk, so a few more than the cores.
fn sled_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(4, 16)
}
