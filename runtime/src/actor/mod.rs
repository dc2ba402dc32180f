//! The session actor: the single owner of one live session.
//!
//! Every change to a session is a message to its owner, applied one at a
//! time on the latest state, so concurrent requests never overwrite each
//! other. The owner also keeps the session's clocks: while it runs, one
//! timer raced against the mailbox inside its own loop (no task per timer)
//! wakes it for idle expiry, the absolute deadline, passivation and
//! hibernation. After `hibernate_after` without messages it parks its next
//! deadline in the shared [`alarms`] queue and stops; the session stays live
//! in its [`cell`], and the next change (or the alarm) spawns a new owner.

pub(crate) mod alarms;
pub(crate) mod cell;

use crate::error::SessionError;
use crate::manager::Runtime;
use crate::store::SessionRecord;
use cell::{Lifecycle, SessionCell, Snapshot};
use kameo::error::Infallible;
use kameo::mailbox::{MailboxReceiver, Signal};
use kameo::message::{Context, Message};
use kameo::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How long a failed passivation waits before it is tried again.
const PASSIVATION_RETRY: Duration = Duration::from_secs(1);

/// A change to apply to the session record. Returns an optional value for the
/// caller (e.g. the result of an `update`).
pub(crate) type MutateFn =
    Box<dyn FnOnce(&mut SessionRecord) -> Result<Option<serde_json::Value>, SessionError> + Send>;

/// The owner of one live session.
pub(crate) struct SessionActor {
    cell: Arc<SessionCell>,
    runtime: Weak<Runtime>,
    timer: Pin<Box<Sleep>>,
    /// When the last message arrived; hibernation counts from here.
    last_message: Instant,
}

/// What an owner is started with.
pub(crate) struct ActorArgs {
    pub cell: Arc<SessionCell>,
    pub runtime: Weak<Runtime>,
    /// Started by its alarm rather than for a message: hibernate again at
    /// once unless something is due.
    pub by_alarm: bool,
}

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
                    self.last_message = Instant::now();
                    return Ok(signal);
                }
                _ = &mut self.timer => match self.on_timer(mailbox).await {
                    TimerOutcome::Continue => self.rearm(),
                    TimerOutcome::Stop => return Ok(None),
                    TimerOutcome::Deliver(signal) => {
                        self.last_message = Instant::now();
                        return Ok(Some(signal));
                    }
                },
            }
        }
    }
}

impl SessionActor {
    fn rt(&self) -> Option<Arc<Runtime>> {
        self.runtime.upgrade()
    }

    /// The next instant the session itself needs attention: expiry or
    /// (with a store) passivation.
    fn session_deadline(&self, rt: &Runtime) -> Option<u64> {
        let snap = self.cell.current();
        let last = self.cell.last_access();
        let expiry = rt.expires_at(&snap.record, last);
        if rt.store().is_some() {
            let passivate = last.saturating_add(rt.passivate_after_ms());
            Some(expiry.map_or(passivate, |d| d.min(passivate)))
        } else {
            expiry
        }
    }

    /// Sets the timer to the next instant something may be due.
    fn rearm(&mut self) {
        let Some(rt) = self.rt() else { return };
        let hibernate = self.last_message + Duration::from_millis(rt.hibernate_after_ms());
        let due = match self.session_deadline(&rt) {
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
        let snap = self.cell.current();
        if rt
            .expires_at(&snap.record, self.cell.last_access())
            .is_some_and(|t| t <= now)
        {
            self.end(&rt, Lifecycle::Dead).await;
            return TimerOutcome::Stop;
        }
        if rt.store().is_some()
            && self
                .cell
                .last_access()
                .saturating_add(rt.passivate_after_ms())
                <= now
        {
            match self.write_back(&rt, true).await {
                Ok(()) => {
                    self.end(&rt, Lifecycle::Retired).await;
                    return TimerOutcome::Stop;
                }
                Err(e) => {
                    tracing::error!(key = ?self.cell.key, error = %e, "passivation failed; the session stays live and is retried");
                    self.timer
                        .as_mut()
                        .reset(Instant::now() + PASSIVATION_RETRY);
                    return TimerOutcome::Continue;
                }
            }
        }
        if self.last_message + Duration::from_millis(rt.hibernate_after_ms()) <= Instant::now() {
            // Hibernate, unless a message slipped in: checked under the owner
            // lock, so a request either finds this owner's slot empty (and
            // spawns a new one) or its message is delivered here.
            let mut owner = self.cell.owner();
            match mailbox.try_recv() {
                Ok(signal) => return TimerOutcome::Deliver(signal),
                Err(_) => {
                    *owner = None;
                    drop(owner);
                    if let Some(at) = self.session_deadline(&rt) {
                        rt.alarms().set(&self.cell, at);
                    }
                    return TimerOutcome::Stop;
                }
            }
        }
        TimerOutcome::Continue
    }

    /// Writes the current snapshot with its fresh expiry to the store if the
    /// stored expiry lags behind. With `exact`, any difference counts;
    /// otherwise only one past the lazy-refresh threshold.
    async fn write_back(&mut self, rt: &Runtime, exact: bool) -> Result<(), SessionError> {
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
        if !moved {
            return Ok(());
        }
        let mut record = snap.record.clone();
        record.expires_at_ms = expiry;
        store.save(&self.cell.key, &record).await?;
        self.cell.set_stored_expiry(expiry);
        Ok(())
    }

    /// Leaves the registry for good (`Dead`: also deletes the stored record).
    async fn end(&mut self, rt: &Runtime, how: Lifecycle) {
        if how == Lifecycle::Dead {
            if let Some(store) = rt.store() {
                // If this fails the record is expired on disk anyway: activation
                // refuses it and the sweeper removes it.
                if let Err(e) = store.delete(&self.cell.key).await {
                    tracing::warn!(key = ?self.cell.key, error = %e, "could not delete an expired session record; the sweeper will retry");
                }
            }
        }
        self.retire(rt, how);
    }

    /// Marks the session ended and leaves the registry.
    fn retire(&self, rt: &Runtime, how: Lifecycle) {
        self.cell.set_lifecycle(how);
        *self.cell.owner() = None;
        rt.alarms().cancel(&self.cell);
        rt.registry().remove(&self.cell);
    }
}

/// Apply a change (insert, remove, clear, update, options, bind).
pub(crate) struct Mutate(pub MutateFn);

/// The outcome of a [`Mutate`]: `Ok(None)` when the session had reached its
/// deadline (it is ended instead, and the change not applied).
#[derive(Reply)]
pub(crate) struct Mutated {
    pub result: Result<Option<MutatedOk>, SessionError>,
}

/// A successful [`Mutate`].
pub(crate) struct MutatedOk {
    pub snapshot: Arc<Snapshot>,
    pub value: Option<serde_json::Value>,
    /// Session data or user binding changed (fastify's `isModified`).
    pub data_changed: bool,
}

impl Message<Mutate> for SessionActor {
    type Reply = Mutated;

