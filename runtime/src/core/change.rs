//! What requests hand to a session's owner: changes and endings, and what
//! comes back.

use super::revocation::Binding;
use super::snapshot::Snapshot;
use crate::error::SessionError;
use crate::metrics::EndReason;
use crate::store::SessionRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A fresh id for a [`PendingChange`].
pub(crate) fn next_change_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
use tokio::sync::oneshot;

/// A change to apply to the session record. Returns an optional value for the
/// caller (e.g. the result of an `update`). Runs once, except on a shared
/// store, where a write that lost a compare-and-set runs the change again on
/// the record that won.
pub(crate) type MutateFn =
    Box<dyn FnMut(&mut SessionRecord) -> Result<Option<serde_json::Value>, SessionError> + Send>;

/// A change queued for the owner's next batch.
pub(crate) struct PendingChange {
    /// Unique per change: a request that gives up waiting withdraws it by id.
    pub id: u64,
    pub change: MutateFn,
    pub reply: oneshot::Sender<ChangeOutcome>,
}

/// What became of a queued change.
pub(crate) enum ChangeOutcome {
    /// Applied and durable (or failed, applying nothing).
    Applied(Result<MutatedOk, SessionError>),
    /// Not applied: the session ended or left memory first. The change comes
    /// back so the request can apply it where the session went.
    NotApplied(MutateFn),
}

/// A successful change.
pub(crate) struct MutatedOk {
    pub snapshot: Arc<Snapshot>,
    pub value: Option<serde_json::Value>,
    /// Session data or user binding changed (fastify's `isModified`).
    pub data_changed: bool,
}

/// A session a request ended: its final record and, after a regenerate of
/// a bound session, the user binding its successor carries (registered by
/// the owner before the session ended, so a revoke at any moment reaches
/// one of the two).
pub(crate) struct Ended {
    pub record: SessionRecord,
    pub binding: Option<Binding>,
}

/// Why a request ends a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ending {
    /// `Session::destroy` (logout).
    Logout,
    /// `Session::regenerate`: the id is replaced.
    Regenerate,
    /// `SessionManager::revoke_user` of this user.
    Revoke(String),
}

impl Ending {
    /// Whether this ending ends a session holding `record`: a revoke only
    /// one bound to its user.
    pub fn applies_to(&self, record: &SessionRecord) -> bool {
        match self {
            Ending::Revoke(user) => record.user.as_deref() == Some(user),
            Ending::Logout | Ending::Regenerate => true,
        }
    }

    pub fn reason(&self) -> EndReason {
        match self {
            Ending::Logout => EndReason::Destroyed,
            Ending::Regenerate => EndReason::Regenerated,
            Ending::Revoke(_) => EndReason::Revoked,
        }
    }
}
