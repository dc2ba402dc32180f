//! The session actor: the single owner of one live session.
//!
//! Every change to a session goes through its owner (in memory mode, a
//! change that finds no owner running is applied by its request under the
//! same locks: see [`super::batch::apply_inline`]). Requests queue their
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

use super::batch::{answer, apply_all, apply_in_memory, fail_all, Applied, Reply};
use crate::core::cell::{ActorArgs, Lifecycle, SessionActor};
use crate::core::change::{ChangeOutcome, MutateFn, PendingChange};
use crate::core::snapshot::Snapshot;
use crate::core::{expiry_refresh_due, Core};
use crate::error::SessionError;
use crate::metrics::{EndReason, StoreOp};
use crate::store::{Committed, SessionRecord, StoreError};
use kameo::error::Infallible;
use kameo::mailbox::{MailboxReceiver, Signal};
use kameo::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;

enum TimerOutcome {
    Continue,
    Stop,
    Deliver(Signal<SessionActor>),
}

impl Actor for SessionActor {
    type Args = ActorArgs;
    type Error = Infallible;

    async fn on_start(args: ActorArgs, _: ActorRef<Self>) -> Result<Self, Infallible> {
        // A clock check queued for an owner that stopped went with it.
        args.cell.clocks_checked();
        Ok(SessionActor {
            cell: args.cell,
            runtime: args.runtime,
            timer: Box::pin(tokio::time::sleep(Duration::ZERO)),
            last_message: if args.by_alarm {
                // Nothing to wait for: hibernate again unless something is due.
                Instant::now()
                    .checked_sub(Duration::from_secs(86_400))
                    .unwrap_or_else(Instant::now)
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
    pub(super) fn rt(&self) -> Option<Arc<Core>> {
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
    ///
    /// Activity only moves deadlines later, so a timer set for an earlier
    /// instant is left alone: it fires early, [`Self::on_timer`] finds
    /// nothing due and re-arms it then. Under steady traffic that is one
    /// wake-up per deadline instead of a timer reset on every message.
    fn rearm(&mut self) {
        let Some(rt) = self.rt() else { return };
        let now = Instant::now();
        let hibernate = self.last_message + Duration::from_millis(rt.hibernate_after_ms());
        let due = match rt.next_deadline(&self.cell) {
            Some(d) => {
                let wait = Duration::from_millis(d.saturating_sub(rt.now_ms()));
                hibernate.min(now + wait)
            }
            None => hibernate,
        };
        let set = self.timer.deadline();
        if due < set || set <= now {
            self.timer.as_mut().reset(due);
        }
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
            let seen = self.cell.last_access();
            let span = tracing::debug_span!("livesession.passivate", key = ?self.cell.key);
            match self.write_back(&rt, true).instrument(span).await {
                Ok(()) => {
                    // Closed to new loads from here on. A load that landed
                    // during the write moved the idle clock past what was
                    // written: the session is in use, so it stays live (a
                    // load after this point sees `Retired` and follows it).
                    // Decided under the owner lock: a request that looks for
                    // this owner (a change, a logout) never sees the
                    // `Retired` that is taken back, which it would take for
                    // a session that left memory.
                    let retired = {
                        let _slot = self.cell.owner();
                        self.cell.set_lifecycle(Lifecycle::Retired);
                        let unused = self.cell.last_access() == seen;
                        if !unused {
                            self.cell.set_lifecycle(Lifecycle::Alive);
                        }
                        unused
                    };
                    if retired {
                        self.end(&rt, Lifecycle::Retired).await;
                        return TimerOutcome::Stop;
                    }
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
            let queued = std::mem::take(&mut *self.cell.pending());
            if !queued.is_empty() {
                // Changes were queued (their nudge may still be on its way, or
                // lost): apply them now rather than sleep on them.
                drop(owner);
                self.last_message = Instant::now();
                if self.apply_batch(&rt, queued).await {
                    return TimerOutcome::Stop;
                }
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
    /// otherwise only one past the lazy-refresh threshold. Needs no flush
    /// when only the expiry moves: the data is durable already.
    pub(super) async fn write_back(&mut self, rt: &Core, exact: bool) -> Result<(), SessionError> {
        let Some(store) = rt.unbounded_store().filter(|_| !rt.is_shared()) else {
            // Without a store there is nothing to write; a shared store
            // extends the expiry itself on every request's touch.
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
        let key = self.cell.key;
        let write = async {
            store.save(&key, &record).await?;
            if behind {
                // The store held an unpublished write: make its undoing durable.
                store.flush().await?;
            }
            Ok(())
        };
        let (written, late) = write_to_end(rt, StoreOp::Save, write, || {}).await;
        if written.is_err() || late {
            // A write that ended late, or not at all, may still land.
            self.cell.set_store_behind(true);
        }
        written?;
        if behind && !late {
            self.cell.set_store_behind(false);
        }
        self.cell.set_stored_expiry(expiry);
        Ok(())
    }

    /// Leaves the registry for good (`Dead`: also deletes the stored record).
    pub(super) async fn end(&mut self, rt: &Core, how: Lifecycle) {
        match how {
            Lifecycle::Dead => crate::metrics::session_ended(EndReason::Expired),
            Lifecycle::Retired => crate::metrics::session_passivated(),
            Lifecycle::Alive => {}
        }
        if how == Lifecycle::Dead {
            if let Some(store) = rt.unbounded_store() {
                // If this fails the record is expired on disk anyway: activation
                // refuses it and the sweeper removes it.
                let key = self.cell.key;
                let (deleted, _) =
                    write_to_end(rt, StoreOp::Delete, store.delete(&key), || {}).await;
                if let Err(e) = deleted {
                    tracing::warn!(key = ?self.cell.key, error = %e, "could not delete an expired session record; the sweeper will retry");
                }
            }
        }
        rt.retire_cell(&self.cell, how);
    }

    /// Applies every queued change in one batch: one write, one flush (none
    /// when the store's completed writes are durable), one publish, then
    /// one reply per change. Changes whose request is gone
    /// (cancelled while queued) are skipped: nobody would learn of them.
    ///
    /// On a shared store the write is a compare-and-set on the version the
    /// batch was applied to: when another process wrote first, the batch is
    /// applied again on top of what it wrote (unless the write ended after
    /// its callers were answered with a timeout: then it fails). Returns
    /// `true` when the session turned out to have ended elsewhere (the owner
    /// must stop).
    pub(super) async fn apply_batch(&mut self, rt: &Core, batch: Vec<PendingChange>) -> bool {
        let (mut changes, mut replies): (Vec<MutateFn>, Vec<Reply>) = batch
            .into_iter()
            .filter(|p| !p.reply.is_closed())
            .map(|p| (p.change, p.reply))
            .unzip();
        crate::metrics::batch(changes.len());
        if rt.unbounded_store().is_none() {
            // Nothing to write or wait for.
            apply_in_memory(rt, &self.cell, changes, replies);
            return false;
        }
        let mut base = self.cell.current();
        for _ in 0..MAX_COMMIT_ATTEMPTS {
            let (record, mut applied, changed) = apply_all(rt, &self.cell, &base, &mut changes);
            if !changed {
                answer(replies, applied, &base);
                return false;
            }
            match self
                .persist(rt, &base, &record, &mut replies, &mut applied)
                .await
            {
                Persisted::Done(version) => {
                    let snapshot = Arc::new(Snapshot { version, record });
                    self.cell.snapshot.store(snapshot.clone());
                    answer(replies, applied, &snapshot);
                    return false;
                }
                Persisted::Conflict(current) => {
                    crate::metrics::store_conflict();
                    base = self.cell.adopt(current);
                }
                Persisted::Gone => {
                    // Ended by another process: nothing of the batch applies
                    // here; each request follows its change to a new session.
                    for (reply, change) in replies.into_iter().zip(changes) {
                        let _ = reply.send(ChangeOutcome::NotApplied(change));
                    }
                    rt.retire_cell(&self.cell, Lifecycle::Dead);
                    return true;
                }
                Persisted::Failed(why) => {
                    // Nothing is published and every change of the batch fails.
                    fail_all(&mut replies, std::mem::take(&mut applied), &why);
                    return false;
                }
            }
        }
        fail_all(
            &mut replies,
            Vec::new(),
            "the session kept changing elsewhere; try again",
        );
        false
    }

    /// Writes `record` (the batch applied to `base`) and waits for the flush
    /// (group commit with sync durability); on a shared store, a
    /// compare-and-set on `base`'s version. At the store deadline the
    /// batch's callers get their error, but the write runs to its end
    /// before the owner writes again. On failure (or a late end) the store
    /// may hold a write that was never published; the cell remembers that,
    /// so the next write-back undoes it (a shared store's is undone at once).
    async fn persist(
        &mut self,
        rt: &Core,
        base: &Snapshot,
        record: &SessionRecord,
        replies: &mut Vec<Reply>,
        applied: &mut Vec<Applied>,
    ) -> Persisted {
        let Some(store) = rt.unbounded_store() else {
            return Persisted::Done(base.version + 1);
        };
        let key = self.cell.key;
        let shared = rt.is_shared();
        let lifetime = rt.lifetime(record);
        let new_user = record
            .user
            .as_deref()
            .filter(|_| record.user != base.record.user);
        let write = async {
            if shared {
                return store
                    .commit(&key, base.version, record, lifetime, new_user)
                    .await;
            }
            store.save(&key, record).await?;
            // Nothing to wait for when the save answered once durable.
            if !store.completed_writes_are_durable() {
                store.flush().await?;
            }
            Ok(Committed::Done(base.version + 1))
        };
        // Formatted only when a write runs late, not on every write.
        let timed_out = || {
            format!(
                "session store save timed out after {} ms",
                rt.store_timeout().as_millis()
            )
        };
        let (written, late) = write_to_end(rt, StoreOp::Save, write, || {
            fail_all(replies, std::mem::take(applied), &timed_out())
        })
        .instrument(tracing::debug_span!("livesession.persist", key = ?key))
        .await;
        match written {
            Ok(Committed::Done(version)) if !late => {
                self.cell.set_stored_expiry(record.expires_at_ms);
                self.cell.set_store_behind(false);
                Persisted::Done(version)
            }
            Ok(Committed::Done(version)) => {
                tracing::error!(key = ?self.cell.key, "a session change was made durable only after its callers were answered with a timeout; it is not applied");
                if shared {
                    self.undo_late_commit(rt, version, &base.record).await;
                } else {
                    self.cell.set_store_behind(true);
                }
                Persisted::Failed(timed_out())
            }
            Ok(Committed::Conflict(current)) if late => {
                // Its callers were answered with a timeout: the batch must
                // not be applied again on the other process's write. What
                // that process wrote is published all the same.
                self.cell.adopt(current);
                Persisted::Failed(timed_out())
            }
            Ok(Committed::Conflict(current)) => Persisted::Conflict(current),
            Ok(Committed::Gone) => Persisted::Gone,
            Err(e) => {
                self.cell.set_store_behind(!shared);
                tracing::error!(key = ?self.cell.key, error = %e, "a session change could not be made durable; nothing of it was applied");
                Persisted::Failed(match e {
                    StoreError::Backend(why) => why.to_string(),
                    other => other.to_string(),
                })
            }
        }
    }

    /// Puts back the published record over a compare-and-set that landed
    /// after its callers were told it failed, so no process ever reads it.
    async fn undo_late_commit(&mut self, rt: &Core, landed: u64, published: &SessionRecord) {
        let Some(store) = rt.unbounded_store() else {
            return;
        };
        let key = self.cell.key;
        let undo = store.commit(&key, landed, published, rt.lifetime(published), None);
        match write_to_end(rt, StoreOp::Save, undo, || {}).await {
            (Ok(Committed::Done(version)), _) => {
                let current = self.cell.current();
                self.cell.adopt(crate::store::Versioned {
                    version,
                    record: current.record.clone(),
                });
            }
            (Ok(_), _) => {}
            (Err(e), _) => {
                tracing::error!(key = ?self.cell.key, error = %e, "could not undo a session change that landed after its timeout; other processes may read it");
            }
        }
    }
}

/// How many times a batch is applied again after losing a compare-and-set
/// to another process before its callers get an error.
const MAX_COMMIT_ATTEMPTS: usize = 16;

/// What became of a batch's write.
enum Persisted {
    /// Durable; the record's new version.
    Done(u64),
    /// Another process wrote first (shared store): apply again on this.
    Conflict(crate::store::Versioned),
    /// The session ended elsewhere (shared store).
    Gone,
    /// Failed or timed out: nothing is published.
    Failed(String),
}

/// How many more store deadlines an owner keeps waiting for one of its
/// writes after the first has passed, before it gives the write up.
const WRITE_GRACE_DEADLINES: u32 = 4;

/// Runs `write` (to the owner's own record) to its end instead of
/// abandoning it at the store deadline: a store may finish an abandoned
/// write later (the sled store does, on its blocking pool), where it would
/// overwrite a later one. When the deadline passes, `at_deadline` runs once
/// (the callers get their error then) and the owner goes on waiting, up to
/// [`WRITE_GRACE_DEADLINES`] more deadlines; a write still running then is
/// given up (and the cell marked as possibly behind its store). Returns the
/// write's result and whether it ended late.
pub(super) async fn write_to_end<T>(
    rt: &Core,
    op: StoreOp,
    write: impl std::future::Future<Output = Result<T, StoreError>>,
    at_deadline: impl FnOnce(),
) -> (Result<T, StoreError>, bool) {
    let started = std::time::Instant::now();
    let limit = rt.store_timeout();
    tokio::pin!(write);
    let (result, late) = match tokio::time::timeout(limit, &mut write).await {
        Ok(result) => (result, false),
        Err(_) => {
            at_deadline();
            let grace = limit * WRITE_GRACE_DEADLINES;
            let result = match tokio::time::timeout(grace, &mut write).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::backend(format!(
                    "session store {op} did not end within {} ms",
                    (limit + grace).as_millis()
                ))),
            };
            (result, true)
        }
    };
    crate::metrics::store_op(op, started.elapsed().as_secs_f64(), result.is_ok() && !late);
    (result, late)
}

#[cfg(test)]
mod tests {
    use super::WRITE_GRACE_DEADLINES;
    use crate::config::SessionConfig;
    use crate::metrics::STORE_OP_SECONDS_BUCKETS;

    #[test]
    fn the_store_buckets_hold_a_write_through_its_whole_grace() {
        let config = SessionConfig::builder()
            .secret("a secret of at least thirty-two bytes!")
            .build()
            .unwrap();
        let deadline = config.store_timeout.as_secs_f64();
        assert!(STORE_OP_SECONDS_BUCKETS.contains(&deadline));
        // A call cut at the deadline ends just after it, in a finite bucket.
        assert!(STORE_OP_SECONDS_BUCKETS.iter().any(|&b| b > deadline));
        // The owner's own writes: the deadline and WRITE_GRACE_DEADLINES more.
        let last = STORE_OP_SECONDS_BUCKETS.last().copied().unwrap_or_default();
        assert!(last > deadline * f64::from(1 + WRITE_GRACE_DEADLINES));
    }
}
