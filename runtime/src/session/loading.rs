//! How a request's session is found, followed and changed: resolving the
//! cookie, activation from the store, hand-off of changes to the owner (or
//! applying them locally to a session only this request has), creation and
//! destruction.

use super::state::{Attach, Phase, Resolved, State, Target};
use super::{Session, MAX_ATTEMPTS};
use crate::core::cell::{Lifecycle, SessionCell};
use crate::core::change::{Ended, Ending, MutateFn};
use crate::core::expiry_refresh_due;
use crate::error::SessionError;
use crate::id::is_valid_id;
use crate::signing::Unsigned;
use crate::store::{SessionKey, SessionRecord};
use constant_time_eq::constant_time_eq;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

impl Session {
    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        // The lock is never held across an await or user code, so poisoning
        // cannot leave the state half-updated.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the session the incoming cookie names, once per request.
    pub(super) async fn load(&self) -> Result<(), SessionError> {
        if self.inner.finished.load(Ordering::Acquire) {
            return Err(SessionError::Finished);
        }
        if self.inner.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.resolve_now() {
            // A shared store is the truth: the live copy is checked against
            // it first (one round trip, which also extends the expiry there).
            Resolved::Done(Phase::Live(cell, _), renew) if self.inner.rt.is_shared() => {
                Box::pin(self.load_validated(cell, renew)).await
            }
            Resolved::Done(phase, renew) => {
                self.set_loaded(phase, renew);
                Ok(())
            }
            // Rare: the session must be read from the store. Boxed, so the
            // common path keeps every handler's future small.
            Resolved::Activate { key, id, renew } => {
                Box::pin(self.load_from_store(key, id, renew)).await
            }
        }
    }

    pub(super) fn set_loaded(&self, phase: Phase, renew: bool) {
        let mut st = self.state();
        // A concurrent load of the same request may have finished first.
        if matches!(st.phase, Phase::Unloaded) {
            st.phase = phase;
            st.renew = renew;
        }
        self.inner.loaded.store(true, Ordering::Release);
    }

    /// Decides, without waiting, which session the incoming cookie names:
    /// none, a live one, or one that must be activated from the store.
    pub(super) fn resolve_now(&self) -> Resolved {
        let inner = &self.inner;
        if !inner.in_scope {
            return Resolved::Done(Phase::Detached(SessionRecord::default()), false);
        }
        let fresh = Resolved::Done(Phase::Fresh(SessionRecord::default()), false);
        let config = inner.rt.config();
        let Some(incoming) = inner.incoming.as_deref() else {
            return fresh;
        };
        let Some(value) = incoming.strip_prefix(config.cookie_prefix.as_str()) else {
            return fresh;
        };
        // The common case first: a live session whose cookie is exactly this
        // value. Its cookie was signed here with the first secret, so an equal
        // value (compared in constant time) needs no HMAC.
        let hinted = value
            .rfind('.')
            .map(|dot| &value[..dot])
            .filter(|id| is_valid_id(id))
            .map(|id| (id, SessionKey::of_id(id)));
        if let Some((_, key)) = hinted {
            if let Some(cell) = inner.rt.registry().live_cell(&key) {
                if constant_time_eq(cell.cookie_value.as_bytes(), incoming.as_bytes()) {
                    return self.resolve_cell(cell, key, false);
                }
            }
        }
        let Unsigned::Valid { id, renew } = config.signer.unsign(value) else {
            return fresh;
        };
        if !is_valid_id(&id) {
            return fresh;
        }
        let key = match hinted {
            Some((hint, key)) if hint == id => key,
            _ => SessionKey::of_id(&id),
        };
        match inner.rt.registry().live_cell(&key) {
            Some(cell) => self.resolve_cell(cell, key, renew),
            None if inner.rt.store().is_none() => fresh,
            // Retired (being written out), activating, or only in the store.
            _ => Resolved::Activate { key, id, renew },
        }
    }

