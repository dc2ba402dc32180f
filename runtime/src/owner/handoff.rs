//! Owner hand-off: finding or spawning a live session's owner, queueing a
//! change for its next batch, and the messages that end a session.

use super::batch::apply_inline;
use super::messages::{ApplyPending, CheckClocks, Destroy, Destroyed, Retire, Retired};
use crate::core::cell::{ActorArgs, Lifecycle, SessionActor, SessionCell};
use crate::core::change::{
    next_change_id, ChangeOutcome, Ended, Ending, MutateFn, MutatedOk, PendingChange,
};
use crate::core::Core;
use crate::error::SessionError;
use crate::store::StoreError;
use kameo::actor::{ActorRef, Spawn};
use kameo::error::SendError;
use kameo::mailbox;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Capacity of each session's mailbox: concurrent requests beyond it wait
/// (back-pressure) instead of growing memory.
const MAILBOX_CAPACITY: usize = 64;

/// Changes one session may have queued for its owner at once; beyond it a
/// change fails with [`SessionError::Unavailable`] instead of growing memory.
const MAX_PENDING_CHANGES: usize = 4096;

/// How many owners a message tries before giving up (an owner that
/// hibernates while a message is on its way is replaced by a new one).
const OWNER_ATTEMPTS: usize = 16;

impl Core {
    /// The running owner of `cell`, spawned if it has none. `None` when the
    /// session has ended.
    pub fn owner(&self, cell: &Arc<SessionCell>, by_alarm: bool) -> Option<ActorRef<SessionActor>> {
        let mut slot = cell.owner();
        self.owner_locked(cell, &mut slot, by_alarm)
    }

    pub(crate) fn owner_locked(
        &self,
        cell: &Arc<SessionCell>,
        slot: &mut Option<ActorRef<SessionActor>>,
        by_alarm: bool,
    ) -> Option<ActorRef<SessionActor>> {
        if cell.lifecycle() != Lifecycle::Alive {
            return None;
        }
        if let Some(owner) = slot.as_ref() {
            if owner.is_alive() {
                return Some(owner.clone());
            }
        }
        let owner = SessionActor::spawn_with_mailbox(
            ActorArgs {
                cell: cell.clone(),
                runtime: self.me.clone(),
                by_alarm,
            },
            mailbox::bounded(MAILBOX_CAPACITY),
        );
        *slot = Some(owner.clone());
        Some(owner)
    }

    /// Has the owner of `cell` apply `change` in its next batch, and waits
    /// until it is durable. `Ok(Err(change))`: not applied, because the
    /// session ended or left memory first (its lifecycle tells which).
    /// Without a store, when no owner is running, the change is applied
    /// here at once instead ([`apply_inline`]).
    ///
    /// With a store, a change still queued after twice the store deadline
    /// (its owner is stuck behind a slow store) is withdrawn and fails: it
    /// is then never applied. One the owner has taken into a batch is
    /// answered by the owner, at its store deadline at the latest. A request
    /// dropped while it waits leaves its change to be skipped, unapplied.
    pub async fn mutate(
        &self,
        cell: &Arc<SessionCell>,
        change: MutateFn,
    ) -> Result<Result<MutatedOk, MutateFn>, SessionError> {
        let mut change = change;
        let id = next_change_id();
        let (nudge, mut outcome) = {
            let mut slot = cell.owner();
            if self.store().is_none() && !slot.as_ref().is_some_and(|o| o.is_alive()) {
                // In memory, with no owner running (so nothing of an earlier
                // request is on its way to one): applied right here. Under
                // the owner lock, so no owner starts meanwhile.
                match apply_inline(self, cell, change) {
                    Ok(answer) => return answer.map(Ok),
                    Err(queued) => change = queued,
                }
            }
            let Some(owner) = self.owner_locked(cell, &mut slot, false) else {
                return Ok(Err(change));
            };
            let mut pending = cell.pending();
            if pending.len() >= MAX_PENDING_CHANGES {
                return Err(SessionError::Unavailable(
                    "too many concurrent changes to one session".into(),
                ));
            }
            let (reply, outcome) = oneshot::channel();
            pending.push(PendingChange { id, change, reply });
            // Only the change that finds the queue empty nudges the owner:
            // one message drains everything queued by then.
            ((pending.len() == 1).then_some(owner), outcome)
        };
        if let Some(owner) = nudge {
            self.nudge(cell, owner);
        }
        let answer = match self.store() {
            None => outcome.await,
            Some(_) => match tokio::time::timeout(self.store_timeout() * 2, &mut outcome).await {
                Ok(answer) => answer,
                Err(_) if cell.withdraw(id) => {
                    return Err(SessionError::Store(StoreError::backend(format!(
                        "the session's owner did not take the change within {} ms",
                        (self.store_timeout() * 2).as_millis()
                    ))))
                }
                // Taken into a batch: its owner answers by its deadline.
                Err(_) => outcome.await,
            },
        };
        match answer {
            Ok(ChangeOutcome::Applied(result)) => result.map(Ok),
            Ok(ChangeOutcome::NotApplied(change)) => Ok(Err(change)),
            Err(_) => Err(SessionError::Unavailable(
                "the session owner stopped during a change".into(),
            )),
        }
    }

