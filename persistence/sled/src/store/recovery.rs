//! After an I/O error (a full disk): keeping acknowledged but unflushed
//! writes, and reopening the failed database once there is room again.

use std::collections::hash_map::{Entry, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use livesession::store::StoreError;
use sled::IVec;

use super::{Shared, State};
use crate::db::Db;

/// Wait after a failed reopen attempt before the next; doubles per attempt.
const REOPEN_FIRST_WAIT: Duration = Duration::from_millis(100);
/// Longest wait between two reopen attempts.
const REOPEN_MAX_WAIT: Duration = Duration::from_secs(5);
/// Free space a reopen wants: a file this large must fit next to the database.
const PROBE_BYTES: usize = 1024 * 1024;
/// Name of that file, in the database directory, removed right after.
pub(super) const PROBE_FILE: &str = "livesession-space-probe";
/// Unflushed record bytes kept for a reopen (see [`Unflushed`]); a write
/// that finds more flushes the database itself.
const UNFLUSHED_LIMIT: usize = 32 * 1024 * 1024;

/// Records written since the last successful flush, each key's newest value
/// (`None`: deleted). sled keeps them only in memory until it flushes; when
/// a failed database is reopened, they are written again, so a write that
/// returned `Ok` is not lost. Deletions by the expiry sweep are not kept: a
/// lost one only brings back an expired record, which is swept again.
#[derive(Default)]
pub(super) struct Unflushed {
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

    /// Records kept.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.records.len()
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
pub(super) struct Recovery {
    /// No reopen attempt before this (after a failed one).
    not_before: Option<Instant>,
    wait: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each guarded value is updated in one step; a panic cannot tear it.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The text of a [`StoreError::Backend`], without the variant's prefix.
pub(super) fn message(e: StoreError) -> String {
    match e {
        StoreError::Backend(why) => why.to_string(),
        other => other.to_string(),
    }
}

/// The failure reported while a reopen holds the database.
pub(super) const REOPENING: &str = "the database is being reopened after an I/O error";

pub(super) fn unavailable(error: &str) -> StoreError {
    StoreError::backend(format!(
        "the sled database failed ({error}) and could not be reopened yet"
    ))
}

impl Shared {
    /// Runs `op` on the database. If it failed, first tries to reopen it (at
    /// most so often); a still-failed database runs `op` anyway, for the
    /// reads sled can still serve.
    pub(super) fn with_db<T>(
        &self,
        op: impl FnOnce(&Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
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
    pub(super) fn write_record<T>(
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
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        #[cfg(test)]
        let db_flush = |db: &Db| self.test.flush(db);
        #[cfg(not(test))]
        let db_flush = Db::flush;
        self.with_db(|db| {
            let Some(unflushed) = &self.unflushed else {
                return db_flush(db);
            };
            // What was written before this point is what the flush covers.
            let covered = std::mem::take(&mut *lock(unflushed));
            db_flush(db).inspect_err(|_| lock(unflushed).put_back(covered))
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
