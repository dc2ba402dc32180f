//! The shared core below every other layer: the configuration, the
//! registry of live sessions, the alarm queue, revocation state, and the
//! pure rules (expiry, next deadline, cookie value, new id). The session
//! handle and the owners build on it; it depends on neither.
//!
//! [`Core`]'s behaviour is spread by concern: this module holds its state
//! and rules, `crate::owner` adds activation, owner hand-off and the
//! background tasks.

pub(crate) mod alarms;
pub(crate) mod cell;
pub(crate) mod change;
pub(crate) mod registry;
pub(crate) mod revocation;
pub(crate) mod snapshot;

use crate::clock::ms;
use crate::config::SessionConfig;
use crate::error::SessionError;
use crate::id::{is_valid_id, random_id};
use crate::store::{Lifetime, SessionKey, SessionRecord, SessionStore};
use alarms::Alarms;
use cell::{Lifecycle, SessionActor, SessionCell};
use change::{ChangeOutcome, PendingChange};
use kameo::actor::ActorRef;
use registry::Registry;
use revocation::{Binding, Bindings, RecentlyEnded};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::UNIX_EPOCH;

/// Shared state behind a [`SessionManager`](crate::SessionManager); owners
/// hold a weak reference.
pub(crate) struct Core {
    pub(crate) config: SessionConfig,
    pub(crate) registry: Registry,
    pub(crate) alarms: Arc<Alarms>,
    pub(crate) me: Weak<Core>,
    pub(crate) background_started: AtomicBool,
    shutting_down: AtomicBool,
    /// User bindings of sessions that exist only inside a request.
    pub(crate) bindings: Arc<Bindings>,
    /// Ids destroyed or regenerated away a moment ago.
    recently_ended: RecentlyEnded,
    /// When a store failure of a background task was last logged (Unix ms),
    /// so a failing store cannot flood the log.
    last_failure_log_ms: AtomicU64,
    /// The store is shared by several processes: it decides expiry, and
    /// every live session is validated against it on each request.
    shared: bool,
}

impl Core {
    /// A core for `config`.
    pub fn new(config: SessionConfig) -> Arc<Core> {
        let shared = config.store.as_ref().is_some_and(|s| s.is_shared());
        Arc::new_cyclic(|me| Core {
            shared,
            config,
            registry: Registry::default(),
            alarms: Arc::new(Alarms::default()),
            me: me.clone(),
            background_started: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            bindings: Arc::default(),
            recently_ended: RecentlyEnded::default(),
            last_failure_log_ms: AtomicU64::new(0),
        })
    }

