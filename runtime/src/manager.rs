//! The entry point: [`SessionManager`] turns requests into [`Session`]
//! handles and owns the registry, the store and the background sweeper.

use crate::actor::alarms::Alarms;
use crate::actor::cell::{Lifecycle, SessionCell};
use crate::actor::{
    ActorArgs, ApplyPending, ChangeOutcome, CheckClocks, Destroy, Destroyed, Ending, MutateFn,
    MutatedOk, PendingChange, Retire, Retired, SessionActor,
};
use crate::clock::ms;
use crate::config::SessionConfig;
use crate::cookie::find_cookie;
use crate::error::SessionError;
use crate::id::{is_valid_id, random_id};
use crate::metrics::EndReason;
use crate::registry::{Activation, Registry, Slot};
use crate::revocation::{Binding, Bindings, RecentlyEnded};
use crate::session::Session;
use crate::store::{SessionKey, SessionRecord, SessionStore, StoreError};
use kameo::actor::{ActorRef, Spawn};
use kameo::mailbox;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Capacity of each session's mailbox: concurrent requests beyond it wait
/// (back-pressure) instead of growing memory.
const MAILBOX_CAPACITY: usize = 64;

/// How long a request waits for a session that is being written out
/// (passivation) before giving up with an error.
const RETIRE_WAIT: Duration = Duration::from_secs(10);

/// Changes one session may have queued for its owner at once; beyond it a
/// change fails with [`SessionError::Unavailable`] instead of growing memory.
const MAX_PENDING_CHANGES: usize = 4096;

/// How many owners a message tries before giving up (an owner that
/// hibernates while a message is on its way is replaced by a new one).
const OWNER_ATTEMPTS: usize = 16;

/// What an adapter extracts from a request.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestInfo<'a> {
    /// The `Cookie` header (several joined with `"; "`), if any.
    pub cookie_header: Option<&'a str>,
    /// The request path, without the query string.
    pub path: &'a str,
    /// Whether the connection itself is TLS.
    pub tls: bool,
    /// The `X-Forwarded-Proto` header, honoured only with trust proxy.
    pub forwarded_proto: Option<&'a str>,
}

/// Counts for monitoring (the demos' `GET /stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Session actors alive now (plus any being activated).
    pub live: u64,
    /// Records in the durable store (0 without one).
    pub stored: u64,
}

/// Shared state behind a [`SessionManager`]; actors hold a weak reference.
pub(crate) struct Runtime {
    config: SessionConfig,
    registry: Registry,
    alarms: Arc<Alarms>,
    me: Weak<Runtime>,
    background_started: AtomicBool,
    shutting_down: AtomicBool,
    /// User bindings of sessions that exist only inside a request.
    bindings: Arc<Bindings>,
    /// Ids destroyed or regenerated away a moment ago.
    recently_ended: RecentlyEnded,
    /// When a store failure of a background task was last logged (Unix ms),
    /// so a failing store cannot flood the log.
    last_failure_log_ms: AtomicU64,
}

impl Runtime {
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.config.store.as_ref()
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
            .cookie
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
    pub fn is_expired(&self, cell: &SessionCell, now_ms: u64) -> bool {
        self.expires_at(&cell.current().record, cell.last_access())
            .is_some_and(|t| t <= now_ms)
    }

