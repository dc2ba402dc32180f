//! The messages a session's owner handles: apply the queued changes,
//! destroy, retire (shutdown), re-check the clocks.

use super::actor::write_to_end;
use crate::core::cell::{Lifecycle, SessionActor};
use crate::core::change::{Ended, Ending};
use crate::core::Core;
use crate::error::SessionError;
use crate::metrics::StoreOp;
use crate::store::SessionRecord;
use kameo::message::{Context, Message};
use kameo::Reply;

/// Apply the changes queued in the cell (sent when the queue stops being
/// empty; the batch is whatever is queued when the owner gets to it).
pub(crate) struct ApplyPending;

impl Message<ApplyPending> for SessionActor {
    type Reply = ();

    async fn handle(&mut self, _: ApplyPending, ctx: &mut Context<Self, ()>) {
        let Some(rt) = self.rt() else { return };
        if rt.is_expired(&self.cell, rt.now_ms()) {
            // The timer has not fired yet, but the session is over; ending it
            // hands every queued change back unapplied.
            self.end(&rt, Lifecycle::Dead).await;
            ctx.stop();
            return;
        }
        let batch = std::mem::take(&mut *self.cell.pending());
        if !batch.is_empty() && self.apply_batch(&rt, batch).await {
            ctx.stop();
        }
    }
}

/// Destroy the session. A revoke destroys it only if it is bound to that
/// user and unexpired. Replies with how it ended when it was destroyed.
pub(crate) struct Destroy(pub Ending);

/// The outcome of a [`Destroy`].
#[derive(Reply)]
pub(crate) struct Destroyed(pub Result<Option<Ended>, SessionError>);

impl Message<Destroy> for SessionActor {
    type Reply = Destroyed;

    async fn handle(
        &mut self,
        Destroy(ending): Destroy,
        ctx: &mut Context<Self, Destroyed>,
    ) -> Destroyed {
        let Some(rt) = self.rt() else {
            return Destroyed(Err(SessionError::Unavailable("shut down".into())));
        };
        if rt.is_expired(&self.cell, rt.now_ms()) {
            // Over already: end it as expired (nothing for a revoke to count),
            // so no load can touch it back to life afterwards.
            self.end(&rt, Lifecycle::Dead).await;
            ctx.stop();
            return Destroyed(Ok(None));
        }
        let Some(store) = rt.unbounded_store().cloned() else {
            // In memory only: nothing to delete.
            let record = self.cell.current().record.clone();
            let ended = ending
                .applies_to(&record)
                .then(|| self.finish_ending(&rt, &ending, record));
            if ended.is_some() {
                ctx.stop();
            }
            return Destroyed(Ok(ended));
        };
        let record = self.cell.current().record.clone();
        if !ending.applies_to(&record) {
            return Destroyed(Ok(None));
        }
        // Delete first, to its end: if the store fails, the session stays
        // as it was (and the store may lack it: the next write-back saves it).
        let key = self.cell.key;
        let deletion = match ending {
            Ending::Revoke(_) => store.delete(&key),
            Ending::Logout | Ending::Regenerate => store.end(&key),
        };
        let existed = match write_to_end(&rt, StoreOp::Delete, deletion, || {}).await {
            (Ok(existed), _) => existed,
            (Err(e), _) => {
                self.cell.set_store_behind(true);
                return Destroyed(Err(e.into()));
            }
        };
        if rt.is_shared() && !existed {
            // Another process ended it first: this copy was stale. Nothing
            // of it may be counted or carried into a new session.
            rt.retire_cell(&self.cell, Lifecycle::Dead);
            ctx.stop();
            return Destroyed(Ok(None));
        }
        let ended = self.finish_ending(&rt, &ending, record);
        ctx.stop();
        // Ended here at once; acknowledged only once the delete is durable
        // (already, when the store's completed writes are).
        if !store.completed_writes_are_durable() {
            if let (Err(e), _) = write_to_end(&rt, StoreOp::Flush, store.flush(), || {}).await {
                return Destroyed(Err(e.into()));
            }
        }
        Destroyed(Ok(Some(ended)))
    }
}

impl SessionActor {
    /// Ends the session here for `ending`, whose final record is `record`
    /// (deleted from the store already, if there is one).
    fn finish_ending(&self, rt: &Core, ending: &Ending, record: SessionRecord) -> Ended {
        if !matches!(ending, Ending::Revoke(_)) {
            // A logout or regenerate: a browser's request still carrying the
            // id must not clear the cookie that replaces it.
            rt.note_ended(self.cell.key);
        }
        // A regenerate carries the user binding into a session that exists
        // only in its request until it finishes: registered before this one
        // ends, so a revoke at any moment reaches one of the two.
        let binding = match (ending, record.user.as_deref()) {
            (Ending::Regenerate, Some(user)) => Some(rt.bind(user)),
            _ => None,
        };
        crate::metrics::session_ended(ending.reason());
        rt.retire_cell(&self.cell, Lifecycle::Dead);
        Ended { record, binding }
    }
}

/// Write the session to the store if needed and stop (graceful shutdown).
pub(crate) struct Retire;

/// The outcome of a [`Retire`].
#[derive(Reply)]
pub(crate) struct Retired(pub Result<(), SessionError>);

impl Message<Retire> for SessionActor {
    type Reply = Retired;

    async fn handle(&mut self, _: Retire, ctx: &mut Context<Self, Retired>) -> Retired {
        let Some(rt) = self.rt() else {
            return Retired(Ok(()));
        };
        if let Err(e) = self.write_back(&rt, true).await {
            return Retired(Err(e));
        }
        rt.retire_cell(&self.cell, Lifecycle::Retired);
        ctx.stop();
        Retired(Ok(()))
    }
}

/// Re-check the clocks now (a request saw the session past its deadline),
/// and lazily persist an idle-expiry extension.
pub(crate) struct CheckClocks;

impl Message<CheckClocks> for SessionActor {
    type Reply = ();

    async fn handle(&mut self, _: CheckClocks, ctx: &mut Context<Self, ()>) {
        // Taken: a request that finds the session due from here on queues
        // the next check.
        self.cell.clocks_checked();
        let Some(rt) = self.rt() else { return };
        if rt.is_expired(&self.cell, rt.now_ms()) {
            self.end(&rt, Lifecycle::Dead).await;
            ctx.stop();
            return;
        }
        if let Err(e) = self.write_back(&rt, false).await {
            rt.log_store_failure(rt.now_ms(), || {
                tracing::warn!(key = ?self.cell.key, error = %e, "could not persist an idle-expiry extension");
            });
        }
    }
}
