//! The handler-facing session handle.

mod response;

pub use response::CookieOptions;

use crate::core::cell::{Lifecycle, SessionCell};
use crate::core::change::{Ended, Ending, MutateFn};
use crate::core::expiry_refresh_due;
use crate::core::revocation::Binding;
use crate::core::snapshot::Snapshot;
use crate::core::Core;
use crate::error::SessionError;
use crate::id::is_valid_id;
use crate::signing::Unsigned;
use crate::store::{CookieOverrides, SessionKey, SessionRecord};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// How many times an operation follows a session that moved under it
/// (passivated, or destroyed by another request) before giving up.
const MAX_ATTEMPTS: usize = 4;

/// The session of one request.
///
/// Cheap to clone; all clones are the same request's session. Nothing is
/// loaded until first use, so handlers that never touch the session cost
/// nothing and set no cookie.
///
/// # Concurrency
///
/// Every change is applied by the session's single owner (its actor), one at
/// a time, on the latest state: concurrent requests on one session lose no
/// update. Writes to different keys all stay; [`update`](Self::update) is an
/// atomic read-modify-write of one key. Reads see the state as loaded by this
/// request plus this request's own writes; [`reload`](Self::reload) refreshes.
/// A session destroyed by another request stays destroyed: a later write in
/// this request starts a new session with a new id instead of reviving it.
///
/// ```
/// use livesession::{RequestInfo, SessionConfig, SessionManager};
/// # tokio::runtime::Core::new().unwrap().block_on(async {
/// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
/// let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
/// session.insert("theme", "dark").await.unwrap();
/// assert_eq!(session.get::<String>("theme").await.unwrap().as_deref(), Some("dark"));
/// assert!(session.is_modified());
/// # });
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

struct Inner {
    rt: Arc<Core>,
    /// The session cookie's value as received (decoded, prefix included).
    incoming: Option<String>,
    /// The request came over https (for `Secure` auto).
    https: bool,
    /// The request is inside the cookie path.
    in_scope: bool,
    /// Whether the incoming cookie has been resolved.
    loaded: AtomicBool,
    /// The response was sent: every later call fails with `Finished`.
    finished: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    phase: Phase,
    /// The incoming cookie was signed by an older secret.
    renew: bool,
    /// A new id was issued in this request (new session saved, regenerate).
    id_changed: bool,
    /// The fresh session must be stored at the end of the request even if
    /// unmodified (it replaces a regenerated one).
    must_create: bool,
    modified: bool,
    saved: bool,
    /// The live session of this request ended in another request.
    ended_elsewhere: bool,
    /// This request destroyed the session its cookie named (its response
    /// clears the cookie even if the handler went on with a new session).
    destroyed_here: bool,
    /// The user binding of a session that exists only in this request, so
    /// that a revoke running before it is created reaches it.
    binding: Option<Binding>,
}

#[derive(Default)]
enum Phase {
    /// Not loaded yet.
    #[default]
    Unloaded,
    /// A new session that exists only in this request so far: changes are
    /// applied here (nobody else can see it) and it is created, with one
    /// store write, when the request finishes or `save()` is called.
    Fresh(SessionRecord),
    /// A live session and this request's view of it.
    Live(Arc<SessionCell>, Arc<Snapshot>),
    /// Destroyed in this request; the cookie attributes it had, for the
    /// clearing cookie.
    Destroyed(CookieOverrides),
    /// Outside the cookie path: a scratch session that is never stored.
    Detached(SessionRecord),
}

/// The outcome of loading a live session for a request.
enum Attach {
    /// Loaded: read this snapshot.
    Live(Arc<Snapshot>),
    /// Destroyed or expired.
    Ended,
    /// Passivated: it must be activated from the store.
    Moved,
}

/// The outcome of looking at the incoming cookie.
enum Resolved {
    /// Decided: this phase, and whether the cookie needs re-signing.
    Done(Phase, bool),
    /// The session must be activated from the store (or waited for).
    Activate {
        key: SessionKey,
        id: String,
        renew: bool,
    },
}

/// Where an operation must go, decided under the state lock.
enum Target {
    /// A session only this request can see (new, or outside the cookie path).
    Local,
    /// A live session: its owner applies the change.
    Owner(Arc<SessionCell>),
}

