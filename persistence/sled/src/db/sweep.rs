//! Removing expired records through the expiry index.

use livesession::store::{SessionKey, StoreError};

use super::index::parse_expiry_entry;
use super::Db;
use crate::codec::{self, IndexFields};

/// `by_expiry` entries `remove_expired` reads per blocking call.
pub(crate) const SWEEP_CHUNK: usize = 128;

impl Db {
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
