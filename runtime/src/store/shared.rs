//! What a store shared by several processes answers: versioned records,
//! compare-and-set commits and validating touches.
//!
//! A store that several app servers use at once (Redis) is the truth about
//! every session; each process keeps only a cache of it. Every record then
//! carries a version the store increments on each write, so a process can
//! tell whether what it holds is current ([`SessionStore::touch`]) and write
//! only on top of what it read ([`SessionStore::commit`]). Stores used by
//! one process (memory, sled) need none of this: the runtime's single owner
//! per session already serialises every change.

use super::SessionRecord;
#[cfg(doc)]
use super::SessionStore;

/// A record and the version the store holds it at.
#[derive(Clone, Debug, PartialEq)]
pub struct Versioned {
    /// Incremented by the store on every write to the record; starts at 1.
    pub version: u64,
    /// The record as stored.
    pub record: SessionRecord,
}

/// How long a session lives, measured by the shared store's own clock, so
/// that processes with skewed clocks agree on when a session ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifetime {
    /// Idle timeout: the session ends this long after it was last created,
    /// touched or committed. `None`: no idle end.
    pub idle_ms: Option<u64>,
    /// Absolute timeout, counted from creation. `None`: none. Only
    /// [`SessionStore::create_shared`] reads it; the store keeps the end it
    /// computed then.
    pub absolute_ms: Option<u64>,
}

/// The answer of [`SessionStore::touch`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Touched {
    /// No live record: never existed, expired, or revoked (or ended longer
    /// ago than a store remembers endings for).
    Gone,
    /// No live record: [`SessionStore::end`] ended it (a logout, or its id
    /// was regenerated away) `ago_ms` milliseconds ago, by the store's
    /// clock. A request still carrying its cookie was most likely sent
    /// before that answer reached the browser.
    Ended {
        /// How long ago, by the store's clock.
        ago_ms: u64,
    },
    /// The record is still at the version the caller knows.
    Unchanged,
    /// The record is at another version (or the caller knew none): here it is.
    Changed(Versioned),
}

/// The answer of [`SessionStore::commit`].
#[derive(Clone, Debug, PartialEq)]
pub enum Committed {
    /// Written; the record is now at this version.
    Done(u64),
    /// Someone else wrote first: nothing was written; here is what the store
    /// holds now. The caller re-applies its changes to it and tries again.
    Conflict(Versioned),
    /// No live record: nothing was written, and nothing ever will be under
    /// this key (a commit never creates a record).
    Gone,
}