    /// When a live session is to be passivated: `passivate_after` after its
    /// last load, or later while failed passivations back off. `None`
    /// without a store.
    fn passivation_at(&self, cell: &SessionCell) -> Option<u64> {
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
        let end = self.expires_at(&cell.current().record, cell.last_access());
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
    pub fn retire_cell(&self, cell: &Arc<SessionCell>, how: Lifecycle) {
        cell.set_lifecycle(how);
        let queued = {
            // Under the owner lock: a request that queues a change checks the
            // lifecycle under it too, so none is left behind.
            let mut owner = cell.owner();
            *owner = None;
            std::mem::take(&mut *cell.pending())
        };
        for PendingChange { change, reply } in queued {
            let _ = reply.send(ChangeOutcome::NotApplied(change));
        }
        self.alarms.cancel(cell);
        self.registry.remove(cell);
    }

    /// The cookie value for `id`: prefix + signed id.
    pub fn cookie_value(&self, id: &str) -> String {
        let signed = self.config.signer.sign(id);
        let mut v = String::with_capacity(self.config.cookie_prefix.len() + signed.len());
        v.push_str(&self.config.cookie_prefix);
        v.push_str(&signed);
        v
    }

    fn new_id(&self) -> Result<String, SessionError> {
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

    /// The running owner of `cell`, spawned if it has none. `None` when the
    /// session has ended.
    pub fn owner(&self, cell: &Arc<SessionCell>, by_alarm: bool) -> Option<ActorRef<SessionActor>> {
        let mut slot = cell.owner();
        self.owner_locked(cell, &mut slot, by_alarm)
    }

    fn owner_locked(
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
    pub async fn mutate(
        &self,
        cell: &Arc<SessionCell>,
        change: MutateFn,
    ) -> Result<Result<MutatedOk, MutateFn>, SessionError> {
        let (reply, outcome) = oneshot::channel();
        let nudge = {
            let mut slot = cell.owner();
            let Some(owner) = self.owner_locked(cell, &mut slot, false) else {
                return Ok(Err(change));
            };
            let mut pending = cell.pending();
            if pending.len() >= MAX_PENDING_CHANGES {
                return Err(SessionError::Unavailable(
                    "too many concurrent changes to one session".into(),
                ));
            }
            pending.push(PendingChange { change, reply });
            // Only the change that finds the queue empty nudges the owner:
            // one message drains everything queued by then.
            (pending.len() == 1).then_some(owner)
        };
        if let Some(owner) = nudge {
            self.nudge(cell, owner).await;
        }
        match outcome.await {
            Ok(ChangeOutcome::Applied(result)) => result.map(Ok),
            Ok(ChangeOutcome::NotApplied(change)) => Ok(Err(change)),
            Err(_) => Err(SessionError::Unavailable(
                "the session owner stopped during a change".into(),
            )),
        }
    }

    /// Tells the owner of `cell` to apply its queued changes; an owner that
    /// stopped meanwhile is replaced, so queued changes are never stranded.
    async fn nudge(&self, cell: &Arc<SessionCell>, owner: ActorRef<SessionActor>) {
        let mut owner = owner;
        for _ in 0..OWNER_ATTEMPTS {
            if owner.tell(ApplyPending).send().await.is_ok() {
                return;
            }
            match self.owner(cell, false) {
                Some(next) => owner = next,
                // Ended: `retire_cell` handed the queued changes back.
                None => return,
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
    /// Returns the final record, or `None` if it had ended or did not match.
    pub async fn destroy(
        &self,
        cell: &Arc<SessionCell>,
        ending: Ending,
    ) -> Result<Option<SessionRecord>, SessionError> {
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
    async fn retire(&self, cell: &Arc<SessionCell>) -> Result<(), SessionError> {
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
    pub fn check_clocks(&self, cell: &Arc<SessionCell>) {
        if let Some(owner) = self.owner(cell, false) {
            let _ = owner.tell(CheckClocks).try_send();
        }
    }

    /// A brand-new live session with a fresh server-made id holding `record`
    /// (already containing its first change, if any), durable before it is
    /// returned. `Ok(None)`: its user `binding` was revoked meanwhile, so it
    /// was not created.
    pub async fn create(
        &self,
        mut record: SessionRecord,
        binding: Option<&Binding>,
    ) -> Result<Option<Arc<SessionCell>>, SessionError> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err(SessionError::Unavailable("shutting down".into()));
        }
        let now = self.now_ms();
        record.created_at_ms = now;
        record.absolute_deadline_ms = self
            .config
            .absolute_timeout
            .map(|d| now.saturating_add(ms(d)));
        record.expires_at_ms = self.expires_at(&record, now);
        // A collision is impossible with random ids; a custom generator gets
        // a few tries before it is reported.
        for _ in 0..4 {
            let id = self.new_id()?;
            let cookie_value = self.cookie_value(&id);
            let cell = Arc::new(SessionCell::new(id, cookie_value, record.clone(), now));
            if self.registry.contains(&cell.key) {
                continue;
            }
            if let Some(store) = self.store() {
                match store.create(&cell.key, &record).await {
                    Ok(()) => cell.set_stored_expiry(record.expires_at_ms),
                    Err(StoreError::AlreadyExists) => continue,
                    Err(e) => return Err(e.into()),
                }
                // A new session is durable before anyone learns its id.
                if let Err(e) = store.flush().await {
                    self.forget_created(&cell.key).await;
                    return Err(e.into());
                }
            }
            // Entering the registry and the revoke check share one lock: a
            // revoke either finds this session there or refuses it here.
            match self
                .bindings
                .admit(binding, || self.registry.insert_new(cell.clone()))
            {
                Some(true) => {
                    self.park_alarm(&cell);
                    crate::metrics::session_created();
                    return Ok(Some(cell));
                }
                Some(false) => self.forget_created(&cell.key).await,
                None => {
                    self.forget_created(&cell.key).await;
                    return Ok(None);
                }
            }
        }
        Err(SessionError::Invalid(
            "the id generator keeps returning ids that are in use".into(),
        ))
    }

    /// Deletes a record `create` wrote but did not register (best effort:
    /// an unregistered record is never served and the sweeper removes it).
    async fn forget_created(&self, key: &SessionKey) {
        if let Some(store) = self.store() {
            if let Err(e) = store.delete(key).await {
                tracing::warn!(?key, error = %e, "could not delete an unregistered new session record; the sweeper will");
            }
        }
    }

    /// Parks the first alarm of an ownerless live session.
    pub(crate) fn park_alarm(&self, cell: &SessionCell) {
        if let Some(at) = self.next_deadline(cell) {
            self.alarms.set(cell, at);
        }
    }

    /// The live session for `key`, activating it from the store if needed.
    /// `None`: unknown, expired or destroyed.
    pub async fn lookup(
        &self,
        key: SessionKey,
        id: &str,
    ) -> Result<Option<Arc<SessionCell>>, SessionError> {
        let Some(rt) = self.me.upgrade() else {
            return Err(SessionError::Unavailable("shut down".into()));
        };
        let id = id.to_string();
        self.through_slot(key, move || {
            let (rt, id) = (rt.clone(), id.clone());
            async move { settled(rt.activate(key, &id).await) }
        })
        .await
    }

    /// The one way to reach the session under `key` through its registry
    /// slot. Without a slot (and with a store), this call inserts one and
    /// settles it with `start()`, run in a task of its own so that a dropped
    /// request cannot leave it unsettled; concurrent callers wait on the
    /// same slot. `None`: no live session (absent, expired or ended).
    async fn through_slot<F, Fut>(
        &self,
        key: SessionKey,
        start: F,
    ) -> Result<Option<Arc<SessionCell>>, SessionError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Activation> + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + RETIRE_WAIT;
        loop {
            let slot = match self.registry.slot(&key) {
                Some(slot) => slot,
                None if self.store().is_none() => return Ok(None),
                None => {
                    let (slot, inserted) = self.registry.slot_or_insert(key);
                    if inserted {
                        self.settle_in_background(key, slot.clone(), start());
                    }
                    slot
                }
            };
            match slot.settled().await {
                Activation::Absent => return Ok(None),
                Activation::Failed(why) => {
                    return Err(SessionError::Store(StoreError::Backend(why.clone())))
                }
                Activation::Live(cell) => match cell.lifecycle() {
                    Lifecycle::Alive => return Ok(Some(cell.clone())),
                    Lifecycle::Dead => return Ok(None),
                    Lifecycle::Retired => {
                        // Being written out; its owner removes the slot next.
                        if tokio::time::Instant::now() > deadline {
                            return Err(SessionError::Unavailable(
                                "a session stayed in passivation for too long".into(),
                            ));
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                },
            }
        }
    }

    /// Settles `slot` with the outcome of `work` in a task of its own; a slot
    /// that settles without a live session leaves the registry at once.
    fn settle_in_background(
        &self,
        key: SessionKey,
        slot: Arc<Slot>,
        work: impl Future<Output = Activation> + Send + 'static,
    ) {
        let Some(rt) = self.me.upgrade() else {
            slot.settle(Activation::Failed("the session manager was dropped".into()));
            self.registry.remove_settled_empty(&key, &slot);
            return;
        };
        tokio::spawn(async move {
            let outcome = work.await;
            let live = match &outcome {
                Activation::Live(cell) => Some(cell.clone()),
                _ => None,
            };
            slot.settle(outcome);
            match live {
                Some(cell) => {
                    crate::metrics::session_activated();
                    rt.park_alarm(&cell);
                }
                None => rt.registry.remove_settled_empty(&key, &slot),
            }
        });
    }

    /// Loads `key` from the store into a new live cell (called once per slot).
    async fn activate(
        &self,
        key: SessionKey,
        id: &str,
    ) -> Result<Option<Arc<SessionCell>>, SessionError> {
        let Some(store) = self.store() else {
            return Ok(None);
        };
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err(SessionError::Unavailable("shutting down".into()));
        }
        let record = match store.load(&key).await {
            Ok(Some(r)) => r,
            Ok(None) => return Ok(None),
            Err(StoreError::Corrupt(why)) => {
                tracing::error!(?key, %why, "corrupt session record treated as absent");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let now = self.now_ms();
        if record.is_expired(now) {
            crate::metrics::session_ended(EndReason::Expired);
            if let Err(e) = store.delete(&key).await {
                tracing::warn!(?key, error = %e, "could not delete an expired session record");
            }
            return Ok(None);
        }
        let stored_expiry = record.expires_at_ms;
        let cell = Arc::new(SessionCell::new(
            id.to_string(),
            self.cookie_value(id),
            record,
            now,
        ));
        cell.set_stored_expiry(stored_expiry);
        Ok(Some(cell))
    }

    /// Destroys the session `key` if bound to `user`, whether live or only
    /// in the store: a stored one is deleted while this call holds its
    /// registry slot, so no request can activate it meanwhile.
    async fn revoke_key(&self, key: SessionKey, user: &str) -> Result<bool, SessionError> {
        let Some(rt) = self.me.upgrade() else {
            return Err(SessionError::Unavailable("shut down".into()));
        };
        let deleted = Arc::new(AtomicBool::new(false));
        let user_owned = user.to_string();
        let found = self
            .through_slot(key, {
                let deleted = deleted.clone();
                move || {
                    let (rt, user, deleted) = (rt.clone(), user_owned.clone(), deleted.clone());
                    async move {
                        match rt.delete_if_bound(key, &user).await {
                            Ok(was_live) => {
                                deleted.store(was_live, Ordering::SeqCst);
                                Activation::Absent
                            }
                            Err(e) => settled(Err(e.into())),
                        }
                    }
                }
            })
            .await?;
        match found {
            Some(cell) => Ok(self
                .destroy(&cell, Ending::Revoke(user.to_string()))
                .await?
                .is_some()),
            None => Ok(deleted.load(Ordering::SeqCst)),
        }
    }

    /// Deletes the stored record `key` if it is bound to `user`; returns
    /// whether it was an unexpired session.
    async fn delete_if_bound(&self, key: SessionKey, user: &str) -> Result<bool, StoreError> {
        let Some(store) = self.store() else {
            return Ok(false);
        };
        match store.load(&key).await {
            Ok(Some(rec)) if rec.user.as_deref() == Some(user) => {
                store.delete(&key).await?;
                let revoked = !rec.is_expired(self.now_ms());
                if revoked {
                    crate::metrics::session_ended(EndReason::Revoked);
                }
                Ok(revoked)
            }
            Ok(_) | Err(StoreError::Corrupt(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Starts the alarm task and, with a store, the sweeper (once, lazily,
    /// because they need a Tokio runtime).
    fn ensure_background(&self) {
        if self.background_started.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.background_started.store(false, Ordering::Relaxed);
            return;
        };
        handle.spawn(run_alarms(self.me.clone(), self.alarms.clone()));
        if self.store().is_some() {
            handle.spawn(run_sweeper(self.me.clone(), self.config.sweep_interval));
        }
    }

    async fn sweep_once(&self) {
        let Some(store) = self.store() else { return };
        let registry = &self.registry;
        let skip = |k: &SessionKey| registry.contains(k);
        loop {
            match store.remove_expired(self.now_ms(), 1000, &skip).await {
                Ok(n) if n >= 1000 => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(removed = n, "swept expired session records");
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "sweeping expired session records failed; will retry");
                    return;
                }
            }
        }
    }
}

/// Wakes the owners of hibernating sessions whose alarm is due. Holds the
/// runtime only weakly, so a dropped manager ends it within a second.
async fn run_alarms(me: Weak<Runtime>, alarms: Arc<Alarms>) {
    const MAX_NAP: Duration = Duration::from_secs(1);
    loop {
        // `notify_one` leaves a permit when nobody waits, so an alarm set
        // between reading the queue and waiting is not missed.
        let now = match me.upgrade() {
            Some(rt) => rt.now_ms(),
            None => return,
        };
        let wait = alarms
            .next_due()
            .map_or(MAX_NAP, |t| Duration::from_millis(t.saturating_sub(now)))
            .min(MAX_NAP);
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = alarms.earlier.notified() => {}
            }
        }
        let Some(rt) = me.upgrade() else { return };
        if rt.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        for (at, key) in alarms.take_due(rt.now_ms()) {
            if let Some(cell) = rt.registry.live_cell(&key) {
                let current =
                    cell.alarm_at_ms
                        .compare_exchange(at, 0, Ordering::SeqCst, Ordering::SeqCst);
                if current.is_ok() {
                    rt.owner(&cell, true);
                }
            }
        }
    }
}

/// Removes expired records from the store every `every`.
async fn run_sweeper(me: Weak<Runtime>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(rt) = me.upgrade() else { return };
        if rt.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        rt.sweep_once().await;
    }
}

/// The slot outcome of an activation.
fn settled(activation: Result<Option<Arc<SessionCell>>, SessionError>) -> Activation {
    match activation {
        Ok(Some(cell)) => Activation::Live(cell),
        Ok(None) => Activation::Absent,
        Err(SessionError::Store(StoreError::Backend(why))) => Activation::Failed(why),
        Err(e) => Activation::Failed(e.to_string()),
    }
}

/// Creates sessions for requests and manages them all.
///
/// Cheap to clone; share one per application. Must be used inside a Tokio
/// runtime. Call [`shutdown`](Self::shutdown) before exiting to write every
/// live session to the store.
///
/// ```
/// use livesession::{RequestInfo, SessionConfig, SessionManager};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SessionManager::new(
///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
/// );
/// // What an adapter does for each request:
/// let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
/// let n = session.update("n", |n: Option<i64>| n.unwrap_or(0) + 1).await.unwrap();
/// assert_eq!(n, 1);
/// let set_cookie = session.finish().await.unwrap();
/// assert!(set_cookie[0].starts_with("sessionId="));
/// # });
/// ```
#[derive(Clone)]
pub struct SessionManager {
    rt: Arc<Runtime>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("config", &self.rt.config)
            .field("live", &self.rt.registry.len())
            .finish()
    }
}

impl SessionManager {
    /// A manager for `config`.
    pub fn new(config: SessionConfig) -> Self {
        let rt = Arc::new_cyclic(|me| Runtime {
            config,
            registry: Registry::default(),
            alarms: Arc::new(Alarms::default()),
            me: me.clone(),
            background_started: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            last_failure_log_ms: AtomicU64::new(0),
            bindings: Arc::default(),
            recently_ended: RecentlyEnded::default(),
        });
        rt.ensure_background();
        SessionManager { rt }
    }

    /// The configuration in use.
    pub fn config(&self) -> &SessionConfig {
        &self.rt.config
    }

    /// The session handle for one request. Nothing is loaded until the
    /// handler first uses it; call [`Session::finish`] after the handler to
    /// get the `Set-Cookie` values.
    pub fn start(&self, req: &RequestInfo<'_>) -> Session {
        self.rt.ensure_background();
        let config = &self.rt.config;
        let in_scope = path_in_scope(req.path, &config.cookie.path);
        let incoming = if in_scope {
            req.cookie_header
                .and_then(|h| find_cookie(h, &config.cookie_name))
                .map(|v| v.into_owned())
        } else {
            None
        };
        let https = req.tls
            || (config.trust_proxy
                && req
                    .forwarded_proto
                    .and_then(|p| p.split(',').next())
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")));
        Session::new(self.rt.clone(), incoming, https, in_scope)
    }

    /// A session handle for a cookie value outside any request (fastify's
    /// `decryptSession`): `value` is the cookie value as sent by the client.
    ///
    /// ```
    /// # use livesession::{SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// let session = manager.session_from_cookie("not-a-valid-cookie");
    /// assert_eq!(session.id().await.unwrap(), None); // a fresh, unsaved session
    /// # });
    /// ```
    pub fn session_from_cookie(&self, value: &str) -> Session {
        Session::new(self.rt.clone(), Some(value.to_string()), false, true)
    }

    /// Destroys every unexpired session bound to `user` (see
    /// [`Session::bind_user`]), live or only in the store. Returns how many.
    pub async fn revoke_user(&self, user: &str) -> Result<usize, SessionError> {
        // Sessions bound to `user` that exist only inside a request are
        // refused at creation from now until the revoke ends.
        let _revoking = self.rt.bindings.begin_revoke(user);
        let mut revoked = 0;
        for cell in self.rt.registry.live() {
            if cell.current().record.user.as_deref() == Some(user)
                && self
                    .rt
                    .destroy(&cell, Ending::Revoke(user.to_string()))
                    .await?
                    .is_some()
            {
                revoked += 1;
            }
        }
        if let Some(store) = self.rt.store() {
            for key in store.keys_for_user(user).await? {
                if self.rt.revoke_key(key, user).await? {
                    revoked += 1;
                }
            }
            // With sync durability the deletes are on disk before we answer.
            store.flush().await?;
        }
        Ok(revoked)
    }

    /// Live actors and stored records right now.
    pub async fn stats(&self) -> Result<Stats, SessionError> {
        let stored = match self.rt.store() {
            Some(s) => s.count().await?,
            None => 0,
        };
        Ok(Stats {
            live: self.rt.registry.len() as u64,
            stored,
        })
    }

    /// Deadlines parked by hibernating sessions (one per live session at
    /// most); for monitoring and tests.
    pub fn pending_alarms(&self) -> usize {
        self.rt.alarms.len()
    }

    /// Removes expired records from the store now (the background sweeper
    /// does this every sweep interval).
    pub async fn sweep_expired(&self) {
        self.rt.sweep_once().await;
    }

    /// Graceful shutdown: refuses new sessions, writes every live session to
    /// the store, stops the actors and flushes. Without a store, live sessions
    /// are simply dropped.
    pub async fn shutdown(&self) -> Result<(), SessionError> {
        self.rt.shutting_down.store(true, Ordering::SeqCst);
        let mut first_error = None;
        for cell in self.rt.registry.live() {
            if self.rt.store().is_none() {
                // Nothing to persist: end it here, leaving no slot behind.
                let owner = cell.owner().take();
                self.rt.retire_cell(&cell, Lifecycle::Dead);
                if let Some(owner) = owner {
                    owner.kill();
                }
                continue;
            }
            if let Err(e) = self.rt.retire(&cell).await {
                tracing::error!(key = ?cell.key, error = %e, "could not persist a session at shutdown");
                first_error.get_or_insert(e);
            }
        }
        if let Some(store) = self.rt.store() {
            store.flush().await?;
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// @fastify/session's path scope: `path` is inside `scope` when equal, or
/// longer with `scope` ending in `/` or followed by `/` in `path`.
pub(crate) fn path_in_scope(path: &str, scope: &str) -> bool {
    if scope == "/" || path == scope {
        return true;
    }
    path.len() > scope.len()
        && path.starts_with(scope)
        && (scope.ends_with('/') || path.as_bytes()[scope.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::path_in_scope;

    #[test]
    fn path_scope_matches_fastify() {
        for ok in ["/check", "/check/page1"] {
            assert!(path_in_scope(ok, "/check"), "{ok}");
        }
        for no in ["/check_page1", "/chck", "/chick/page1", "/Check", "/"] {
            assert!(!path_in_scope(no, "/check"), "{no}");
        }
        assert!(path_in_scope("/check/", "/check/"));
        assert!(path_in_scope("/check/index", "/check/"));
        assert!(!path_in_scope("/check", "/check/"));
        assert!(path_in_scope("/anything", "/"));
    }
}
