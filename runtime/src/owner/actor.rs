//! The session actor: the single owner of one live session.
//!
//! Every change to a session goes through its owner. Requests queue their
//! changes in the session's cell and nudge the owner, which applies
//! everything queued in one turn (a batch): in order, each on the result of
//! the one before, so concurrent requests never overwrite each other. It
//! then writes the batch once, waits for the store's flush, and only then
//! publishes the new snapshot and answers every caller: what any request
//! sees is durable, and a failed write or flush publishes nothing and fails
//! the whole batch.
//!
//! The owner also keeps the session's clocks: while it runs, one timer raced
//! against the mailbox inside its own loop (no task per timer) wakes it for
//! idle expiry, the absolute deadline, passivation and hibernation. After
//! `hibernate_after` without messages it parks its next deadline in the
//! shared alarm queue and stops; the session stays live in its cell, and the
//! next change (or the alarm) spawns a new owner.

use crate::core::cell::{ActorArgs, Lifecycle, SessionActor};
use crate::core::change::{ChangeOutcome, Ending, MutateFn, MutatedOk, PendingChange};
use crate::core::snapshot::Snapshot;
use crate::core::{expiry_refresh_due, Core};
use crate::error::SessionError;
use crate::metrics::EndReason;
use crate::store::{SessionRecord, StoreError};
use kameo::error::Infallible;
use kameo::mailbox::{MailboxReceiver, Signal};
use kameo::message::{Context, Message};
use kameo::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

enum TimerOutcome {
    Continue,
    Stop,
    Deliver(Signal<SessionActor>),
}

impl Actor for SessionActor {
    type Args = ActorArgs;
    type Error = Infallible;

    async fn on_start(args: ActorArgs, _: ActorRef<Self>) -> Result<Self, Infallible> {
        Ok(SessionActor {
            cell: args.cell,
            runtime: args.runtime,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            last_message: if args.by_alarm {
                // Nothing to wait for: hibernate again unless something is due.
                Instant::now() - Duration::from_secs(86_400)
            } else {
                Instant::now()
            },
        })
    }

    async fn next(
        &mut self,
        _: WeakActorRef<Self>,
        mailbox: &mut MailboxReceiver<Self>,
    ) -> Result<Option<Signal<Self>>, Infallible> {
        self.rearm();
        loop {
            tokio::select! {
                biased;
                signal = mailbox.recv() => {
                    if let Some(signal) = &signal {
                        self.note(signal);
                    }
                    return Ok(signal);
                }
                _ = &mut self.timer => match self.on_timer(mailbox).await {
                    TimerOutcome::Continue => self.rearm(),
                    TimerOutcome::Stop => return Ok(None),
                    TimerOutcome::Deliver(signal) => {
                        self.note(&signal);
                        return Ok(Some(signal));
                    }
                },
            }
        }
    }
}

impl SessionActor {
    fn rt(&self) -> Option<Arc<Core>> {
        self.runtime.upgrade()
    }

    /// Hibernation counts from the last message; kameo's own lifecycle
    /// signals (such as the one that ends startup) do not count.
    fn note(&mut self, signal: &Signal<Self>) {
        if matches!(signal, Signal::Message { .. }) {
            self.last_message = Instant::now();
        }
    }

    /// Sets the timer to the next instant something may be due.
    fn rearm(&mut self) {
        let Some(rt) = self.rt() else { return };
        let hibernate = self.last_message + Duration::from_millis(rt.hibernate_after_ms());
        let due = match rt.next_deadline(&self.cell) {
            Some(d) => {
                let wait = Duration::from_millis(d.saturating_sub(rt.now_ms()));
                hibernate.min(Instant::now() + wait)
            }
            None => hibernate,
        };
        self.timer.as_mut().reset(due);
    }