    /// The request's session is the live `cell` (under `key`), unless it has
    /// ended or must be followed to the store.
    fn resolve_cell(&self, cell: Arc<SessionCell>, key: SessionKey, renew: bool) -> Resolved {
        match self.attach(&cell) {
            Attach::Live(snapshot) => Resolved::Done(Phase::Live(cell, snapshot), renew),
            Attach::Ended => Resolved::Done(Phase::Fresh(SessionRecord::default()), false),
            Attach::Moved => Resolved::Activate {
                key,
                id: cell.id().to_string(),
                renew,
            },
        }
    }

    pub(super) async fn load_from_store(
        &self,
        key: SessionKey,
        id: String,
        renew: bool,
    ) -> Result<(), SessionError> {
        let phase = match self.inner.rt.lookup(key, &id).await? {
            // Activated by a request that may have started before this one:
            // a shared store's copy is checked again.
            Some(cell) if self.inner.rt.is_shared() => {
                return self.load_validated(cell, renew).await;
            }
            Some(cell) => self.reattach(cell).await?,
            None => Phase::Fresh(SessionRecord::default()),
        };
        let renew = renew && matches!(phase, Phase::Live(..));
        self.set_loaded(phase, renew);
        Ok(())
    }

    /// Loads the live `cell` after checking it against the shared store: a
    /// session another process changed is read as it changed it, one it
    /// ended gives a fresh session.
    pub(super) async fn load_validated(
        &self,
        cell: Arc<SessionCell>,
        renew: bool,
    ) -> Result<(), SessionError> {
        let phase = self.validated(cell).await?;
        let renew = renew && matches!(phase, Phase::Live(..));
        self.set_loaded(phase, renew);
        Ok(())
    }

    /// `cell` checked against the shared store, then attached (followed to
    /// the store if it was passivated meanwhile).
    pub(super) async fn validated(&self, cell: Arc<SessionCell>) -> Result<Phase, SessionError> {
        if self.inner.rt.validate(&cell).await? {
            self.reattach(cell).await
        } else {
            Ok(Phase::Fresh(SessionRecord::default()))
        }
    }

    /// Registers this request's load of `cell`: extends its idle clock and
    /// returns the snapshot to read, unless the session has ended or has just
    /// been passivated (then it must be followed to the store).
    pub(super) fn attach(&self, cell: &Arc<SessionCell>) -> Attach {
        let rt = &self.inner.rt;
        match cell.lifecycle() {
            Lifecycle::Alive => {}
            Lifecycle::Retired => return Attach::Moved,
            Lifecycle::Dead => return Attach::Ended,
        }
        let now = rt.now_ms();
        let snapshot = cell.current();
        if rt.is_expired(cell, now) {
            // Past its deadline but the timer has not fired yet: end it now.
            rt.check_clocks(cell);
            return Attach::Ended;
        }
        cell.touch(now);
        match cell.lifecycle() {
            Lifecycle::Alive => {}
            Lifecycle::Retired => return Attach::Moved,
            Lifecycle::Dead => return Attach::Ended,
        }
        if rt.store().is_some()
            && !rt.is_shared()
            && expiry_refresh_due(
                cell.stored_expiry(),
                rt.expires_at(&snapshot.record, now),
                rt.max_age_ms(&snapshot.record),
            )
        {
            rt.check_clocks(cell);
        }
        Attach::Live(snapshot)
    }

    /// Loads `cell` for this request, following it to the store when it was
    /// passivated meanwhile. Ended sessions give a fresh one.
    pub(super) async fn reattach(&self, cell: Arc<SessionCell>) -> Result<Phase, SessionError> {
        let mut cell = cell;
        for _ in 0..MAX_ATTEMPTS {
            match self.attach(&cell) {
                Attach::Live(snapshot) => return Ok(Phase::Live(cell, snapshot)),
                Attach::Ended => return Ok(Phase::Fresh(SessionRecord::default())),
                Attach::Moved => match self.inner.rt.lookup(cell.key, cell.id()).await? {
                    Some(next) => cell = next,
                    None => return Ok(Phase::Fresh(SessionRecord::default())),
                },
            }
        }
        Err(SessionError::Unavailable(
            "the session kept moving; try again".into(),
        ))
    }

