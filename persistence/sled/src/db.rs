//! One open sled database: its trees, its record count, and the operations
//! the store runs on them (on the blocking thread pool, see
//! [`SledStore`](crate::SledStore)).

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use livesession::store::{SessionKey, SessionRecord, StoreError};
use sled::{IVec, Tree};

use crate::codec::{self, IndexFields};
use crate::config::SledConfig;
use crate::counter::{Counter, Step};

/// `meta` key: on-disk layout version of the four trees.
const LAYOUT_KEY: &[u8] = b"layout";
const LAYOUT_VERSION: u8 = 1;
/// `meta` key: record count (u64 BE) ++ clean-shutdown flag (1 byte).
const COUNT_KEY: &[u8] = b"count";
/// Records the recount walks per lock acquisition.
const RECOUNT_BATCH: usize = 256;
/// `by_expiry` entries `remove_expired` reads per blocking call.
pub(crate) const SWEEP_CHUNK: usize = 128;

/// An open sled database with the store's four trees.
pub(crate) struct Db {
    db: sled::Db,
    records: Tree,
    by_expiry: Tree,
    by_user: Tree,
    meta: Tree,
    counter: Arc<Counter>,
    recount: Mutex<Option<JoinHandle<()>>>,
    /// Set by the first I/O error sled reports: sled then refuses every
    /// write (and some reads) until the database is reopened.
    failure: OnceLock<String>,
}

fn backend(err: sled::Error) -> StoreError {
    StoreError::backend(err)
}

fn encode_count(count: u64, clean: bool) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[..8].copy_from_slice(&count.to_be_bytes());
    out[8] = u8::from(clean);
    out
}

/// `(count, clean)`, or `None` if absent or malformed.
fn decode_count(bytes: &[u8]) -> Option<(u64, bool)> {
    let count: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    match bytes.get(8..) {
        Some([flag]) => Some((u64::from_be_bytes(count), *flag == 1)),
        _ => None,
    }
}

pub(crate) fn expiry_entry(at_ms: u64, key: &[u8; 32]) -> [u8; 40] {
    let mut out = [0u8; 40];
    out[..8].copy_from_slice(&at_ms.to_be_bytes());
    out[8..].copy_from_slice(key);
    out
}

/// `(expires_at_ms, key)` of a `by_expiry` entry, `None` if malformed.
pub(crate) fn parse_expiry_entry(entry: &[u8]) -> Option<(u64, [u8; 32])> {
    let (at, k) = entry.get(..8).zip(entry.get(8..))?;
    Some((
        u64::from_be_bytes(at.try_into().ok()?),
        <[u8; 32]>::try_from(k).ok()?,
    ))
}

fn user_prefix(user: &str) -> Result<Vec<u8>, StoreError> {
    let len = u32::try_from(user.len())
        .map_err(|_| StoreError::backend("user name longer than 4 GiB"))?;
    let mut out = Vec::with_capacity(4 + user.len() + 32);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(user.as_bytes());
    Ok(out)
}

fn user_entry(user: &str, key: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
    let mut out = user_prefix(user)?;
    out.extend_from_slice(key);
    Ok(out)
}

impl Db {
    /// Opens (or creates) the database in the directory `path`; see
    /// [`SledStore::open`](crate::SledStore::open).
    pub(crate) fn open(path: &Path, config: &SledConfig) -> Result<Db, StoreError> {
        let sled_config = sled::Config::new()
            .path(path)
            .cache_capacity(config.get_cache_capacity_bytes())
            .flush_every_ms(Some(config.flush_every_ms()));
        let db = open_waiting_for_lock(&sled_config, config.get_lock_wait())?;
        let records = db.open_tree("records").map_err(backend)?;
        let by_expiry = db.open_tree("by_expiry").map_err(backend)?;
        let by_user = db.open_tree("by_user").map_err(backend)?;
        let meta = db.open_tree("meta").map_err(backend)?;

        match meta.get(LAYOUT_KEY).map_err(backend)? {
            None => {
                meta.insert(LAYOUT_KEY, &[LAYOUT_VERSION])
                    .map_err(backend)?;
            }
            Some(v) if v.as_ref() == [LAYOUT_VERSION] => {}
            Some(v) => {
                return Err(StoreError::backend(format!(
                    "unsupported livesession-sled layout version {:?}",
                    v.as_ref()
                )))
            }
        }

        let persisted = meta
            .get(COUNT_KEY)
            .map_err(backend)?
            .and_then(|v| decode_count(&v));
        let (counter, recount) = match persisted {
            Some((count, true)) => (Arc::new(Counter::exact(count)), false),
            Some((estimate, false)) => (Arc::new(Counter::needs_recount(estimate)), true),
            // A new database, or one written without a counter.
            None if records.first().map_err(backend)?.is_none() => {
                (Arc::new(Counter::exact(0)), false)
            }
            None => (Arc::new(Counter::needs_recount(0)), true),
        };
        // From now on the persisted count is only an estimate, until a clean
        // shutdown. Make that durable before any record changes.
        meta.insert(COUNT_KEY, &encode_count(counter.get(), false))
            .map_err(backend)?;
        db.flush().map_err(backend)?;

        let handle = if recount {
            tracing::info!(
                estimate = counter.get(),
                "livesession-sled: store was not shut down cleanly; recounting records in the background"
            );
            Some(
                spawn_recount(Arc::clone(&counter), records.clone())
                    .map_err(StoreError::backend)?,
            )
        } else {
            None
        };

        Ok(Db {
            db,
            records,
            by_expiry,
            by_user,
            meta,
            counter,
            recount: Mutex::new(handle),
            failure: OnceLock::new(),
        })
    }

