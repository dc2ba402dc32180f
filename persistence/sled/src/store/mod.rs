//! [`SledStore`]: the type and its shared state; opening and health in
//! `open.rs`, the [`SessionStore`] impl in `session_store.rs`, keeping
//! unflushed writes and reopening a failed database in `recovery.rs`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError};

#[cfg(doc)]
use livesession::store::SessionStore;

#[cfg(doc)]
use crate::config::Durability;
use crate::config::SledConfig;
use crate::db::Db;
use crate::group_commit::GroupCommit;
use crate::pool::Pool;

use recovery::{Recovery, Unflushed};

mod open;
mod recovery;
mod session_store;
#[cfg(test)]
mod tests;

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
/// background. With [`Durability::Sync`], writes and
/// [`flush`](SessionStore::flush) are a group commit on those threads (a
/// write answers once its group is flushed); [`remove_expired`](SessionStore::remove_expired) works in
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
    /// Every write, applied in groups; with [`Durability::Sync`] each group
    /// ends with one flush, shared by its writes and by `flush()` callers.
    group: Arc<GroupCommit>,
    /// Runs every sled call, and the group commit.
    pool: Pool,
    /// Test hooks: flushes run, and whether the next ones fail.
    #[cfg(test)]
    test: tests::Hooks,
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
}
