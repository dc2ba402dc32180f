//! Applying a batch of queued changes to a session's record, and answering
//! the requests that queued them.

use crate::core::cell::{Lifecycle, SessionCell};
use crate::core::change::{ChangeOutcome, MutateFn, MutatedOk};
use crate::core::snapshot::Snapshot;
use crate::core::Core;
use crate::error::SessionError;
use crate::store::{SessionRecord, StoreError};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use tokio::sync::oneshot;

/// The caller of one change of a batch.
pub(super) type Reply = oneshot::Sender<ChangeOutcome>;

/// What one change of a batch returned: its value and whether it changed
/// the data or user binding.
pub(super) type Applied = Result<(Option<serde_json::Value>, bool), SessionError>;

/// Answers every change of a batch that was published as `snapshot`.
pub(super) fn answer(replies: Vec<Reply>, applied: Vec<Applied>, snapshot: &Arc<Snapshot>) {
    for (reply, applied) in replies.into_iter().zip(applied) {
        let outcome = applied.map(|(value, data_changed)| MutatedOk {
            snapshot: snapshot.clone(),
            value,
            data_changed,
        });
        let _ = reply.send(ChangeOutcome::Applied(outcome));
    }
}

/// Answers every change of a failed batch (each with its own error if it
/// had one, else `why`).
pub(super) fn fail_all(replies: &mut Vec<Reply>, applied: Vec<Applied>, why: &str) {
    let mut applied = applied.into_iter();
    for reply in replies.drain(..) {
        let outcome = match applied.next() {
            Some(Err(own)) => Err(own),
            _ => Err(SessionError::Store(StoreError::backend(why.to_string()))),
        };
        let _ = reply.send(ChangeOutcome::Applied(outcome));
    }
}

/// Applies `changes` in order on `base`'s record. Returns the new record
/// (with its expiry moved when anything changed), each change's result,
/// and whether the data, user or cookie options changed.
pub(super) fn apply_all(
    rt: &Core,
    cell: &SessionCell,
    base: &Snapshot,
    changes: &mut [MutateFn],
) -> (SessionRecord, Vec<Applied>, bool) {
    // Each change works on a copy of the record before it (so a failed one
    // leaves it as it was); the first copies `base`'s record itself: one
    // copy per change, none more for the batch.
    let mut record: Option<SessionRecord> = None;
    let applied: Vec<Applied> = changes
        .iter_mut()
        .map(|change| {
            let before = record.as_ref().unwrap_or(&base.record);
            let (next, result) = apply_one(rt, before, change);
            if next.is_some() {
                record = next;
            }
            result
        })
        .collect();
    let mut record = record.unwrap_or_else(|| base.record.clone());
    let changed = record.data != base.record.data
        || record.user != base.record.user
        || record.cookie != base.record.cookie;
    if changed {
        record.expires_at_ms = rt.expires_at(&record, cell.last_access());
    }
    (record, applied, changed)
}

/// Applies a batch to a session kept in memory only (no store: nothing to
/// wait for), publishes it and answers every caller. Holds the cell's
/// queue lock from reading the base to publishing, as [`apply_inline`]
/// does: one of them publishes at a time, each on the other's result.
pub(super) fn apply_in_memory(
    rt: &Core,
    cell: &SessionCell,
    mut changes: Vec<MutateFn>,
    replies: Vec<Reply>,
) {
    let queue = cell.pending();
    let (snapshot, applied) = publish_in_memory(rt, cell, &mut changes);
    drop(queue);
    answer(replies, applied, &snapshot);
}

/// Applies one change to a session kept in memory only, on the calling
/// request's task: no message, no task switch, no owner woken from
/// hibernation. The caller holds the cell's owner lock and has seen no
/// owner running, so nothing an earlier request handed to an owner (a
/// change, an ending) is still on its way: the change applies after it, to
/// the latest published record, as the owner would have applied it. The
/// queue lock is held from reading the record to publishing. Gives the
/// change back (to be queued for an owner) when changes are queued, or the
/// session is ending or past its deadline. A deadline the change brings
/// closer moves the session's parked alarm, as a hibernating owner would.
///
/// Nothing in it awaits, so a request dropped meanwhile cannot leave it
/// half done.
pub(crate) fn apply_inline(
    rt: &Core,
    cell: &Arc<SessionCell>,
    change: MutateFn,
) -> Result<Result<MutatedOk, SessionError>, MutateFn> {
    let queue = cell.pending();
    if !queue.is_empty() || cell.lifecycle() != Lifecycle::Alive || rt.is_expired(cell, rt.now_ms())
    {
        return Err(change);
    }
    let mut changes = [change];
    let (snapshot, applied) = publish_in_memory(rt, cell, &mut changes);
    // No owner runs to follow a deadline the change brought closer (a
    // shorter max age): the parked alarm moves to it (only ever earlier).
    if let Some(at) = rt.next_deadline(cell) {
        rt.alarms().set(cell, at);
    }
    drop(queue);
    crate::metrics::batch(1);
    let applied = applied.into_iter().next().unwrap_or_else(|| {
        Err(SessionError::Unavailable(
            "the change was not applied".into(),
        ))
    });
    Ok(applied.map(|(value, data_changed)| MutatedOk {
        snapshot,
        value,
        data_changed,
    }))
}

/// Applies `changes` and publishes the result; returns the published
/// snapshot and each change's result.
fn publish_in_memory(
    rt: &Core,
    cell: &SessionCell,
    changes: &mut [MutateFn],
) -> (Arc<Snapshot>, Vec<Applied>) {
    let base = cell.current();
    let (record, applied, changed) = apply_all(rt, cell, &base, changes);
    if !changed {
        return (base, applied);
    }
    let snapshot = Arc::new(Snapshot {
        version: base.version + 1,
        record,
    });
    cell.snapshot.store(snapshot.clone());
    (snapshot, applied)
}

/// Applies one change to a copy of `record`. Returns the changed copy
/// (`None` on error or panic: the record stays as it was), and the change's
/// value and whether it changed the data or user binding.
fn apply_one(
    rt: &Core,
    record: &SessionRecord,
    change: &mut MutateFn,
) -> (Option<SessionRecord>, Applied) {
    let mut next = record.clone();
    let value = match catch_unwind(AssertUnwindSafe(|| change(&mut next))) {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => return (None, Err(e)),
        Err(_) => return (None, Err(SessionError::UpdatePanicked)),
    };
    let data_changed = next.data != record.data;
    if data_changed {
        if let Err(e) = rt.config().limits.check(&next.data) {
            return (None, Err(e));
        }
    }
    let changed = data_changed || next.user != record.user;
    (Some(next), Ok((value, changed)))
}
