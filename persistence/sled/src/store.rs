use std::collections::hash_map::{Entry, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{
    Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError, Weak,
};
use std::time::{Duration, Instant};

use livesession::store::{SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture};
use sled::IVec;

use crate::codec::{self, IndexFields};
use crate::config::{Durability, SledConfig};
use crate::db::{expiry_entry, parse_expiry_entry, Db, SWEEP_CHUNK};
use crate::group_commit::GroupCommit;
use crate::pool::Pool;

/// Wait after a failed reopen attempt before the next; doubles per attempt.
const REOPEN_FIRST_WAIT: Duration = Duration::from_millis(100);
/// Longest wait between two reopen attempts.
const REOPEN_MAX_WAIT: Duration = Duration::from_secs(5);
/// Free space a reopen wants: a file this large must fit next to the database.
const PROBE_BYTES: usize = 1024 * 1024;
/// Name of that file, in the database directory, removed right after.
const PROBE_FILE: &str = "livesession-space-probe";
/// Unflushed record bytes kept for a reopen (see [`Unflushed`]); a write
/// that finds more flushes the database itself.
const UNFLUSHED_LIMIT: usize = 32 * 1024 * 1024;

/// A [`SessionStore`] backed by a sled database.
///
/// Cheap to clone: clones share the database. Dropping the last clone
/// persists the record count and flushes the database (a blocking call of a
/// few milliseconds), so the next [`open`](Self::open) starts without
/// scanning; see [`count_is_exact`](Self::count_is_exact) for what happens
/// after a crash.
///
/// The [`SessionStore`] methods do nothing until their future is polled.
/// Then they encode or decode the record on the calling task and hand the
/// sled operations to the store's own threads (see
/// [the crate docs](crate#blocking-and-deadlines)): a disk that stalls never
/// stalls an executor thread, and a deadline around the call (the runtime's
/// `store_timeout`) really bounds it. A call abandoned before its sled
/// operations started does nothing; one abandoned later finishes them in the
/// background. [`flush`](SessionStore::flush) is a group commit on Tokio's
/// blocking pool; [`remove_expired`](SessionStore::remove_expired) works in
/// chunks of 128 index entries; [`count`](SessionStore::count) only reads a
/// counter.
///
/// After an I/O error (a full disk) sled refuses all further writes; the
/// store then reopens the database once there is room again, without losing
/// an acknowledged write: see [the crate docs](crate#disk-full-and-other-io-errors)
/// and [`failure`](Self::failure).
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use livesession::store::{SessionKey, SessionRecord, SessionStore};
/// use livesession_sled::{SledConfig, SledStore};
///
/// let dir = tempfile::tempdir().unwrap();
/// let key = SessionKey::of_id("id");
/// {
///     let store = SledStore::open(dir.path(), SledConfig::default()).unwrap();
///     let mut record = SessionRecord::default();
///     record.user = Some("alice".into());
///     store.create(&key, &record).await.unwrap();
///     store.flush().await.unwrap();
/// }
/// let store = SledStore::open(dir.path(), SledConfig::default()).unwrap();
/// assert_eq!(store.keys_for_user("alice").await.unwrap(), vec![key]);
/// assert_eq!(store.count().await.unwrap(), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct SledStore {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    config: SledConfig,
    /// Every sled call holds this for reading; closing a failed database
    /// takes it for writing, so no handle of the old database survives.
    state: RwLock<State>,
    /// Kept only with [`Durability::Sync`] (with `Periodic`, a reopen loses
    /// at most the last interval, as a crash does).
    unflushed: Option<Mutex<Unflushed>>,
    /// Held by the thread trying to reopen.
    recovery: Mutex<Recovery>,
    group: Arc<GroupCommit>,
    /// Runs every sled call but the group commit's flush.
    pool: Pool,
}

enum State {
    /// The database. If it failed (see [`Db::failure`]) sled refuses writes,
    /// serves most reads, and the next call that finds room reopens it.
    Open(Db),
    /// A failed database was closed and reopening it has not worked yet:
    /// every call fails until it does.
    Closed {
        error: String,
        /// Acknowledged but unflushed writes of the closed database.
        pending: Unflushed,
    },
}

