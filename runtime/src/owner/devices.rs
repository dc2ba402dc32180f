//! "Your devices": the unexpired sessions bound to one user, live here or
//! only in the store, and ending one of them by its handle.
//!
//! Without a shared store, a session live in this process is described by
//! its cell (the latest snapshot and the idle clock) and any other by its
//! stored record. On a shared store the stored record is the truth (the
//! session may be live in another process, or ended there while this
//! process still caches it); a cell here only adds its idle clock. Ending a
//! session goes through [`Core::revoke_key`], the path `revoke_user` takes
//! for each of its keys.

use crate::core::cell::{Lifecycle, SessionCell};
use crate::core::Core;
use crate::error::SessionError;
use crate::store::{SessionKey, SessionRecord, StoreError};
use crate::user_session::{handle_of, UserSession};
use std::collections::HashSet;

impl Core {
    /// Every unexpired session bound to `user`, newest first (by creation;
    /// ties by handle, so every process lists them in the same order).
    pub(crate) async fn sessions_of_user(
        &self,
        user: &str,
    ) -> Result<Vec<UserSession>, SessionError> {
        let now = self.now_ms();
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        if !self.is_shared() {
            for cell in self.registry.live_bound_to(user) {
                seen.insert(cell.key);
                if let Some(listed) = self.describe_live(&cell, user, now) {
                    found.push(listed);
                }
            }
        }
        if let Some(store) = self.store() {
            for key in store.keys_for_user(user).await? {
                if !seen.insert(key) {
                    continue;
                }
                let here = self
                    .registry
                    .live_cell(&key)
                    .filter(|cell| cell.lifecycle() == Lifecycle::Alive);
                if let (Some(cell), false) = (&here, self.is_shared()) {
                    // Live here: its cell is newer than the stored record.
                    found.extend(self.describe_live(cell, user, now));
                    continue;
                }
                let record = match store.load(&key).await {
                    Ok(Some(record)) => record,
                    Ok(None) => continue,
                    Err(StoreError::Corrupt(why)) => {
                        tracing::error!(?key, %why, "corrupt session record left out of a user's sessions");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                // A shared store returns only records it holds live (its
                // clock decides); the record's own expiry may lag behind.
                if record.user.as_deref() != Some(user)
                    || (!self.is_shared() && record.is_expired(now))
                {
                    continue;
                }
                let last_access_here = here.map(|cell| cell.last_access());
                found.push(self.describe_stored(&key, &record, last_access_here));
            }
        }
        found.sort_by(|a, b| {
            b.created_at_ms
                .cmp(&a.created_at_ms)
                .then_with(|| a.handle.cmp(&b.handle))
        });
        Ok(found)
    }

    /// Destroys the session of `user` named `handle`, as finally as
    /// `revoke_user` would; `false` when `user` has no such unexpired session.
    pub(crate) async fn end_session_of_user(
        &self,
        user: &str,
        handle: &str,
    ) -> Result<bool, SessionError> {
        let Some(key) = self.key_of_handle(user, handle).await? else {
            return Ok(false);
        };
        // Checks the binding again (in the owner, or while holding the
        // registry slot), so a session rebound meanwhile is left alone.
        let ended = self.revoke_key(key, user).await?;
        if let Some(store) = self.store() {
            // With sync durability the delete is on disk before we answer.
            store.flush().await?;
        }
        Ok(ended)
    }

    /// The key of the session bound to `user` whose handle is `handle`, among
    /// those live here and those the store's user index names.
    async fn key_of_handle(
        &self,
        user: &str,
        handle: &str,
    ) -> Result<Option<SessionKey>, SessionError> {
        let live = self.registry.live_bound_to(user);
        if let Some(cell) = live.iter().find(|cell| handle_of(&cell.key) == handle) {
            return Ok(Some(cell.key));
        }
        let Some(store) = self.store() else {
            return Ok(None);
        };
        Ok(store
            .keys_for_user(user)
            .await?
            .into_iter()
            .find(|key| handle_of(key) == handle))
    }

    /// A session live in this process (no shared store), if still alive,
    /// unexpired and bound to `user`.
    fn describe_live(&self, cell: &SessionCell, user: &str, now: u64) -> Option<UserSession> {
        let snapshot = cell.current();
        let record = &snapshot.record;
        if cell.lifecycle() != Lifecycle::Alive
            || self.is_expired(cell, now)
            || record.user.as_deref() != Some(user)
        {
            return None;
        }
        let last_seen = cell.last_access();
        Some(UserSession {
            handle: handle_of(&cell.key),
            created_at_ms: record.created_at_ms,
            last_seen_at_ms: last_seen,
            expires_at_ms: self.expires_at(record, last_seen),
        })
    }

    /// A session described by its stored record; `last_access_here`: the idle
    /// clock of its cell in this process (shared store only).
    fn describe_stored(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        last_access_here: Option<u64>,
    ) -> UserSession {
        let written = self.last_seen_in(record);
        let last_seen = last_access_here.map_or(written, |here| here.max(written));
        UserSession {
            handle: handle_of(key),
            created_at_ms: record.created_at_ms,
            last_seen_at_ms: last_seen,
            // A store of this process holds the exact end; a shared store's
            // record holds the end as of its last write.
            expires_at_ms: if self.is_shared() {
                self.expires_at(record, last_seen)
            } else {
                record.expires_at_ms
            },
        }
    }

    /// The last load a stored record tells of: its expiry minus the max age
    /// when it has one (exact when the expiry is the idle end, a lower bound
    /// when the absolute deadline came first), never before its creation.
    fn last_seen_in(&self, record: &SessionRecord) -> u64 {
        let derived = match (record.expires_at_ms, self.max_age_ms(record)) {
            (Some(end), Some(max_age)) => end.saturating_sub(max_age),
            _ => record.created_at_ms,
        };
        derived.max(record.created_at_ms)
    }
}