impl Session {
    pub(crate) fn new(
        rt: Arc<Core>,
        incoming: Option<String>,
        https: bool,
        in_scope: bool,
    ) -> Self {
        Session {
            inner: Arc::new(Inner {
                rt,
                incoming,
                https,
                in_scope,
                loaded: AtomicBool::new(false),
                finished: AtomicBool::new(false),
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The lock is never held across an await or user code, so poisoning
        // cannot leave the state half-updated.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads the session the incoming cookie names, once per request.
    async fn load(&self) -> Result<(), SessionError> {
        if self.inner.finished.load(Ordering::Acquire) {
            return Err(SessionError::Finished);
        }
        if self.inner.loaded.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.resolve_now() {
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

    fn set_loaded(&self, phase: Phase, renew: bool) {
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
    fn resolve_now(&self) -> Resolved {
        let inner = &self.inner;
        if !inner.in_scope {
            return Resolved::Done(Phase::Detached(SessionRecord::default()), false);
        }
        let fresh = Resolved::Done(Phase::Fresh(SessionRecord::default()), false);
        let config = inner.rt.config();
        let Some(value) = inner
            .incoming
            .as_deref()
            .and_then(|v| v.strip_prefix(config.cookie_prefix.as_str()))
        else {
            return fresh;
        };
        let Unsigned::Valid { id, renew } = config.signer.unsign(value) else {
            return fresh;
        };
        if !is_valid_id(&id) {
            return fresh;
        }
        let key = SessionKey::of_id(&id);
        match inner.rt.registry().live_cell(&key) {
            Some(cell) => match self.attach(&cell) {
                Attach::Live(snapshot) => Resolved::Done(Phase::Live(cell, snapshot), renew),
                Attach::Ended => fresh,
                Attach::Moved => Resolved::Activate { key, id, renew },
            },
            None if inner.rt.store().is_none() => fresh,
            // Retired (being written out), activating, or only in the store.
            _ => Resolved::Activate { key, id, renew },
        }
    }

    async fn load_from_store(
        &self,
        key: SessionKey,
        id: String,
        renew: bool,
    ) -> Result<(), SessionError> {
        let phase = match self.inner.rt.lookup(key, &id).await? {
            Some(cell) => self.reattach(cell).await?,
            None => Phase::Fresh(SessionRecord::default()),
        };
        let renew = renew && matches!(phase, Phase::Live(..));
        self.set_loaded(phase, renew);
        Ok(())
    }

    /// Registers this request's load of `cell`: extends its idle clock and
    /// returns the snapshot to read, unless the session has ended or has just
    /// been passivated (then it must be followed to the store).
    fn attach(&self, cell: &Arc<SessionCell>) -> Attach {
        let rt = &self.inner.rt;
        match cell.lifecycle() {
            Lifecycle::Alive => {}
            Lifecycle::Retired => return Attach::Moved,
            Lifecycle::Dead => return Attach::Ended,
        }
        let now = rt.now_ms();
        let snapshot = cell.current();
        if rt
            .expires_at(&snapshot.record, cell.last_access())
            .is_some_and(|t| t <= now)
        {
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
    async fn reattach(&self, cell: Arc<SessionCell>) -> Result<Phase, SessionError> {
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
    async fn read<T>(&self, read: impl FnOnce(&SessionRecord) -> T) -> Result<T, SessionError> {
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
    async fn mutate(&self, f: MutateFn) -> Result<Option<Value>, SessionError> {
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
                        st.phase = Phase::Live(cell, ok.snapshot);
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
    fn mutate_local(&self, f: MutateFn) -> Result<Option<Value>, SessionError> {
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
    async fn follow(&self, cell: &Arc<SessionCell>) -> Result<(), SessionError> {
        let next = match cell.lifecycle() {
            // Passivated: activate it again from the store.
            Lifecycle::Retired => self.reattach(cell.clone()).await?,
            // Destroyed or expired by someone else: never revived.
            Lifecycle::Dead | Lifecycle::Alive => Phase::Fresh(SessionRecord::default()),
        };
        self.state().phase = next;
        Ok(())
    }

    /// Creates the new session this request has been building.
    async fn create(&self, record: SessionRecord) -> Result<(), SessionError> {
        let rt = &self.inner.rt;
        let binding = self.state().binding.take();
        let cookie = record.cookie.clone();
        let created = rt.create(record, binding.as_ref()).await;
        let mut st = self.state();
        st.must_create = false;
        match created {
            Ok(Some(cell)) => {
                let snapshot = cell.current();
                st.phase = Phase::Live(cell, snapshot);
                st.id_changed = true;
                Ok(())
            }
            // Its user was revoked while this request built it: never created.
            Ok(None) => {
                st.phase = Phase::Destroyed(cookie);
                Ok(())
            }
            Err(e) => {
                st.binding = binding;
                Err(e)
            }
        }
    }

    /// Destroys the live session `cell`, following it to the store if it is
    /// passivated meanwhile. Returns how it ended if it was live.
    async fn destroy_live(
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

    /// The value under `key`, deserialized into `T`; `None` when absent.
    /// A value of another shape is [`SessionError::Decode`].
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        self.read(|r| {
            r.data
                .get(key)
                .map(|v| {
                    T::deserialize(v).map_err(|source| SessionError::Decode {
                        key: key.to_string(),
                        source,
                    })
                })
                .transpose()
        })
        .await?
    }

    /// All of the session's data as JSON values.
    pub async fn data(&self) -> Result<BTreeMap<String, Value>, SessionError> {
        self.read(|r| r.data.clone()).await
    }

    /// Stores `value` under `key` (any serde type).
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(SessionError::Encode)?;
        let key = key.to_string();
        self.mutate(Box::new(move |r| {
            r.data.insert(key, value);
            Ok(None)
        }))
        .await
        .map(|_| ())
    }

    /// Removes `key`; returns its previous value.
    pub async fn remove(&self, key: &str) -> Result<Option<Value>, SessionError> {
        let key = key.to_string();
        self.mutate(Box::new(move |r| Ok(r.data.remove(&key))))
            .await
    }

    /// Removes every key (the session and its id stay).
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.mutate(Box::new(|r| {
            r.data.clear();
            Ok(None)
        }))
        .await
        .map(|_| ())
    }

    /// Atomic read-modify-write of one key: `f` gets the current value
    /// (`None` when absent) and returns the new one, which is stored and
    /// returned. `f` runs inside the session's owner, so concurrent updates
    /// of one key never lose an increment. A current value that does not
    /// deserialize into `T` fails with [`SessionError::Decode`] and changes
    /// nothing.
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Core::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// let n = session.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).await.unwrap();
    /// assert_eq!(n, 1);
    /// session.insert("n", "not a number").await.unwrap();
    /// assert!(session.update("n", |n: Option<u64>| n.unwrap_or(0) + 1).await.is_err());
    /// # });
    /// ```
    pub async fn update<T, F>(&self, key: &str, f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: FnOnce(Option<T>) -> T + Send + 'static,
    {
        let key = key.to_string();
        let value = self
            .mutate(Box::new(move |r| {
                let current = r
                    .data
                    .get(&key)
                    .map(|v| {
                        T::deserialize(v).map_err(|source| SessionError::Decode {
                            key: key.clone(),
                            source,
                        })
                    })
                    .transpose()?;
                let new = serde_json::to_value(f(current)).map_err(SessionError::Encode)?;
                r.data.insert(key, new.clone());
                Ok(Some(new))
            }))
            .await?
            .unwrap_or(Value::Null);
        T::deserialize(value).map_err(|source| SessionError::Decode {
            key: String::new(),
            source,
        })
    }

    /// The session id, or `None` while the session is new and not stored
    /// yet. A new session (including one just regenerated) is stored when
    /// the request finishes, or at once by [`save`](Self::save).
    pub async fn id(&self) -> Result<Option<String>, SessionError> {
        self.load().await?;
        Ok(match &self.state().phase {
            Phase::Live(cell, _) => Some(cell.id().to_string()),
            _ => None,
        })
    }

    /// Binds the session to `user` so
    /// [`SessionManager::revoke_user`](crate::SessionManager::revoke_user) can end it. Call it right after
    /// [`regenerate`](Self::regenerate) at login.
    pub async fn bind_user(&self, user: &str) -> Result<(), SessionError> {
        let user = user.to_string();
        self.mutate(Box::new(move |r| {
            r.user = Some(user);
            Ok(None)
        }))
        .await
        .map(|_| ())
    }

    /// The user bound with [`bind_user`](Self::bind_user), if any.
    pub async fn user(&self) -> Result<Option<String>, SessionError> {
        self.read(|r| r.user.clone()).await
    }

    /// Replaces the session id (against fixation, e.g. at login): the keys in
    /// `keep` are carried over, the rest dropped, the user binding kept; the
    /// old id is invalid at once. The new session, with whatever the handler
    /// adds to it, is stored when the request finishes (one write) and its id
    /// starts a new absolute clock.
    pub async fn regenerate(&self, keep: &[&str]) -> Result<(), SessionError> {
        self.load().await?;
        let (old, mut record) = {
            let st = self.state();
            match &st.phase {
                Phase::Live(cell, _) => (Some(cell.clone()), SessionRecord::default()),
                Phase::Fresh(r) => (None, r.clone()),
                Phase::Detached(r) => {
                    let mut r = r.clone();
                    r.data.retain(|k, _| keep.contains(&k.as_str()));
                    drop(st);
                    self.state().phase = Phase::Detached(r);
                    return Ok(());
                }
                Phase::Unloaded | Phase::Destroyed(_) => (None, SessionRecord::default()),
            }
        };
        let mut binding = None;
        if let Some(old) = old {
            // The old session's final state, taken as it is destroyed, so a
            // concurrent write to a kept key is not lost; its owner registered
            // the user binding the new session carries before it ended.
            if let Some(ended) = self.destroy_live(old, Ending::Regenerate).await? {
                record = ended.record;
                binding = ended.binding;
            }
        }
        record.data.retain(|k, _| keep.contains(&k.as_str()));
        let new_record = SessionRecord {
            data: record.data,
            user: record.user,
            cookie: record.cookie,
            ..SessionRecord::default()
        };
        // The new session is created when the request finishes (or on
        // `save()`), with everything the handler adds to it meanwhile.
        let mut st = self.state();
        st.phase = Phase::Fresh(new_record);
        st.must_create = true;
        st.modified = true;
        if binding.is_some() {
            st.binding = binding;
        }
        Ok(())
    }

    /// Ends the session for good: its data is dropped, its id never valid
    /// again, and the response clears the cookie. Fails (changing nothing)
    /// only when the store cannot delete it.
    pub async fn destroy(&self) -> Result<(), SessionError> {
        self.load().await?;
        let (live, mut cookie) = match &self.state().phase {
            Phase::Live(cell, view) => (Some(cell.clone()), view.record.cookie.clone()),
            Phase::Fresh(r) => (None, r.cookie.clone()),
            Phase::Destroyed(cookie) => (None, cookie.clone()),
            _ => (None, CookieOverrides::default()),
        };
        if let Some(cell) = live {
            // Already ended (destroyed or expired by someone else) is fine.
            if let Some(ended) = self.destroy_live(cell, Ending::Logout).await? {
                cookie = ended.record.cookie;
            }
        }
        let mut st = self.state();
        if !matches!(st.phase, Phase::Detached(_)) {
            st.phase = Phase::Destroyed(cookie);
            st.binding = None;
            st.destroyed_here = true;
        }
        Ok(())
    }

    /// Refreshes this request's view with the session's latest state
    /// (changes made by concurrent requests become visible). Counts as a load:
    /// it extends the idle timeout. A session that has ended since becomes a
    /// fresh one; a new session not stored yet keeps its data.
    pub async fn reload(&self) -> Result<(), SessionError> {
        self.load().await?;
        let live = match &self.state().phase {
            Phase::Live(cell, _) => cell.clone(),
            // A session only this request can see is already up to date.
            _ => return Ok(()),
        };
        let next = self.reattach(live).await?;
        self.state().phase = next;
        Ok(())
    }

    /// Makes the session durable now: a new session is created (even when
    /// unmodified and save-uninitialized is off), and with a sync store its
    /// state is flushed before this returns. Changes are saved as they happen
    /// anyway; call this before a redirect or to force a cookie.
    pub async fn save(&self) -> Result<(), SessionError> {
        self.load().await?;
        let fresh = match &self.state().phase {
            Phase::Fresh(r) => Some(r.clone()),
            Phase::Unloaded | Phase::Destroyed(_) => Some(SessionRecord::default()),
            _ => None,
        };
        if let Some(record) = fresh {
            self.create(record).await?;
        }
        let mut st = self.state();
        st.saved = true;
        st.modified = false;
        Ok(())
    }

    /// Resets the idle timeout now (every load already does). A session that
    /// has reached its deadline is not revived.
    pub async fn touch(&self) -> Result<(), SessionError> {
        self.load().await?;
        let (cell, view) = match &self.state().phase {
            Phase::Live(cell, view) => (cell.clone(), view.clone()),
            _ => return Ok(()),
        };
        match self.attach(&cell) {
            // Touched; an ended session is not revived (finish sees it dead).
            Attach::Live(_) | Attach::Ended => {}
            // Passivated: touch it where it went, keeping this request's view.
            Attach::Moved => {
                if let Phase::Live(next, _) = self.reattach(cell).await? {
                    self.state().phase = Phase::Live(next, view);
                }
            }
        }
        Ok(())
    }

    /// Overrides cookie attributes for this session (persisted with it).
    /// Not a modification of the data.
    pub async fn options(&self, options: CookieOptions) -> Result<(), SessionError> {
        self.load().await?;
        {
            let mut st = self.state();
            if let Phase::Fresh(r) | Phase::Detached(r) = &mut st.phase {
                options.apply(&mut r.cookie);
                return Ok(());
            }
        }
        self.mutate(Box::new(move |r| {
            options.apply(&mut r.cookie);
            Ok(None)
        }))
        .await
        .map(|_| ())
    }

    /// Whether this request changed the session's data (since load or the
    /// last [`save`](Self::save)).
    pub fn is_modified(&self) -> bool {
        self.state().modified
    }

    /// Whether [`save`](Self::save) succeeded in this request.
    pub fn is_saved(&self) -> bool {
        self.state().saved
    }

    /// Finishes the request: with a sync store, waits until this request's
    /// changes are on disk, then returns the `Set-Cookie` header values to
    /// send. Adapters call it after the handler, whatever its outcome.
    pub async fn finish(&self) -> Result<Vec<String>, SessionError> {
        if self.inner.finished.swap(true, Ordering::AcqRel) {
            return Err(SessionError::Finished);
        }
        let rt = &self.inner.rt;
        let config = rt.config();
        let pending = {
            let st = self.state();
            match &st.phase {
                Phase::Fresh(r) if st.modified || st.must_create || config.save_uninitialized => {
                    Some(r.clone())
                }
                _ => None,
            }
        };
        if let Some(record) = pending {
            Box::pin(self.create(record)).await?;
        }
        // Passivated while the handler ran (or regenerated away and then
        // passivated): find out what became of the id before answering.
        let retired = match &self.state().phase {
            Phase::Live(cell, _) if cell.lifecycle() == Lifecycle::Retired => Some(cell.clone()),
            _ => None,
        };
        if let Some(cell) = retired {
            let next = Box::pin(self.reattach(cell)).await?;
            let mut st = self.state();
            match next {
                Phase::Live(..) => st.phase = next,
                // Ended meanwhile: answered below like a destroyed session.
                _ => st.ended_elsewhere = true,
            }
        }
        let st = self.state();
        let had_cookie = self.inner.incoming.is_some();
        let https = self.inner.https;
        Ok(match &st.phase {
            Phase::Unloaded | Phase::Detached(_) => Vec::new(),
            // Destroyed by this request (logout): clear the cookie.
            Phase::Destroyed(cookie) if had_cookie => {
                vec![response::clearing_cookie(rt, cookie, https)]
            }
            // The cookie named no session: clear it, as fastify does, unless
            // its id ended a moment ago (this request was sent before a
            // logout or login answered, and the browser holds a newer cookie).
            Phase::Fresh(_)
                if had_cookie && (st.destroyed_here || !self.incoming_ended_recently()) =>
            {
                vec![response::clearing_cookie(
                    rt,
                    &CookieOverrides::default(),
                    https,
                )]
            }
            Phase::Fresh(_) | Phase::Destroyed(_) => Vec::new(),
            Phase::Live(cell, _) => {
                if cell.lifecycle() == Lifecycle::Dead || st.ended_elsewhere {
                    // Ended by a concurrent request: never re-send its id, and
                    // clear it only if it expired or was revoked.
                    if had_cookie && !st.id_changed && !rt.ended_recently(&cell.key) {
                        let cookie = &cell.current().record.cookie;
                        vec![response::clearing_cookie(rt, cookie, https)]
                    } else {
                        Vec::new()
                    }
                } else if st.id_changed || st.renew || st.modified || st.saved || config.rolling {
                    let snapshot = cell.current();
                    vec![response::session_cookie(
                        rt,
                        &cell.cookie_value,
                        &snapshot.record,
                        https,
                    )]
                } else {
                    Vec::new()
                }
            }
        })
    }

    /// Whether the incoming cookie validly names an id that was destroyed
    /// or regenerated away a moment ago.
    fn incoming_ended_recently(&self) -> bool {
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