    /// Handles a timer wake-up.
    async fn on_timer(&mut self, mailbox: &mut MailboxReceiver<Self>) -> TimerOutcome {
        let Some(rt) = self.rt() else {
            return TimerOutcome::Stop;
        };
        let now = rt.now_ms();
        if rt.is_expired(&self.cell, now) {
            self.end(&rt, Lifecycle::Dead).await;
            return TimerOutcome::Stop;
        }
        if rt.passivation_due(&self.cell, now) {
            match self.write_back(&rt, true).await {
                Ok(()) => {
                    self.end(&rt, Lifecycle::Retired).await;
                    return TimerOutcome::Stop;
                }
                Err(e) => {
                    // Back off (1 s doubling up to 1 min), and log at most
                    // once per second across all sessions.
                    let failures = self.cell.passivation_failed(now);
                    rt.log_store_failure(now, || {
                        tracing::error!(key = ?self.cell.key, failures, error = %e, "passivation failed; the session stays live and is retried later");
                    });
                }
            }
        }
        if self.last_message + Duration::from_millis(rt.hibernate_after_ms()) <= Instant::now() {
            // Hibernate, unless a message or a change slipped in: checked
            // under the owner lock, so a request either finds this owner's
            // slot empty (and spawns a new one) or its message is delivered
            // here. The alarm is parked under the same lock, so an end that
            // takes the lock next also cancels it.
            let mut owner = self.cell.owner();
            if !self.cell.pending().is_empty() {
                // A change was queued and its nudge is on the way: stay up.
                self.last_message = Instant::now();
                return TimerOutcome::Continue;
            }
            match mailbox.try_recv() {
                Ok(signal) => return TimerOutcome::Deliver(signal),
                Err(_) => {
                    *owner = None;
                    if let Some(at) = rt.next_deadline(&self.cell) {
                        rt.alarms().set(&self.cell, at);
                    }
                    return TimerOutcome::Stop;
                }
            }
        }
        TimerOutcome::Continue
    }

    /// Writes the published snapshot with its fresh expiry to the store if
    /// the store lags behind. With `exact`, any expiry difference counts;
    /// otherwise only one past the lazy-refresh threshold. Needs no flush:
    /// the data is durable already, only the expiry moves.
    async fn write_back(&mut self, rt: &Core, exact: bool) -> Result<(), SessionError> {
        let Some(store) = rt.store() else {
            return Ok(());
        };
        let snap = self.cell.current();
        let expiry = rt.expires_at(&snap.record, self.cell.last_access());
        let stored = self.cell.stored_expiry();
        let moved = if exact {
            expiry != stored
        } else {
            expiry_refresh_due(stored, expiry, rt.max_age_ms(&snap.record))
        };
        let behind = self.cell.store_behind();
        if !moved && !behind {
            return Ok(());
        }
        let mut record = snap.record.clone();
        record.expires_at_ms = expiry;
        store.save(&self.cell.key, &record).await?;
        if behind {
            // The store held an unpublished write: make its undoing durable.
            store.flush().await?;
            self.cell.set_store_behind(false);
        }
        self.cell.set_stored_expiry(expiry);
        Ok(())
    }

    /// Leaves the registry for good (`Dead`: also deletes the stored record).
    async fn end(&mut self, rt: &Core, how: Lifecycle) {
        match how {
            Lifecycle::Dead => crate::metrics::session_ended(EndReason::Expired),
            Lifecycle::Retired => crate::metrics::session_passivated(),
            Lifecycle::Alive => {}
        }
        if how == Lifecycle::Dead {
            if let Some(store) = rt.store() {
                // If this fails the record is expired on disk anyway: activation
                // refuses it and the sweeper removes it.
                if let Err(e) = store.delete(&self.cell.key).await {
                    tracing::warn!(key = ?self.cell.key, error = %e, "could not delete an expired session record; the sweeper will retry");
                }
            }
        }
        rt.retire_cell(&self.cell, how);
    }

    /// Applies every queued change in one batch: one write, one flush, one
    /// publish, then one reply per change.
    async fn apply_batch(&mut self, rt: &Core, batch: Vec<PendingChange>) {
        let current = self.cell.current();
        let mut record = current.record.clone();
        crate::metrics::batch(batch.len());
        let mut outcomes = Vec::with_capacity(batch.len());
        for PendingChange { change, reply } in batch {
            let applied = apply_one(rt, &mut record, change);
            outcomes.push((reply, applied));
        }
        let changed = record.data != current.record.data
            || record.user != current.record.user
            || record.cookie != current.record.cookie;
        let snapshot = if changed {
            record.expires_at_ms = rt.expires_at(&record, self.cell.last_access());
            match self.persist(rt, &record).await {
                Ok(()) => {
                    let snapshot = Arc::new(Snapshot {
                        version: current.version + 1,
                        record,
                    });
                    self.cell.snapshot.store(snapshot.clone());
                    snapshot
                }
                Err(why) => {
                    // Nothing is published and every change of the batch fails.
                    for (reply, applied) in outcomes {
                        let outcome = match applied {
                            Ok(_) => Err(SessionError::Store(StoreError::Backend(why.clone()))),
                            Err(own) => Err(own),
                        };
                        let _ = reply.send(ChangeOutcome::Applied(outcome));
                    }
                    return;
                }
            }
        } else {
            current
        };
        for (reply, applied) in outcomes {
            let outcome = applied.map(|(value, data_changed)| MutatedOk {
                snapshot: snapshot.clone(),
                value,
                data_changed,
            });
            let _ = reply.send(ChangeOutcome::Applied(outcome));
        }
    }