    /// Tells the owner of `cell` to apply its queued changes. Never waits,
    /// so a request dropped here cannot lose the nudge: a full mailbox gets
    /// it from a task of its own, and an owner that stopped is replaced.
    /// (An owner also applies what it finds queued before it hibernates.)
    pub(crate) fn nudge(&self, cell: &Arc<SessionCell>, owner: ActorRef<SessionActor>) {
        let mut owner = owner;
        for _ in 0..OWNER_ATTEMPTS {
            match owner.tell(ApplyPending).try_send() {
                Ok(()) => return,
                Err(SendError::MailboxFull(_)) => {
                    tokio::spawn(async move {
                        let _ = owner.tell(ApplyPending).send().await;
                    });
                    return;
                }
                Err(_) => match self.owner(cell, false) {
                    Some(next) => owner = next,
                    // Ended: `retire_cell` handed the queued changes back.
                    None => return,
                },
            }
        }
        // Give up: fail whatever is still queued rather than strand it.
        for PendingChange { reply, .. } in std::mem::take(&mut *cell.pending()) {
            let _ = reply.send(ChangeOutcome::Applied(Err(SessionError::Unavailable(
                "the session owner kept stopping".into(),
            ))));
        }
    }

    /// Ends `cell` for good (a revoke only if it is bound to that user).
    /// Returns how it ended, or `None` if it had ended or did not match.
    pub async fn destroy(
        &self,
        cell: &Arc<SessionCell>,
        ending: Ending,
    ) -> Result<Option<Ended>, SessionError> {
        for _ in 0..OWNER_ATTEMPTS {
            let Some(owner) = self.owner(cell, false) else {
                return Ok(None);
            };
            match owner.ask(Destroy(ending.clone())).await {
                Ok(Destroyed(result)) => return result,
                Err(_) if cell.lifecycle() == Lifecycle::Alive => tokio::task::yield_now().await,
                Err(_) => return Ok(None),
            }
        }
        Err(SessionError::Unavailable(
            "the session owner kept stopping".into(),
        ))
    }

    /// Writes `cell` to the store and ends it here (shutdown), following an
    /// owner that hibernates or stops while the request is on its way.
    pub(crate) async fn retire(&self, cell: &Arc<SessionCell>) -> Result<(), SessionError> {
        for _ in 0..OWNER_ATTEMPTS {
            let Some(owner) = self.owner(cell, false) else {
                return Ok(()); // ended meanwhile: nothing left to persist
            };
            match owner.ask(Retire).await {
                Ok(Retired(result)) => return result,
                Err(_) if cell.lifecycle() == Lifecycle::Alive => tokio::task::yield_now().await,
                Err(_) => return Ok(()),
            }
        }
        Err(SessionError::Unavailable(
            "the session owner kept stopping".into(),
        ))
    }

    /// Asks the owner to re-check its clocks (and lazily persist the expiry).
    /// At most one such request is queued per session: under a hanging
    /// store each would retry the write-back for its full grace, one after
    /// the other, ahead of the changes (and a shutdown's retire) behind them.
    pub fn check_clocks(&self, cell: &Arc<SessionCell>) {
        if !cell.queue_clocks_check() {
            return;
        }
        let queued = self
            .owner(cell, false)
            .is_some_and(|owner| owner.tell(CheckClocks).try_send().is_ok());
        if !queued {
            cell.clocks_checked();
        }
    }
}
