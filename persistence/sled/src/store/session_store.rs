//! The [`SessionStore`] impl: encoding on the calling task, sled calls on
//! the store's threads; writes go through the group commit
//! (`group_commit/`), and with [`Durability::Sync`] flushes too.

use std::sync::Arc;

use livesession::store::{SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture};
use sled::IVec;

use super::recovery::{unavailable, REOPENING};
use super::{SledStore, State};
use crate::codec::{self, IndexFields};
use crate::config::Durability;
use crate::db::{expiry_entry, parse_expiry_entry, Db, SWEEP_CHUNK};

impl SessionStore for SledStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        let k = *key.as_bytes();
        Box::pin(self.blocking(move |s| s.with_db(|db| db.load(&k))))
    }

    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(self.write(key, record, Db::create))
    }

    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(self.write(key, record, Db::save))
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        let k = *key.as_bytes();
        Box::pin(self.write_record(k, None, move |db| db.delete(&k)))
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
                // Nothing due in this chunk (or all skipped): no write, and
                // so nothing for a later flush to cover.
                if !due.is_empty() {
                    removed += self
                        .blocking(move |s| {
                            let removed = s.with_db(|db| db.sweep(&due, budget));
                            // A later flush covers these removals too.
                            s.group.applied();
                            removed
                        })
                        .await?;
                }
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
            // Writes count themselves through the group commit: see `write_record`.
            Durability::Sync => Box::pin(Arc::clone(&self.shared.group).flush(&self.shared.pool)),
        }
    }

    /// With sync durability a write answers once its group is flushed.
    fn completed_writes_are_durable(&self) -> bool {
        matches!(self.shared.config.get_durability(), Durability::Sync)
    }
}

impl SledStore {
    /// Writes `record` under `key` with `op` (`Db::create` or `Db::save`).
    /// Encoding is cheap and needs the borrowed record: done on the calling
    /// task; the sled calls run on the store's threads.
    async fn write(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        op: fn(&Db, &[u8; 32], IVec, &IndexFields) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let k = *key.as_bytes();
        let bytes = IVec::from(codec::encode(record)?);
        let index = IndexFields::of(record);
        let value = Some(bytes.clone());
        self.write_record(k, value, move |db| {
            op(db, &k, bytes, &index).map(|()| false)
        })
        .await
        .map(drop)
    }

    /// Runs `op`, a write that leaves `value` under `k` (`None`: no record),
    /// in the next group of the group commit (see `group_commit/`): with
    /// [`Durability::Sync`] it answers once that group is flushed; with
    /// [`Durability::Periodic`] once it is applied.
    async fn write_record(
        &self,
        k: [u8; 32],
        value: Option<IVec>,
        op: impl FnOnce(&Db) -> Result<bool, StoreError> + Send + 'static,
    ) -> Result<bool, StoreError> {
        let shared = Arc::clone(&self.shared);
        // Consumed when applied, so the store's handle goes before the answer.
        let write = Box::new(move || shared.write_record(k, value, op));
        Arc::clone(&self.shared.group)
            .write(&self.shared.pool, write)
            .await
    }
}