    /// Whether [`shutdown`](crate::SessionManager::shutdown) has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// Refuses new sessions and activations from now on.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        // Paired with the fence an activation runs between settling its
        // session and checking this flag: shutdown's list of live sessions
        // has that session, or the activation sees the flag.
        std::sync::atomic::fence(Ordering::SeqCst);
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.config.store.as_ref()
    }

    /// The store without its deadline, for an owner's writes to its own
    /// record, which must run to their end.
    pub fn unbounded_store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.config.unbounded_store.as_ref()
    }

    /// Whether the store is shared by several processes (see
    /// [`SessionStore::is_shared`]).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// How long `record` lives, for a shared store to apply by its clock.
    pub fn lifetime(&self, record: &SessionRecord) -> Lifetime {
        Lifetime {
            idle_ms: self.max_age_ms(record),
            absolute_ms: self.config.absolute_timeout.map(ms),
        }
    }

    /// The deadline of one store call.
    pub fn store_timeout(&self) -> std::time::Duration {
        self.config.store_timeout
    }

    /// Now, by the configured clock (Unix ms).
    pub fn now_ms(&self) -> u64 {
        self.config.clock.now_ms()
    }

    pub fn alarms(&self) -> &Alarms {
        &self.alarms
    }

    pub fn passivate_after_ms(&self) -> u64 {
        ms(self.config.passivate_after)
    }

    pub fn hibernate_after_ms(&self) -> u64 {
        ms(self.config.hibernate_after)
    }

    /// The idle timeout of a session: its own override, else the configured one.
    pub fn max_age_ms(&self, record: &SessionRecord) -> Option<u64> {
        record
            .cookie_overrides()
            .max_age_ms
            .or_else(|| self.config.cookie.max_age.map(ms))
    }

    /// When a session last loaded at `last_access_ms` ends: the earlier of its
    /// idle end (or the fixed `expires`) and its absolute deadline.
    pub fn expires_at(&self, record: &SessionRecord, last_access_ms: u64) -> Option<u64> {
        let idle = match self.max_age_ms(record) {
            Some(m) => Some(last_access_ms.saturating_add(m)),
            None => self
                .config
                .cookie
                .expires
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(ms),
        };
        match (idle, record.absolute_deadline_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the live session `cell` has reached its end at `now_ms`.
    /// Never, by this process's clock, on a shared store: the store's clock
    /// decides, and each request asks it.
    pub fn is_expired(&self, cell: &SessionCell, now_ms: u64) -> bool {
        !self.shared && self.local_end(cell).is_some_and(|t| t <= now_ms)
    }

    /// When `cell` ends by this process's clock (`None` on a shared store).
    fn local_end(&self, cell: &SessionCell) -> Option<u64> {
        if self.shared {
            return None;
        }
        self.expires_at(&cell.current().record, cell.last_access())
    }

    /// When a live session is to be passivated: `passivate_after` after its
    /// last load, or later while failed passivations back off. `None`
    /// without a store.
    pub(crate) fn passivation_at(&self, cell: &SessionCell) -> Option<u64> {
        self.store()?;
        let idle = cell.last_access().saturating_add(self.passivate_after_ms());
        Some(idle.max(cell.passivation_retry_at()))
    }

    /// Whether `cell` is due for passivation at `now_ms`.
    pub fn passivation_due(&self, cell: &SessionCell, now_ms: u64) -> bool {
        self.passivation_at(cell).is_some_and(|t| t <= now_ms)
    }

    /// The next instant a live session needs its owner: its end, or (with a
    /// store) its passivation, whichever comes first.
    pub fn next_deadline(&self, cell: &SessionCell) -> Option<u64> {
        let end = self.local_end(cell);
        match (end, self.passivation_at(cell)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Registers that a session only inside a request is bound to `user`,
    /// so a `revoke_user` that runs before it is created reaches it.
    pub fn bind(&self, user: &str) -> Binding {
        self.bindings.bind(user)
    }

    /// Remembers that `key` was destroyed or regenerated away just now.
    pub fn note_ended(&self, key: SessionKey) {
        self.recently_ended.insert(key, self.now_ms());
    }

    /// Remembers that another process ended `key` (a logout or regenerate)
    /// `ago_ms` ago, if that is recent enough to count as a moment ago here.
    pub fn note_ended_elsewhere(&self, key: SessionKey, ago_ms: u64) {
        self.recently_ended.insert_ago(key, self.now_ms(), ago_ms);
    }

    /// Whether `key` was destroyed or regenerated away a moment ago.
    pub fn ended_recently(&self, key: &SessionKey) -> bool {
        self.recently_ended.contains(key, self.now_ms())
    }

    /// Runs `log` unless a background store failure was logged less than a
    /// second ago.
    pub fn log_store_failure(&self, now_ms: u64, log: impl FnOnce()) {
        let last = self.last_failure_log_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) >= 1000
            && self
                .last_failure_log_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log();
        }
    }

    /// Ends `cell` here (`Dead` or `Retired`): marks it, hands every queued
    /// change back unapplied, cancels its alarm and frees its registry slot.
    /// Returns the owner it took out of the slot (the caller's own actor
    /// when an owner retires its cell): once the cell is marked, no request
    /// can start another, so a caller outside the owner that kills the one
    /// returned leaves none running.
    pub fn retire_cell(
        &self,
        cell: &Arc<SessionCell>,
        how: Lifecycle,
    ) -> Option<ActorRef<SessionActor>> {
        cell.set_lifecycle(how);
        let (owner, queued) = {
            // Under the owner lock: a request that queues a change or starts
            // an owner checks the lifecycle under it too, so none is left
            // behind.
            let mut owner = cell.owner();
            (owner.take(), std::mem::take(&mut *cell.pending()))
        };
        for PendingChange { change, reply, .. } in queued {
            let _ = reply.send(ChangeOutcome::NotApplied(change));
        }
        self.alarms.cancel(cell);
        self.registry.remove(cell);
        owner
    }

    /// The cookie value for `id`: prefix + signed id.
    pub fn cookie_value(&self, id: &str) -> String {
        let signed = self.config.signer.sign(id);
        let mut v = String::with_capacity(self.config.cookie_prefix.len() + signed.len());
        v.push_str(&self.config.cookie_prefix);
        v.push_str(&signed);
        v
    }

    pub(crate) fn new_id(&self) -> Result<String, SessionError> {
        match &self.config.id_generator {
            None => Ok(random_id()),
            Some(generate) => {
                let id = generate();
                if is_valid_id(&id) {
                    Ok(id)
                } else {
                    Err(SessionError::Invalid(format!(
                        "the id generator returned an invalid id ({} chars)",
                        id.len()
                    )))
                }
            }
        }
    }

    /// Parks the first alarm of an ownerless live session.
    pub(crate) fn park_alarm(&self, cell: &Arc<SessionCell>) {
        if let Some(at) = self.next_deadline(cell) {
            self.alarms.set(cell, at);
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
