//! The expiry and user indexes: their entry formats, adding and removing a
//! record's entries, and listing a user's sessions.

use livesession::store::{SessionKey, StoreError};

use super::Db;
use crate::codec::{self, IndexFields};

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
    /// Inserts the index entries of `new` that `old` does not already have.
    pub(super) fn add_index(
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
    pub(super) fn remove_index(
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
}