    /// Writes `record` and waits for the flush (group commit with sync
    /// durability). On failure the store may hold a write that was never
    /// published; the cell remembers that, so the next write-back undoes it.
    async fn persist(&mut self, rt: &Core, record: &SessionRecord) -> Result<(), String> {
        let Some(store) = rt.store() else {
            return Ok(());
        };
        let written = match store.save(&self.cell.key, record).await {
            Ok(()) => store.flush().await,
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => {
                self.cell.set_stored_expiry(record.expires_at_ms);
                self.cell.set_store_behind(false);
                Ok(())
            }
            Err(e) => {
                self.cell.set_store_behind(true);
                tracing::error!(key = ?self.cell.key, error = %e, "a session change could not be made durable; nothing of it was applied");
                Err(match e {
                    StoreError::Backend(why) => why,
                    other => other.to_string(),
                })
            }
        }
    }
}

/// Applies one change to the batch's working record; on error (or panic)
/// the record is left as it was. Returns the change's value and whether it
/// changed the data or user binding.
fn apply_one(
    rt: &Core,
    record: &mut SessionRecord,
    change: MutateFn,
) -> Result<(Option<serde_json::Value>, bool), SessionError> {
    let mut next = record.clone();
    let value = match catch_unwind(AssertUnwindSafe(|| change(&mut next))) {
        Ok(r) => r?,
        Err(_) => return Err(SessionError::UpdatePanicked),
    };
    if next.data != record.data {
        rt.config().limits.check(&next.data)?;
    }
    let data_changed = next.data != record.data || next.user != record.user;
    *record = next;
    Ok((value, data_changed))
}

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
        if !batch.is_empty() {
            self.apply_batch(&rt, batch).await;
        }
    }
}

/// Destroy the session. A revoke destroys it only if it is bound to that
/// user and unexpired. Replies with the final record when it was destroyed.
pub(crate) struct Destroy(pub Ending);

/// The outcome of a [`Destroy`].
#[derive(Reply)]
pub(crate) struct Destroyed(pub Result<Option<SessionRecord>, SessionError>);

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
        if let Ending::Revoke(user) = &ending {
            let snap = self.cell.current();
            if snap.record.user.as_deref() != Some(user) || rt.is_expired(&self.cell, rt.now_ms()) {
                return Destroyed(Ok(None));
            }
        }
        if let Some(store) = rt.store() {
            // Delete first: if the store fails, the session stays as it was.
            if let Err(e) = store.delete(&self.cell.key).await {
                return Destroyed(Err(e.into()));
            }
        }
        if !matches!(ending, Ending::Revoke(_)) {
            // A logout or regenerate: a browser's request still carrying the
            // id must not clear the cookie that replaces it.
            rt.note_ended(self.cell.key);
        }
        crate::metrics::session_ended(ending.reason());
        rt.retire_cell(&self.cell, Lifecycle::Dead);
        ctx.stop();
        let last = self.cell.current().record.clone();
        if let Some(store) = rt.store() {
            // Ended here at once; acknowledged only once the delete is durable.
            if let Err(e) = store.flush().await {
                return Destroyed(Err(e.into()));
            }
        }
        Destroyed(Ok(Some(last)))
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
        let Some(rt) = self.rt() else { return };
        if rt.is_expired(&self.cell, rt.now_ms()) {
            self.end(&rt, Lifecycle::Dead).await;
            ctx.stop();
            return;
        }
        if let Err(e) = self.write_back(&rt, false).await {
            tracing::warn!(key = ?self.cell.key, error = %e, "could not persist an idle-expiry extension");
        }
    }
}