/// Records written since the last successful flush, each key's newest value
/// (`None`: deleted). sled keeps them only in memory until it flushes; when
/// a failed database is reopened, they are written again, so a write that
/// returned `Ok` is not lost. Deletions by the expiry sweep are not kept: a
/// lost one only brings back an expired record, which is swept again.
#[derive(Default)]
struct Unflushed {
    records: HashMap<[u8; 32], Option<IVec>>,
    bytes: usize,
}

fn entry_size(value: &Option<IVec>) -> usize {
    32 + value.as_ref().map_or(0, |v| v.len())
}

impl Unflushed {
    /// Remembers the newest value of `k`; returns the bytes now kept.
    fn note(&mut self, k: [u8; 32], value: Option<IVec>) -> usize {
        self.bytes += entry_size(&value);
        if let Some(old) = self.records.insert(k, value) {
            self.bytes -= entry_size(&old);
        }
        self.bytes
    }

    /// Takes back the entries of a flush that failed, except where a newer
    /// value was written meanwhile.
    fn put_back(&mut self, older: Unflushed) {
        for (k, value) in older.records {
            if let Entry::Vacant(slot) = self.records.entry(k) {
                self.bytes += entry_size(&value);
                slot.insert(value);
            }
        }
    }
}

#[derive(Default)]
struct Recovery {
    /// No reopen attempt before this (after a failed one).
    not_before: Option<Instant>,
    wait: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each guarded value is updated in one step; a panic cannot tear it.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The text of a [`StoreError::Backend`], without the variant's prefix.
fn message(e: StoreError) -> String {
    match e {
        StoreError::Backend(why) => why.to_string(),
        other => other.to_string(),
    }
}

/// The failure reported while a reopen holds the database.
const REOPENING: &str = "the database is being reopened after an I/O error";

fn unavailable(error: &str) -> StoreError {
    StoreError::backend(format!(
        "the sled database failed ({error}) and could not be reopened yet"
    ))
}

impl SledStore {
    /// Opens (or creates) the store in the directory `path`.
    ///
    /// Opening does not scan the sessions: after a clean shutdown the
    /// persisted count is used as is; otherwise the count is recounted in a
    /// background thread (see [`count_is_exact`](Self::count_is_exact)).
    /// Fails with [`StoreError::Backend`] if sled cannot open the directory
    /// (for instance because another process holds it, after waiting up to
    /// [`SledConfig::lock_wait`]) or if it holds an unknown layout version.
    pub fn open(path: impl AsRef<Path>, config: SledConfig) -> Result<SledStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let db = Db::open(&path, &config)?;
        // Left behind if the process died during a reopen attempt.
        let _ = std::fs::remove_file(path.join(PROBE_FILE));
        let keep_unflushed = config.get_durability() == Durability::Sync;
        let shared = Arc::new_cyclic(|me: &Weak<Shared>| {
            let me = me.clone();
            Shared {
                path,
                config,
                state: RwLock::new(State::Open(db)),
                unflushed: keep_unflushed.then(Mutex::default),
                recovery: Mutex::default(),
                group: GroupCommit::new(Box::new(move || match me.upgrade() {
                    Some(shared) => shared.flush().map_err(message),
                    None => Err("the store is closed".to_owned()),
                })),
                pool: Pool::new(sled_threads()),
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
    pub fn count_is_exact(&self) -> bool {
        match self.shared.try_read().as_deref() {
            Some(State::Open(db)) => db.count_is_exact(),
            _ => false,
        }
    }

    /// The configured durability.
    pub fn durability(&self) -> Durability {
        self.shared.config.get_durability()
    }

    /// Bytes the database occupies on disk.
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
    async fn blocking<T, F>(&self, op: F) -> Result<T, StoreError>
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

impl Shared {
    fn read(&self) -> RwLockReadGuard<'_, State> {
        // A panicking sled call cannot leave the state half-changed: it is
        // only replaced whole.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The state, unless a reopen is closing or replacing the database
    /// (which may wait for a stalled sled call): for the methods that run
    /// on the caller's thread and must not block it.
    fn try_read(&self) -> Option<RwLockReadGuard<'_, State>> {
        match self.state.try_read() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `op` on the database. If it failed, first tries to reopen it (at
    /// most so often); a still-failed database runs `op` anyway, for the
    /// reads sled can still serve.
    fn with_db<T>(&self, op: impl FnOnce(&Db) -> Result<T, StoreError>) -> Result<T, StoreError> {
        {
            let state = self.read();
            if let State::Open(db) = &*state {
                if db.failure().is_none() {
                    return op(db);
                }
            }
        }
        self.recover();
        match &*self.read() {
            State::Open(db) => op(db),
            State::Closed { error, .. } => Err(unavailable(error)),
        }
    }

    /// Runs `op`, a write that leaves `value` under `k` when it succeeds,
    /// and keeps `value` until a flush makes it durable.
    fn write_record<T>(
        &self,
        k: [u8; 32],
        value: Option<IVec>,
        op: impl FnOnce(&Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(unflushed) = &self.unflushed else {
            return self.with_db(op);
        };
        let mut kept = 0;
        let out = self.with_db(|db| {
            let out = op(db)?;
            // Still under the state lock: a reopen cannot miss it.
            kept = lock(unflushed).note(k, value);
            Ok(out)
        })?;
        if kept > UNFLUSHED_LIMIT {
            // Nobody flushes (only sweeps or passivations write, say): bound
            // the memory by flushing here, on this blocking thread.
            if let Err(e) = self.flush() {
                tracing::warn!(error = %e, "livesession-sled: flush of many unflushed writes failed");
            }
        }
        Ok(out)
    }

    /// Makes every write that completed before the call durable.
    fn flush(&self) -> Result<(), StoreError> {
        self.with_db(|db| {
            let Some(unflushed) = &self.unflushed else {
                return db.flush();
            };
            // What was written before this point is what the flush covers.
            let covered = std::mem::take(&mut *lock(unflushed));
            db.flush()
                .inspect_err(|_| lock(unflushed).put_back(covered))
        })
    }

    /// Reopens a failed database if an attempt is due.
    fn recover(&self) {
        let mut recovery = match self.recovery.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(e)) => e.into_inner(),
            // Another thread is reopening: this call uses what it finds.
            Err(TryLockError::WouldBlock) => return,
        };
        if recovery.not_before.is_some_and(|t| Instant::now() < t) {
            return;
        }
        match self.reopen() {
            Ok(()) => *recovery = Recovery::default(),
            Err(e) => {
                recovery.wait = (recovery.wait * 2).clamp(REOPEN_FIRST_WAIT, REOPEN_MAX_WAIT);
                recovery.not_before = Some(Instant::now() + recovery.wait);
                tracing::warn!(
                    error = %e,
                    retry_in_ms = recovery.wait.as_millis() as u64,
                    "livesession-sled: cannot reopen the failed database yet"
                );
            }
        }
    }

    /// Closes the failed database and opens it again, writing back what it
    /// had acknowledged but not flushed before anyone else can use it.
    fn reopen(&self) -> Result<(), String> {
        if let State::Open(db) = &*self.read() {
            if db.failure().is_none() {
                return Ok(());
            }
        }
        // sled needs room to recover and write; without it, keep the failed
        // database, which still serves most reads.
        probe_space(&self.path).map_err(|e| format!("no room to reopen: {e}"))?;

        // 1. Close the failed database. Holding the lock for writing means no
        // call is using it; from here on calls fail at once.
        let old = {
            let mut state = self.write();
            match &*state {
                State::Open(db) => {
                    let error = db.failure().unwrap_or("unknown error").to_owned();
                    let pending = self
                        .unflushed
                        .as_ref()
                        .map(|u| std::mem::take(&mut *lock(u)))
                        .unwrap_or_default();
                    match std::mem::replace(&mut *state, State::Closed { error, pending }) {
                        State::Open(db) => Some(db),
                        State::Closed { .. } => None,
                    }
                }
                State::Closed { .. } => None,
            }
        };
        // Outside the lock: this joins the recount and sled's own threads.
        drop(old);

        // 2. Open it again (sled recovers what was flushed), write back what
        // was acknowledged but not flushed, make that durable, and only then
        // let calls in.
        let pending: Vec<([u8; 32], Option<IVec>)> = match &*self.read() {
            State::Closed { pending, .. } => pending
                .records
                .iter()
                .map(|(k, value)| (*k, value.clone()))
                .collect(),
            State::Open(_) => return Ok(()),
        };
        let reopened = Db::open(&self.path, &self.config).and_then(|db| {
            for (k, value) in &pending {
                db.restore(k, value.as_ref())?;
            }
            db.flush()?;
            Ok(db)
        });
        let db = reopened.map_err(message)?;
        *self.write() = State::Open(db);
        tracing::info!(
            rewritten = pending.len(),
            "livesession-sled: reopened the database after an I/O error"
        );
        Ok(())
    }
}

/// Threads for sled calls: they mostly compute for microseconds, but a read
/// that misses the cache waits for the disk, so a few more than the cores.
fn sled_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(4, 16)
}

/// Whether the directory `dir` has room for a reopen: writes and syncs
/// [`PROBE_BYTES`] there, then removes them.
fn probe_space(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(PROBE_FILE);
    let result = std::fs::File::create(&path).and_then(|mut file| {
        file.write_all(&vec![0u8; PROBE_BYTES])?;
        file.sync_all()
    });
    let _ = std::fs::remove_file(&path);
    result
}

impl SessionStore for SledStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        let k = *key.as_bytes();
        Box::pin(self.blocking(move |s| s.with_db(|db| db.load(&k))))
    }

    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // Encoding is cheap and needs the borrowed record: done here.
            let k = *key.as_bytes();
            let bytes = IVec::from(codec::encode(record)?);
            let index = IndexFields::of(record);
            self.blocking(move |s| {
                s.write_record(k, Some(bytes.clone()), |db| db.create(&k, bytes, &index))
            })
            .await
        })
    }

    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let k = *key.as_bytes();
            let bytes = IVec::from(codec::encode(record)?);
            let index = IndexFields::of(record);
            self.blocking(move |s| {
                s.write_record(k, Some(bytes.clone()), |db| db.save(&k, bytes, &index))
            })
            .await
        })
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        let k = *key.as_bytes();
        Box::pin(self.blocking(move |s| s.write_record(k, None, |db| db.delete(&k))))
    }

    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
        let user = user.to_owned();
        Box::pin(self.blocking(move |s| s.with_db(|db| db.keys_for_user(&user))))
    }

    fn remove_expired<'a>(
        &'a self,
        now_ms: u64,
        limit: usize,
        skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        Box::pin(async move {
            let upper = expiry_entry(now_ms, &[0xff; 32]);
            let mut removed = 0usize;
            let mut after: Option<IVec> = None;
            while removed < limit {
                // Chunk by chunk, each restarting the range after the last
                // entry seen: one blocking call reads the due entries, the
                // caller's `skip` (which may not leave this task) filters
                // them, a second blocking call removes what is due.
                let chunk = self
                    .blocking(move |s| s.with_db(|db| db.due_entries(after.as_ref(), &upper)))
                    .await?;
                let exhausted = chunk.len() < SWEEP_CHUNK;
                let last = chunk.last().cloned();
                let due: Vec<IVec> = chunk
                    .into_iter()
                    .filter(|entry| {
                        // Malformed entries stay in, to be dropped.
                        parse_expiry_entry(entry)
                            .is_none_or(|(_, k)| !skip(&SessionKey::from_bytes(k)))
                    })
                    .collect();
                let budget = limit - removed;
                removed += self
                    .blocking(move |s| s.with_db(|db| db.sweep(&due, budget)))
                    .await?;
                match last {
                    Some(last) if !exhausted => after = Some(last),
                    _ => break,
                }
            }
            Ok(removed)
        })
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            match self.shared.try_read().as_deref() {
                Some(State::Open(db)) => Ok(db.count()),
                Some(State::Closed { error, .. }) => Err(unavailable(error)),
                None => Err(StoreError::backend(REOPENING)),
            }
        })
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        match self.shared.config.get_durability() {
            // Nothing to wait for, but a failed database is no success.
            Durability::Periodic(_) => Box::pin(async move {
                match self.failure() {
                    None => Ok(()),
                    Some(error) => Err(unavailable(&error)),
                }
            }),
            _ => Box::pin(Arc::clone(&self.shared.group).flush()),
        }
    }
}
