//! Activation: creating new sessions, and finding a live session through
//! its registry slot, loading it from the store once when it is not in
//! memory; revoking a stored session while holding its slot.

use crate::clock::ms;
use crate::core::cell::{Lifecycle, SessionCell};
use crate::core::change::Ending;
use crate::core::registry::{Activation, Slot};
use crate::core::revocation::Binding;
use crate::core::Core;
use crate::error::SessionError;
use crate::metrics::EndReason;
use crate::store::{SessionKey, SessionRecord, StoreError, Touched, Versioned};
use futures::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{fence, AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tracing::Instrument;

/// How long a request waits for a session that is being written out
/// (passivation) before giving up with an error.
const RETIRE_WAIT: Duration = Duration::from_secs(10);

impl Core {
    /// A brand-new live session with a fresh server-made id holding `record`
    /// (already containing its first change, if any), durable before it is
    /// returned. `Ok(None)`: its user `binding` was revoked meanwhile, so it
    /// was not created.
    pub async fn create(
        &self,
        mut record: SessionRecord,
        binding: Option<&Binding>,
    ) -> Result<Option<Arc<SessionCell>>, SessionError> {
        if self.is_shutting_down() {
            return Err(SessionError::Unavailable("shutting down".into()));
        }
        self.make_room(1)?;
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
            // From the store write on (a dropped call does not stop a store
            // that writes on threads of its own) until the session is
            // registered or its record deleted, a dropped call deletes the
            // record from a task of its own: only if it is this call's (a
            // create the store refuses leaves another session's record).
            let mut unregistered = Unregistered::new(self, &cell);
            if let Some(store) = self.store() {
                let created = if self.is_shared() {
                    let lifetime = self.lifetime(&record);
                    store
                        .create_shared(&cell.key, &record, lifetime)
                        .await
                        .map(|version| {
                            cell.adopt(Versioned {
                                version,
                                record: record.clone(),
                            });
                        })
                } else {
                    store.create(&cell.key, &record).await
                };
                match created {
                    Ok(()) => cell.set_stored_expiry(record.expires_at_ms),
                    // Another session's record: not this call's to delete.
                    Err(StoreError::AlreadyExists) => {
                        unregistered.disarm();
                        continue;
                    }
                    Err(e) => {
                        // It may have landed all the same (the sled store's
                        // create answers its group's failed flush): the id
                        // is never sent, so nothing may stay behind.
                        unregistered.forget().await;
                        return Err(e.into());
                    }
                }
                // A new session is durable before anyone learns its id (a
                // store whose completed writes are durable made it so).
                if !store.completed_writes_are_durable() {
                    if let Err(e) = store.flush().await {
                        unregistered.forget().await;
                        return Err(e.into());
                    }
                }
            }
            // Entering the registry and the revoke check share one lock: a
            // revoke either finds this session there or refuses it here.
            match self
                .bindings
                .admit(binding, || self.registry.insert_new(cell.clone()))
            {
                Some(true) if self.is_shutting_down() => {
                    // A shutdown that began meanwhile may have listed the
                    // live sessions before this one entered: refused, so
                    // that no change to it is acknowledged after shutdown's
                    // last flush. (Checked after entering the registry: a
                    // shutdown either lists the session or is seen here.)
                    self.retire_cell(&cell, Lifecycle::Dead);
                    unregistered.forget().await;
                    return Err(SessionError::Unavailable("shutting down".into()));
                }
                Some(true) => {
                    unregistered.disarm();
                    self.park_alarm(&cell);
                    crate::metrics::session_created();
                    return Ok(Some(cell));
                }
                Some(false) => unregistered.forget().await,
                None => {
                    unregistered.forget().await;
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
    pub(crate) async fn forget_created(&self, key: &SessionKey) {
        if let Some(store) = self.store() {
            if let Err(e) = store.delete(key).await {
                tracing::warn!(?key, error = %e, "could not delete an unregistered new session record; the sweeper will");
            }
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
    pub(crate) async fn through_slot<F, Fut>(
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
                    return Err(SessionError::Store(StoreError::backend(why.clone())))
                }
                Activation::Refused(why) => return Err(SessionError::Unavailable(why.clone())),
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
    pub(crate) fn settle_in_background(
        &self,
        key: SessionKey,
        slot: Arc<Slot>,
        work: impl Future<Output = Activation> + Send + 'static,
    ) {
        let Some(rt) = self.me.upgrade() else {
            self.registry.remove_unfilled(&key, &slot);
            slot.settle(Activation::Failed("the session manager was dropped".into()));
            return;
        };
        let span = tracing::debug_span!("livesession.activate", key = ?key);
        tokio::spawn(async move {
            // A panic (a store's bug) settles the slot as failed: unsettled,
            // it would keep every later request for the key waiting.
            let mut outcome = match AssertUnwindSafe(work.instrument(span)).catch_unwind().await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::error!(
                        ?key,
                        "activating a session panicked (in the session store?)"
                    );
                    Activation::Failed("activating the session failed".into())
                }
            };
            if matches!(outcome, Activation::Live(_)) && rt.is_shutting_down() {
                // Loaded while a shutdown began: never served.
                outcome = Activation::Refused("shutting down".into());
            }
            match &outcome {
                Activation::Live(cell) => {
                    let cell = cell.clone();
                    slot.settle(outcome);
                    // A shutdown that began just now may have listed the
                    // live sessions before this one was settled: then it is
                    // seen here (fences on both sides) and written out like
                    // those, so that nothing is acknowledged after
                    // shutdown's last flush.
                    fence(Ordering::SeqCst);
                    if rt.is_shutting_down() {
                        rt.retire_after_shutdown(&cell).await;
                        return;
                    }
                    crate::metrics::session_activated();
                    rt.park_alarm(&cell);
                }
                _ => {
                    // Out of the registry before anyone hears the answer, so a
                    // request that starts after it loads afresh.
                    rt.registry.remove_unfilled(&key, &slot);
                    slot.settle(outcome);
                }
            }
        });
    }

    /// Writes out and retires `cell`, which became live after a shutdown
    /// listed the live sessions, then flushes the store.
    async fn retire_after_shutdown(&self, cell: &Arc<SessionCell>) {
        let mut written = self.retire(cell).await;
        if let (Ok(()), Some(store)) = (&written, self.store()) {
            written = store.flush().await.map_err(SessionError::from);
        }
        if let Err(e) = written {
            tracing::error!(key = ?cell.key, error = %e, "could not persist a session activated during shutdown");
        }
    }

    /// Loads `key` from the store into a new live cell (called once per slot).
    pub(crate) async fn activate(
        &self,
        key: SessionKey,
        id: &str,
    ) -> Result<Option<Arc<SessionCell>>, SessionError> {
        let Some(store) = self.store() else {
            return Ok(None);
        };
        if self.is_shutting_down() {
            return Err(SessionError::Unavailable("shutting down".into()));
        }
        // This activation's slot is counted already.
        self.make_room(0)?;
        if self.is_shared() {
            return self.activate_shared(key, id).await;
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

    /// Activation from a shared store: one touch, which also extends the
    /// session's expiry. The store's clock decides whether it has ended.
    async fn activate_shared(
        &self,
        key: SessionKey,
        id: &str,
    ) -> Result<Option<Arc<SessionCell>>, SessionError> {
        let Some(store) = self.store() else {
            return Ok(None);
        };
        let stored = match store.touch(&key, None).await {
            Ok(Touched::Changed(stored)) => stored,
            Ok(Touched::Ended { ago_ms }) => {
                self.note_ended_elsewhere(key, ago_ms);
                return Ok(None);
            }
            Ok(_) => return Ok(None),
            Err(StoreError::Corrupt(why)) => {
                tracing::error!(?key, %why, "corrupt session record treated as absent");
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let now = self.now_ms();
        let cell = Arc::new(SessionCell::new(
            id.to_string(),
            self.cookie_value(id),
            SessionRecord::default(),
            now,
        ));
        cell.adopt(stored);
        Ok(Some(cell))
    }

    /// Checks a live session against a shared store on a request's behalf
    /// (one touch, which also extends its expiry there), publishing what
    /// another process wrote meanwhile. `false`: it ended elsewhere, and
    /// leaves this process's memory.
    pub(crate) async fn validate(&self, cell: &Arc<SessionCell>) -> Result<bool, SessionError> {
        let Some(store) = self.store() else {
            return Ok(true);
        };
        let known = cell.current().version;
        match store.touch(&cell.key, Some(known)).await {
            Ok(Touched::Unchanged) => Ok(true),
            Ok(Touched::Changed(stored)) => {
                cell.adopt(stored);
                Ok(true)
            }
            Ok(Touched::Ended { ago_ms }) => {
                self.note_ended_elsewhere(cell.key, ago_ms);
                self.retire(cell).await?;
                Ok(false)
            }
            Ok(_) => {
                self.retire(cell).await?;
                Ok(false)
            }
            Err(StoreError::Corrupt(why)) => {
                tracing::error!(key = ?cell.key, %why, "corrupt session record treated as absent");
                self.retire(cell).await?;
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Destroys the session `key` if bound to `user`, whether live or only
    /// in the store: a stored one is deleted while this call holds its
    /// registry slot, so no request can activate it meanwhile.
    pub(crate) async fn revoke_key(
        &self,
        key: SessionKey,
        user: &str,
    ) -> Result<bool, SessionError> {
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
    pub(crate) async fn delete_if_bound(
        &self,
        key: SessionKey,
        user: &str,
    ) -> Result<bool, StoreError> {
        let Some(store) = self.store() else {
            return Ok(false);
        };
        match store.load(&key).await {
            Ok(Some(rec)) if rec.user.as_deref() == Some(user) => {
                let existed = store.delete(&key).await?;
                // A shared store loads only what it holds live, by its own
                // clock (the record's expiry lags behind every touch), and its
                // delete says whether it ended a live record: another process
                // may have ended it since the load.
                let revoked = if self.is_shared() {
                    existed
                } else {
                    !rec.is_expired(self.now_ms())
                };
                if revoked {
                    crate::metrics::session_ended(EndReason::Revoked);
                }
                Ok(revoked)
            }
            Ok(_) | Err(StoreError::Corrupt(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The slot outcome of an activation.
fn settled(activation: Result<Option<Arc<SessionCell>>, SessionError>) -> Activation {
    match activation {
        Ok(Some(cell)) => Activation::Live(cell),
        Ok(None) => Activation::Absent,
        Err(SessionError::Store(StoreError::Backend(why))) => Activation::Failed(why.to_string()),
        Err(SessionError::Unavailable(why)) => Activation::Refused(why),
        Err(e) => Activation::Failed(e.to_string()),
    }
}

/// The record of a session [`Core::create`] is making, until the session is
/// registered: if the call is dropped first (its request cancelled), the
/// record is deleted from a task of its own, since its id was never sent,
/// provided the store holds this call's record (a create the store refused
/// for its id leaves another session's record there).
struct Unregistered {
    rt: Weak<Core>,
    cell: Arc<SessionCell>,
    armed: bool,
}

impl Unregistered {
    fn new(rt: &Core, cell: &Arc<SessionCell>) -> Self {
        Unregistered {
            rt: rt.me.clone(),
            cell: cell.clone(),
            armed: rt.store().is_some(),
        }
    }

    /// The session is registered, or the record is not this call's.
    fn disarm(&mut self) {
        self.armed = false;
    }

    /// Deletes the record now (still from a task of its own if this call is
    /// dropped meanwhile).
    async fn forget(&mut self) {
        self.armed = true;
        if let Some(rt) = self.rt.upgrade() {
            rt.forget_created(&self.cell.key).await;
        }
        self.armed = false;
    }
}

impl Drop for Unregistered {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (Some(rt), Ok(runtime)) = (self.rt.upgrade(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let cell = self.cell.clone();
        runtime.spawn(async move {
            let Some(store) = rt.store() else { return };
            // A write still on its way lands first: the sled store's flush
            // waits for the writes its committer is applying (a queued one
            // whose caller is gone is never applied); a Redis connection
            // answers in order. Then what the call wrote, if it got that
            // far, and nothing else.
            let _ = store.flush().await;
            if let Ok(Some(stored)) = store.load(&cell.key).await {
                let ours = cell.current();
                // Its creation instant and contents (a store may set its own
                // expiry fields).
                if stored.created_at_ms == ours.record.created_at_ms
                    && stored.same_contents(&ours.record)
                {
                    rt.forget_created(&cell.key).await;
                }
            }
        });
    }
}