    async fn handle(&mut self, Mutate(f): Mutate, ctx: &mut Context<Self, Mutated>) -> Mutated {
        if let Some(rt) = self.rt() {
            let snap = self.cell.current();
            if rt
                .expires_at(&snap.record, self.cell.last_access())
                .is_some_and(|t| t <= rt.now_ms())
            {
                // The timer has not fired yet, but the session is over.
                self.end(&rt, Lifecycle::Dead).await;
                ctx.stop();
                return Mutated { result: Ok(None) };
            }
        }
        Mutated {
            result: self.mutate(f).await.map(Some),
        }
    }
}

impl SessionActor {
    async fn mutate(&mut self, f: MutateFn) -> Result<MutatedOk, SessionError> {
        let rt = self
            .rt()
            .ok_or_else(|| SessionError::Unavailable("shut down".into()))?;
        let current = self.cell.current();
        let mut record = current.record.clone();
        let value = match catch_unwind(AssertUnwindSafe(|| f(&mut record))) {
            Ok(r) => r?,
            Err(_) => return Err(SessionError::UpdatePanicked),
        };
        let data_changed = record.data != current.record.data || record.user != current.record.user;
        if record.data != current.record.data {
            rt.config().limits.check(&record.data)?;
        }
        if !data_changed && record.cookie == current.record.cookie {
            return Ok(MutatedOk {
                snapshot: current,
                value,
                data_changed,
            });
        }
        let expiry = rt.expires_at(&record, self.cell.last_access());
        record.expires_at_ms = expiry;
        if let Some(store) = rt.store() {
            // Store first, publish second: a failed write changes nothing.
            store.save(&self.cell.key, &record).await?;
            self.cell.set_stored_expiry(expiry);
        }
        let snapshot = Arc::new(Snapshot {
            version: current.version + 1,
            record,
        });
        self.cell.snapshot.store(snapshot.clone());
        Ok(MutatedOk {
            snapshot,
            value,
            data_changed,
        })
    }
}

/// Destroy the session (logout, regenerate, revoke). With `only_user`, only
/// if it is bound to that user and unexpired. Replies with the final record
/// when it was destroyed.
pub(crate) struct Destroy {
    pub only_user: Option<String>,
}

/// The outcome of a [`Destroy`].
#[derive(Reply)]
pub(crate) struct Destroyed(pub Result<Option<SessionRecord>, SessionError>);

impl Message<Destroy> for SessionActor {
    type Reply = Destroyed;

    async fn handle(&mut self, msg: Destroy, ctx: &mut Context<Self, Destroyed>) -> Destroyed {
        let Some(rt) = self.rt() else {
            return Destroyed(Err(SessionError::Unavailable("shut down".into())));
        };
        if let Some(user) = &msg.only_user {
            let snap = self.cell.current();
            let expired = rt
                .expires_at(&snap.record, self.cell.last_access())
                .is_some_and(|t| t <= rt.now_ms());
            if snap.record.user.as_deref() != Some(user) || expired {
                return Destroyed(Ok(None));
            }
        }
        if let Some(store) = rt.store() {
            // Delete durably first: if the store fails, the session stays as it was.
            if let Err(e) = store.delete(&self.cell.key).await {
                return Destroyed(Err(e.into()));
            }
        }
        self.retire(&rt, Lifecycle::Dead);
        ctx.stop();
        Destroyed(Ok(Some(self.cell.current().record.clone())))
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
        self.retire(&rt, Lifecycle::Retired);
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
        let snap = self.cell.current();
        if rt
            .expires_at(&snap.record, self.cell.last_access())
            .is_some_and(|t| t <= rt.now_ms())
        {
            self.end(&rt, Lifecycle::Dead).await;
            ctx.stop();
            return;
        }
        if let Err(e) = self.write_back(&rt, false).await {
            tracing::warn!(key = ?self.cell.key, error = %e, "could not persist an idle-expiry extension");
        }
    }
}

/// Whether `stored` lags the live expiry by more than a quarter of `max_age`:
/// the point where a read makes the owner refresh the stored expiry.
pub(crate) fn expiry_refresh_due(
    stored: Option<u64>,
    live: Option<u64>,
    max_age_ms: Option<u64>,
) -> bool {
    match (stored, live, max_age_ms) {
        (Some(s), Some(l), Some(m)) => l.saturating_sub(s) > m / 4,
        _ => false,
    }
}