    /// The I/O error that failed this database, if one did.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Converts a sled error, noting an I/O error as this database's failure:
    /// after one, sled 0.34 refuses all further writes of this `Db`.
    fn err(&self, e: sled::Error) -> StoreError {
        if matches!(e, sled::Error::Io(_)) && self.failure.set(e.to_string()).is_ok() {
            tracing::error!(error = %e, "livesession-sled: I/O error; the database will be reopened");
        }
        backend(e)
    }

    /// The record count (an estimate while a recount runs).
    pub(crate) fn count(&self) -> u64 {
        self.counter.get()
    }

    /// Whether [`count`](Self::count) is exact.
    pub(crate) fn count_is_exact(&self) -> bool {
        self.counter.is_exact()
    }

    /// Bytes the database occupies on disk.
    pub(crate) fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| self.err(e))
    }

    /// Makes every write so far durable (and the persisted count estimate
    /// close, for the recount after a crash).
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        self.meta
            .insert(COUNT_KEY, &encode_count(self.counter.get(), false))
            .map_err(|e| self.err(e))?;
        self.db.flush().map(drop).map_err(|e| self.err(e))
    }

    /// Writes `value` (an encoded record, or `None`: no record) under `k`
    /// with its index entries, whatever is there now. Used to write again,
    /// after a reopen, what a failed database had acknowledged.
    pub(crate) fn restore(&self, k: &[u8; 32], value: Option<&IVec>) -> Result<(), StoreError> {
        match value {
            None => self.delete(k).map(drop),
            Some(bytes) => {
                // An unreadable record is written back as it was, unindexed.
                let index = codec::decode_index(bytes).unwrap_or_default();
                self.save(k, bytes.clone(), &index)
            }
        }
    }
}

/// Opens the database, retrying while its file lock is held (see
/// [`SledConfig::lock_wait`]).
fn open_waiting_for_lock(config: &sled::Config, wait: Duration) -> Result<sled::Db, StoreError> {
    let deadline = Instant::now() + wait;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(backend(e)),
        }
    }
}

fn spawn_recount(counter: Arc<Counter>, records: Tree) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("livesession-sled-recount".into())
        .spawn(move || {
            let started = std::time::Instant::now();
            loop {
                // `abandon_recount` (on close) makes the next step return Done.
                match counter.repair_step(&records, RECOUNT_BATCH) {
                    Ok(Step::Continue) => {}
                    Ok(Step::Done) => {
                        if counter.is_exact() {
                            tracing::info!(
                                count = counter.get(),
                                elapsed_ms = started.elapsed().as_millis() as u64,
                                "livesession-sled: recount finished"
                            );
                        }
                        return;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "livesession-sled: recount failed; count() stays an estimate");
                        counter.abandon_recount();
                        return;
                    }
                }
            }
        })
}

impl Drop for Db {
    fn drop(&mut self) {
        // Stop a running recount; it holds a handle to the database.
        self.counter.abandon_recount();
        let handle = self
            .recount
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        if let Some(failure) = self.failure() {
            // Writing is what failed: leave the persisted count marked
            // unclean, so the next open recounts.
            tracing::debug!(%failure, "livesession-sled: closing a failed database");
            return;
        }
        let clean = self.counter.is_exact();
        let result = self
            .meta
            .insert(COUNT_KEY, &encode_count(self.counter.get(), clean))
            .and_then(|_| self.db.flush());
        if let Err(e) = result {
            tracing::warn!(error = %e, "livesession-sled: final flush failed; the next open will recount");
        }
    }
}

