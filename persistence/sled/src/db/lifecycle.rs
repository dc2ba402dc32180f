//! Opening a [`Db`] (layout check, persisted count, background recount),
//! its failure, count, flush, and closing it cleanly.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use livesession::store::StoreError;
use sled::Tree;

use super::Db;
use crate::config::SledConfig;
use crate::counter::{Counter, Step};

/// `meta` key: on-disk layout version of the four trees.
const LAYOUT_KEY: &[u8] = b"layout";
const LAYOUT_VERSION: u8 = 1;
/// `meta` key: record count (u64 BE) ++ clean-shutdown flag (1 byte).
const COUNT_KEY: &[u8] = b"count";
/// Records the recount walks per lock acquisition.
const RECOUNT_BATCH: usize = 256;

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
    pub(super) fn err(&self, e: sled::Error) -> StoreError {
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
