//! Record writes: load, create, save, delete, and writing back what a
//! failed database had acknowledged.

use livesession::store::{SessionRecord, StoreError};
use sled::IVec;

use super::Db;
use crate::codec::{self, IndexFields};

impl Db {
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