    /// Runs `read` on this request's view of the session record.
    pub(super) async fn read<T>(
        &self,
        read: impl FnOnce(&SessionRecord) -> T,
    ) -> Result<T, SessionError> {
        self.load().await?;
        let st = self.state();
        Ok(match &st.phase {
            Phase::Live(_, snap) => read(&snap.record),
            Phase::Fresh(r) | Phase::Detached(r) => read(r),
            Phase::Unloaded | Phase::Destroyed(_) => read(&SessionRecord::default()),
        })
    }

    /// Applies `f` through the session's owner (creating the session with it
    /// if it is new), following the session if it moves.
    pub(super) async fn mutate(&self, f: MutateFn) -> Result<Option<Value>, SessionError> {
        self.load().await?;
        let rt = &self.inner.rt;
        // `f` runs at most once; it comes back unapplied when the session
        // moved before its owner got to it.
        let mut change = f;
        for _ in 0..MAX_ATTEMPTS {
            let target = {
                let mut st = self.state();
                match &st.phase {
                    Phase::Detached(_) | Phase::Fresh(_) => Target::Local,
                    Phase::Unloaded | Phase::Destroyed(_) => {
                        st.phase = Phase::Fresh(SessionRecord::default());
                        Target::Local
                    }
                    Phase::Live(cell, _) => Target::Owner(cell.clone()),
                }
            };
            match target {
                Target::Local => return self.mutate_local(change),
                // Boxed: the owner round trip is the largest future here.
                Target::Owner(cell) => match Box::pin(rt.mutate(&cell, change)).await? {
                    Ok(ok) => {
                        let mut st = self.state();
                        st.modified |= ok.data_changed;
                        // A clone's regenerate or destroy meanwhile took the
                        // session's final record, this change included:
                        // what it left stands.
                        let next = Phase::Live(cell.clone(), ok.snapshot);
                        move_on_from(&mut st, &cell, next);
                        return Ok(ok.value);
                    }
                    Err(unapplied) => {
                        change = unapplied;
                        Box::pin(self.follow(&cell)).await?;
                    }
                },
            }
        }
        Err(SessionError::Unavailable(
            "the session kept moving; try again".into(),
        ))
    }

    /// Applies `f` to a session only this request can see. `f` runs without
    /// the state lock held, so it may call back into this session.
    pub(super) fn mutate_local(&self, mut f: MutateFn) -> Result<Option<Value>, SessionError> {
        let rt = &self.inner.rt;
        let mut changed = match &self.state().phase {
            Phase::Detached(record) | Phase::Fresh(record) => record.clone(),
            _ => {
                return Err(SessionError::Unavailable(
                    "session state changed concurrently".into(),
                ))
            }
        };
        let original = changed.clone();
        let value = match catch_unwind(AssertUnwindSafe(|| f(&mut changed))) {
            Ok(r) => r?,
            Err(_) => return Err(SessionError::UpdatePanicked),
        };
        if changed.data != original.data {
            rt.config().limits.check(&changed.data)?;
        }
        let modified = changed.data != original.data || changed.user != original.user;
        let mut st = self.state();
        if self.inner.finished.load(Ordering::Acquire) {
            // Checked under the state lock that `finish` reads the phase
            // under: a change either makes it into the response or fails.
            return Err(SessionError::Finished);
        }
        let newly_bound = match &mut st.phase {
            Phase::Detached(record) if *record == original => {
                *record = changed;
                None
            }
            Phase::Fresh(record) if *record == original => {
                let bound = (changed.user != original.user)
                    .then(|| changed.user.clone())
                    .flatten();
                *record = changed;
                bound
            }
            _ => {
                return Err(SessionError::Unavailable(
                    "session state changed concurrently".into(),
                ))
            }
        };
        if let Some(user) = newly_bound {
            // The binding lives only in this request until the session is
            // created: registered now, so a revoke from here on reaches it.
            st.binding = Some(self.inner.rt.bind(&user));
        }
        st.modified |= modified;
        Ok(value)
    }

    /// The session ended or left memory under us: find where it went.
    pub(super) async fn follow(&self, cell: &Arc<SessionCell>) -> Result<(), SessionError> {
        let next = match cell.lifecycle() {
            // Passivated: activate it again from the store.
            Lifecycle::Retired => self.reattach(cell.clone()).await?,
            // Destroyed or expired by someone else: never revived.
            Lifecycle::Dead | Lifecycle::Alive => Phase::Fresh(SessionRecord::default()),
        };
        move_on_from(&mut self.state(), cell, next);
        Ok(())
    }

