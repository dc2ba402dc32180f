use std::time::Duration;

/// When a write handed to [`SledStore`](crate::SledStore) becomes durable.
///
/// # Examples
///
/// ```
/// use livesession_sled::{Durability, SledConfig};
/// use std::time::Duration;
/// // Every acknowledged session write survives a process crash (the default):
/// let safe = SledConfig::new().durability(Durability::Sync);
/// // Faster writes; a crash may lose the last 100 ms of them:
/// let fast = SledConfig::new().durability(Durability::Periodic(Duration::from_millis(100)));
/// assert_ne!(safe, fast);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// A write returns once it is on disk, and `flush()` waits until every
    /// write that completed before it is. Concurrent writers share one sled
    /// flush (group commit). The default.
    ///
    /// On Linux, sled 0.34 makes a flush stable with `sync_file_range`: safe
    /// against a process crash (`kill -9`); against power loss or a kernel
    /// crash only once sled's background `fsync` (every 500 ms) has run.
    #[default]
    Sync,
    /// `flush()` returns at once; sled flushes in the background every given
    /// interval (clamped to at least 1 ms). A crash may lose up to one
    /// interval of writes. Concurrent writes are applied in groups, as with
    /// `Sync`, but nobody waits for a flush.
    Periodic(Duration),
}

/// Options for [`SledStore::open`](crate::SledStore::open), builder style.
///
/// | option                  | default            |
/// |-------------------------|--------------------|
/// | [`durability`](Self::durability) | [`Durability::Sync`] |
/// | [`cache_capacity_bytes`](Self::cache_capacity_bytes) | 64 MiB |
/// | [`lock_wait`](Self::lock_wait) | 1 s |
///
/// ```
/// use livesession_sled::{Durability, SledConfig};
/// use std::time::Duration;
///
/// let config = SledConfig::new()
///     .durability(Durability::Periodic(Duration::from_millis(100)))
///     .cache_capacity_bytes(16 * 1024 * 1024);
/// assert_eq!(config.get_cache_capacity_bytes(), 16 * 1024 * 1024);
/// assert_eq!(SledConfig::default().get_durability(), Durability::Sync);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SledConfig {
    durability: Durability,
    cache_capacity_bytes: u64,
    lock_wait: Duration,
}

/// Default sled page cache: 64 MiB.
const DEFAULT_CACHE_CAPACITY: u64 = 64 * 1024 * 1024;
/// Default wait for the database's file lock.
const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(1);

impl Default for SledConfig {
    fn default() -> Self {
        SledConfig {
            durability: Durability::Sync,
            cache_capacity_bytes: DEFAULT_CACHE_CAPACITY,
            lock_wait: DEFAULT_LOCK_WAIT,
        }
    }
}

impl SledConfig {
    /// The defaults: [`Durability::Sync`], a 64 MiB cache, 1 s lock wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::{Durability, SledConfig};
    /// use std::time::Duration;
    /// let config = SledConfig::new();
    /// assert_eq!(config, SledConfig::default());
    /// assert_eq!(config.get_durability(), Durability::Sync);
    /// assert_eq!(config.get_lock_wait(), Duration::from_secs(1));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets when writes become durable (default [`Durability::Sync`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::{Durability, SledConfig};
    /// use std::time::Duration;
    /// let every_second = Durability::Periodic(Duration::from_secs(1));
    /// assert_eq!(SledConfig::new().durability(every_second).get_durability(), every_second);
    /// ```
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets sled's page cache size in bytes (default 64 MiB).
    ///
    /// sled counts on-disk bytes here, not memory: expect the process RSS to
    /// grow to several times (up to ~10x) this value.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::SledConfig;
    /// // A small container: 16 MiB of cache, expect well over that in RSS.
    /// let config = SledConfig::new().cache_capacity_bytes(16 << 20);
    /// assert_eq!(config.get_cache_capacity_bytes(), 16 << 20);
    /// ```
    pub fn cache_capacity_bytes(mut self, bytes: u64) -> Self {
        self.cache_capacity_bytes = bytes;
        self
    }

    /// Sets how long [`open`](crate::SledStore::open) keeps retrying while
    /// the database's file lock is held (default 1 s).
    ///
    /// sled finishes writing a just-dropped database on background threads,
    /// which hold the lock for a few milliseconds after the last handle is
    /// gone; an immediate reopen in the same process would otherwise fail.
    /// A database held by another live process still fails, after this wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::SledConfig;
    /// use std::time::Duration;
    /// // Fail fast when another process holds the directory:
    /// let config = SledConfig::new().lock_wait(Duration::from_millis(100));
    /// assert_eq!(config.get_lock_wait(), Duration::from_millis(100));
    /// ```
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// The configured lock wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::SledConfig;
    /// assert_eq!(SledConfig::new().get_lock_wait().as_secs(), 1);
    /// ```
    pub fn get_lock_wait(&self) -> Duration {
        self.lock_wait
    }

    /// The configured durability.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::{Durability, SledConfig};
    /// assert_eq!(SledConfig::default().get_durability(), Durability::Sync);
    /// ```
    pub fn get_durability(&self) -> Durability {
        self.durability
    }

    /// The configured cache capacity in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_sled::SledConfig;
    /// assert_eq!(SledConfig::default().get_cache_capacity_bytes(), 64 * 1024 * 1024);
    /// ```
    pub fn get_cache_capacity_bytes(&self) -> u64 {
        self.cache_capacity_bytes
    }

    /// sled's background flush interval for this configuration.
    pub(crate) fn flush_every_ms(&self) -> u64 {
        match self.durability {
            // sled's own default: bounds what a crash loses between flushes
            // and drives the periodic fsync.
            Durability::Sync => 500,
            Durability::Periodic(d) => u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1),
        }
    }
}