impl Db {
    /// Inserts the index entries of `new` that `old` does not already have.
    fn add_index(
        &self,
        key: &[u8; 32],
        new: &IndexFields,
        old: Option<&IndexFields>,
    ) -> Result<(), StoreError> {
        if let Some(at) = new.expires_at_ms {
            if old.is_none_or(|o| o.expires_at_ms != Some(at)) {
                self.by_expiry
                    .insert(expiry_entry(at, key), &[])
                    .map_err(|e| self.err(e))?;
            }
        }
        if let Some(user) = &new.user {
            if old.is_none_or(|o| o.user.as_ref() != Some(user)) {
                self.by_user
                    .insert(user_entry(user, key)?, &[])
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    /// Removes the index entries of `old` that `keep` does not share.
    fn remove_index(
        &self,
        key: &[u8; 32],
        old: &IndexFields,
        keep: &IndexFields,
    ) -> Result<(), StoreError> {
        if let Some(at) = old.expires_at_ms {
            if keep.expires_at_ms != Some(at) {
                self.by_expiry
                    .remove(expiry_entry(at, key))
                    .map_err(|e| self.err(e))?;
            }
        }
        if let Some(user) = &old.user {
            if keep.user.as_ref() != Some(user) {
                self.by_user
                    .remove(user_entry(user, key)?)
                    .map_err(|e| self.err(e))?;
            }
        }
        Ok(())
    }

    pub(crate) fn load(&self, k: &[u8; 32]) -> Result<Option<SessionRecord>, StoreError> {
        match self.records.get(k).map_err(|e| self.err(e))? {
            None => Ok(None),
            Some(bytes) => codec::decode(&bytes).map(Some),
        }
    }

    /// Creates the record `bytes` (encoded, with its `index` fields) under `k`.
    pub(crate) fn create(
        &self,
        k: &[u8; 32],
        bytes: IVec,
        index: &IndexFields,
    ) -> Result<(), StoreError> {
        if self.records.contains_key(k).map_err(|e| self.err(e))? {
            return Err(StoreError::AlreadyExists);
        }
        self.add_index(k, index, None)?;
        let created = self.counter.track(k, || {
            let swapped = self
                .records
                .compare_and_swap(k, None::<&[u8]>, Some(bytes))
                .map_err(|e| self.err(e))?;
            Ok::<_, StoreError>(match swapped {
                Ok(()) => (true, 1),
                Err(_) => (false, 0),
            })
        })?;
        if !created {
            // Lost a race with another writer of the same key: withdraw our
            // index entries, except those the winner's record also uses.
            let winner = self
                .records
                .get(k)
                .map_err(|e| self.err(e))?
                .and_then(|b| codec::decode_index(&b).ok())
                .unwrap_or_default();
            self.remove_index(k, index, &winner)?;
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    /// Inserts or replaces the record under `k` with `bytes` (encoded, with
    /// its `new` index fields).
    pub(crate) fn save(
        &self,
        k: &[u8; 32],
        bytes: IVec,
        new: &IndexFields,
    ) -> Result<(), StoreError> {
        let old_bytes = self.records.get(k).map_err(|e| self.err(e))?;
        // A corrupt old record's index entries cannot be found; they stay
        // behind as stale entries, which readers tolerate.
        let old = old_bytes
            .as_deref()
            .and_then(|b| codec::decode_index(b).ok());
        // 1. New index entries first: a crash now leaves only extra entries.
        self.add_index(k, new, old.as_ref())?;
        // 2. The record.
        let replaced = self.counter.track(k, || {
            let prev = self.records.insert(k, bytes).map_err(|e| self.err(e))?;
            let change = if prev.is_none() { 1 } else { 0 };
            Ok::<_, StoreError>((prev, change))
        })?;
        // 3. Entries of the record actually replaced that are now stale.
        if let Some(prev) = replaced {
            let prev_index = if old_bytes.as_ref() == Some(&prev) {
                old
            } else {
                codec::decode_index(&prev).ok()
            };
            if let Some(prev_index) = prev_index {
                self.remove_index(k, &prev_index, new)?;
            }
        }
        Ok(())
    }

    pub(crate) fn delete(&self, k: &[u8; 32]) -> Result<bool, StoreError> {
        let removed = self.counter.track(k, || {
            let prev = self.records.remove(k).map_err(|e| self.err(e))?;
            let change = if prev.is_some() { -1 } else { 0 };
            Ok::<_, StoreError>((prev, change))
        })?;
        match removed {
            None => Ok(false),
            Some(prev) => {
                if let Ok(index) = codec::decode_index(&prev) {
                    self.remove_index(k, &index, &IndexFields::default())?;
                }
                Ok(true)
            }
        }
    }

    pub(crate) fn keys_for_user(&self, user: &str) -> Result<Vec<SessionKey>, StoreError> {
        let prefix = user_prefix(user)?;
        let mut keys = Vec::new();
        for entry in self.by_user.scan_prefix(&prefix) {
            let (entry, _) = entry.map_err(|e| self.err(e))?;
            let Some(k) = entry
                .get(prefix.len()..)
                .and_then(|rest| <[u8; 32]>::try_from(rest).ok())
            else {
                continue;
            };
            // Skip stale entries: the record is gone or now belongs to
            // someone else (or is unreadable).
            let Some(bytes) = self.records.get(k).map_err(|e| self.err(e))? else {
                continue;
            };
            if codec::decode_index(&bytes).is_ok_and(|f| f.user.as_deref() == Some(user)) {
                keys.push(SessionKey::from_bytes(k));
            }
        }
        Ok(keys)
    }

    /// Up to [`SWEEP_CHUNK`] `by_expiry` entries at or before `upper`, after
    /// `after` (from the start if `None`).
    pub(crate) fn due_entries(
        &self,
        after: Option<&sled::IVec>,
        upper: &[u8],
    ) -> Result<Vec<sled::IVec>, StoreError> {
        let range = match after {
            None => self.by_expiry.range(..=upper),
            Some(last) => self.by_expiry.range::<&[u8], _>((
                std::ops::Bound::Excluded(last.as_ref()),
                std::ops::Bound::Included(upper),
            )),
        };
        range
            .keys()
            .take(SWEEP_CHUNK)
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Handles due `entries` until `limit` records are removed; returns how
    /// many were.
    pub(crate) fn sweep(&self, entries: &[sled::IVec], limit: usize) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in entries {
            if removed >= limit {
                break;
            }
            if self.sweep_entry(entry)? {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Handles one due `by_expiry` entry; returns whether a record was removed.
    fn sweep_entry(&self, entry: &[u8]) -> Result<bool, StoreError> {
        let Some((at, k)) = parse_expiry_entry(entry) else {
            tracing::warn!("livesession-sled: dropping malformed expiry index entry");
            self.by_expiry.remove(entry).map_err(|e| self.err(e))?;
            return Ok(false);
        };
        let key = SessionKey::from_bytes(k);
        let Some(bytes) = self.records.get(k).map_err(|e| self.err(e))? else {
            // Stale: the record is gone.
            self.by_expiry.remove(entry).map_err(|e| self.err(e))?;
            return Ok(false);
        };
        let index = match codec::decode_index(&bytes) {
            Ok(index) => Some(index),
            Err(e) => {
                tracing::warn!(?key, error = %e, "livesession-sled: removing an unreadable record whose expiry is due");
                None
            }
        };
        if let Some(index) = &index {
            if index.expires_at_ms != Some(at) {
                // Stale: the record was re-saved with another expiry.
                self.by_expiry.remove(entry).map_err(|e| self.err(e))?;
                self.restore_index(&k)?;
                return Ok(false);
            }
        }
        let removed = self.counter.track(&k, || {
            let swapped = self
                .records
                .compare_and_swap(k, Some(&bytes), None::<&[u8]>)
                .map_err(|e| self.err(e))?;
            Ok::<_, StoreError>(match swapped {
                Ok(()) => (true, -1),
                // Re-saved meanwhile: it lives on, with its own index entries.
                Err(_) => (false, 0),
            })
        })?;
        if !removed {
            return Ok(false);
        }
        self.by_expiry.remove(entry).map_err(|e| self.err(e))?;
        if let Some(index) = &index {
            self.remove_index(&k, index, &IndexFields::default())?;
        }
        self.restore_index(&k)?;
        Ok(true)
    }

    /// After removing index entries of `k`: if a record was written under `k`
    /// concurrently, make sure its own entries exist.
    fn restore_index(&self, k: &[u8; 32]) -> Result<(), StoreError> {
        if let Some(bytes) = self.records.get(k).map_err(|e| self.err(e))? {
            if let Ok(index) = codec::decode_index(&bytes) {
                self.add_index(k, &index, None)?;
            }
        }
        Ok(())
    }
}