    /// Creates the new session this request has been building.
    ///
    /// A clone of this request's session may change it (a change, a user
    /// binding) or end it while the store writes it: the session created
    /// from the older record is then ended again at once, and a changed one
    /// is created anew from what the request holds now.
    pub(super) async fn create(&self, record: SessionRecord) -> Result<(), SessionError> {
        let rt = &self.inner.rt;
        let mut record = record;
        for _ in 0..MAX_ATTEMPTS {
            let binding = self.state().binding.take();
            let cookie = record.cookie.clone();
            let created = rt.create(record, binding.as_ref()).await;
            let (cell, again) = {
                let mut st = self.state();
                let cell = match created {
                    Ok(Some(cell)) => cell,
                    // Its user was revoked while this request built it: never
                    // created, unless a clone bound another user meanwhile
                    // (its binding is the request's now): created for that one.
                    Ok(None) => match &st.phase {
                        Phase::Fresh(now) if st.binding.is_some() => {
                            record = now.clone();
                            continue;
                        }
                        _ => {
                            st.must_create = false;
                            st.phase = Phase::Destroyed(cookie);
                            return Ok(());
                        }
                    },
                    Err(e) => {
                        st.binding = binding;
                        return Err(e);
                    }
                };
                let snapshot = cell.current();
                let again = match &st.phase {
                    Phase::Fresh(now) if now.same_contents(&snapshot.record) => {
                        st.must_create = false;
                        st.phase = Phase::Live(cell, snapshot);
                        st.id_changed = true;
                        return Ok(());
                    }
                    Phase::Fresh(now) => Some(now.clone()),
                    // Destroyed, or created by another clone meanwhile.
                    _ => None,
                };
                // The binding goes with the record created next (a clone's
                // own, if it bound a user meanwhile); none after a destroy.
                if again.is_some() && st.binding.is_none() {
                    st.binding = binding;
                }
                (cell, again)
            };
            // Its id was never sent: ended for good, like a logout.
            if let Err(e) = rt.destroy(&cell, Ending::Logout).await {
                tracing::warn!(key = ?cell.key, error = %e, "could not end a session created from a record changed meanwhile; it expires unused");
            }
            match again {
                Some(now) => record = now,
                None => return Ok(()),
            }
        }
        Err(SessionError::Unavailable(
            "the session kept changing while it was created; try again".into(),
        ))
    }

    /// Destroys the live session `cell`, following it to the store if it is
    /// passivated meanwhile. Returns how it ended if it was live.
    pub(super) async fn destroy_live(
        &self,
        cell: Arc<SessionCell>,
        ending: Ending,
    ) -> Result<Option<Ended>, SessionError> {
        let rt = &self.inner.rt;
        let mut cell = cell;
        loop {
            let done = rt.destroy(&cell, ending.clone()).await?;
            if done.is_some() || cell.lifecycle() != Lifecycle::Retired {
                return Ok(done);
            }
            match rt.lookup(cell.key, cell.id()).await? {
                Some(next) => cell = next,
                None => return Ok(None),
            }
        }
    }

    /// Whether the incoming cookie validly names an id that was destroyed
    /// or regenerated away a moment ago.
    pub(super) fn incoming_ended_recently(&self) -> bool {
        let config = self.inner.rt.config();
        let Some(value) = self
            .inner
            .incoming
            .as_deref()
            .and_then(|v| v.strip_prefix(config.cookie_prefix.as_str()))
        else {
            return false;
        };
        match config.signer.unsign(value) {
            Unsigned::Valid { id, .. } => self.inner.rt.ended_recently(&SessionKey::of_id(&id)),
            _ => false,
        }
    }
}

/// Replaces the request's phase with `next` if it still holds the live
/// `cell`: a clone of this request may have moved it on meanwhile (a
/// regenerate, a destroy, a new session), and what that left stands.
pub(super) fn move_on_from(st: &mut State, cell: &Arc<SessionCell>, next: Phase) {
    if matches!(&st.phase, Phase::Live(c, _) if Arc::ptr_eq(c, cell)) {
        st.phase = next;
    }
}
