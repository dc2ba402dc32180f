//! The lifecycle API of [`Session`]: regenerate, destroy, reload, save,
//! touch, options, and finish (the `Set-Cookie` values).

use super::decision::{decide, Decision, Inputs, Live, Outcome};
use super::loading::move_on_from;
use super::response::{self, CookieOptions};
use super::state::{Attach, Phase};
use super::Session;
use crate::core::cell::Lifecycle;
use crate::core::change::Ending;
use crate::error::SessionError;
use crate::store::SessionRecord;
use std::sync::atomic::Ordering;

impl Session {
    /// Replaces the session id (against fixation, e.g. at login): the keys in
    /// `keep` are carried over, the rest dropped, the user binding kept; the
    /// old id is invalid at once. The new session, with whatever the handler
    /// adds to it, is stored when the request finishes (one write) and its id
    /// starts a new absolute clock.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("cart", vec![7]).await.unwrap();
    /// session.insert("csrf", "token").await.unwrap();
    /// session.save().await.unwrap();
    /// let before = session.id().await.unwrap();
    ///
    /// // Login: a new id, keeping the cart but not the anonymous CSRF token.
    /// session.regenerate(&["cart"]).await.unwrap();
    /// session.bind_user("alice").await.unwrap();
    /// session.save().await.unwrap();
    /// assert_ne!(session.id().await.unwrap(), before);
    /// assert_eq!(session.get::<Vec<u32>>("cart").await.unwrap(), Some(vec![7]));
    /// assert_eq!(session.get::<String>("csrf").await.unwrap(), None);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the old session cannot be deleted (it stays
    /// as it was) or its deletion cannot be flushed (it has ended, as with
    /// [`destroy`](Self::destroy), and no new session replaces it),
    /// [`SessionError::Unavailable`] while the manager shuts down,
    /// [`SessionError::Finished`] after the response was sent.
    pub async fn regenerate(&self, keep: &[&str]) -> Result<(), SessionError> {
        self.load().await?;
        let (old, mut record) = {
            let st = self.state();
            match &st.phase {
                Phase::Live(cell, _) => (Some(cell.clone()), SessionRecord::default()),
                Phase::Fresh(r) => (None, r.clone()),
                Phase::Detached(r) => {
                    let mut r = r.clone();
                    r.data.retain(|k, _| keep.contains(&k));
                    drop(st);
                    self.state().phase = Phase::Detached(r);
                    return Ok(());
                }
                Phase::Unloaded | Phase::Destroyed(_) => (None, SessionRecord::default()),
            }
        };
        let was_live = old.is_some();
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
        record.data.retain(|k, _| keep.contains(&k));
        let mut new_record = SessionRecord {
            data: record.data,
            user: record.user,
            cookie: record.cookie,
            ..SessionRecord::default()
        };
        // The new session is created when the request finishes (or on
        // `save()`), with everything the handler adds to it meanwhile.
        let mut st = self.state();
        if let (true, Phase::Fresh(meanwhile)) = (was_live, &st.phase) {
            // A clone's change found the old session ended while this waited
            // and started a fresh one: it was acknowledged, so it goes into
            // the new session too.
            for (key, value) in meanwhile.data.iter() {
                new_record.data.insert(key.to_string(), value.clone());
            }
            if meanwhile.user.is_some() {
                // Bound by the clone, whose binding the request holds now.
                new_record.user = meanwhile.user.clone();
                binding = None;
            }
        }
        st.phase = Phase::Fresh(new_record);
        st.must_create = true;
        st.modified = true;
        if binding.is_some() {
            st.binding = binding;
        }
        Ok(())
    }

    /// Ends the session for good: its data is dropped, its id never valid
    /// again, and the response clears the cookie. Fails only when the store
    /// cannot delete it (changing nothing) or cannot flush the deletion (see
    /// Errors).
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// let login = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// login.insert("user", "alice").await.unwrap();
    /// let cookie = login.finish().await.unwrap().remove(0);
    /// let cookie = cookie.split(';').next().unwrap(); // "sessionId=..."
    ///
    /// // Logout:
    /// let logout = manager.start(&RequestInfo { cookie_header: Some(cookie), path: "/", ..Default::default() });
    /// logout.destroy().await.unwrap();
    /// let set_cookie = logout.finish().await.unwrap();
    /// assert!(set_cookie[0].starts_with("sessionId=; Max-Age=0")); // the browser drops it
    ///
    /// // The old cookie now starts a fresh, empty session.
    /// let later = manager.start(&RequestInfo { cookie_header: Some(cookie), path: "/", ..Default::default() });
    /// assert_eq!(later.get::<String>("user").await.unwrap(), None);
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store cannot delete it (it stays as it
    /// was), or deleted it but could not flush the deletion: the session has
    /// ended here and is never served again by this process, but a store
    /// that loses its unflushed writes in a crash may hold it after a
    /// restart; [`SessionError::Unavailable`] while the manager shuts down;
    /// [`SessionError::Finished`] after the response was sent.
    pub async fn destroy(&self) -> Result<(), SessionError> {
        self.load().await?;
        let (live, mut cookie) = match &self.state().phase {
            Phase::Live(cell, view) => (Some(cell.clone()), view.record.cookie.clone()),
            Phase::Fresh(r) => (None, r.cookie.clone()),
            Phase::Destroyed(cookie) => (None, cookie.clone()),
            _ => (None, None),
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
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// let first = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// first.insert("n", 1).await.unwrap();
    /// let cookie = first.finish().await.unwrap().remove(0);
    /// let cookie = cookie.split(';').next().unwrap();
    /// let request = RequestInfo { cookie_header: Some(cookie), path: "/", ..Default::default() };
    ///
    /// // Two concurrent requests on the same session:
    /// let a = manager.start(&request);
    /// let b = manager.start(&request);
    /// assert_eq!(a.get::<i64>("n").await.unwrap(), Some(1));
    /// b.insert("n", 2).await.unwrap();
    /// assert_eq!(a.get::<i64>("n").await.unwrap(), Some(1)); // a's view, as loaded
    /// a.reload().await.unwrap();
    /// assert_eq!(a.get::<i64>("n").await.unwrap(), Some(2)); // b's write
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn reload(&self) -> Result<(), SessionError> {
        self.load().await?;
        let live = match &self.state().phase {
            Phase::Live(cell, _) => cell.clone(),
            // A session only this request can see is already up to date.
            _ => return Ok(()),
        };
        let next = if self.inner.rt.is_shared() {
            self.validated(live.clone()).await?
        } else {
            self.reattach(live.clone()).await?
        };
        move_on_from(&mut self.state(), &live, next);
        Ok(())
    }

    /// Makes the session durable now: a new session is created (even when
    /// unmodified and save-uninitialized is off), and with a sync store its
    /// state is flushed before this returns. Changes are saved as they happen
    /// anyway; call this before a redirect or to force a cookie.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("step", 2).await.unwrap();
    /// session.save().await.unwrap(); // stored (and flushed with a sync store) before a redirect
    /// assert!(session.is_saved());
    /// assert!(session.id().await.unwrap().is_some());
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
    pub async fn save(&self) -> Result<(), SessionError> {
        self.load().await?;
        let (fresh, destroyed) = {
            let mut st = self.state();
            match &st.phase {
                Phase::Fresh(r) => (Some(r.clone()), None),
                Phase::Unloaded | Phase::Destroyed(_) => {
                    // A new, empty session (as a change would start one):
                    // what `create` finds again unless a clone moves it on.
                    let before =
                        std::mem::replace(&mut st.phase, Phase::Fresh(SessionRecord::default()));
                    (Some(SessionRecord::default()), Some(before))
                }
                _ => (None, None),
            }
        };
        if let Some(record) = fresh {
            if let Err(e) = self.create(record).await {
                // Not created: a destroyed session stays destroyed, so the
                // response still clears its cookie.
                if let Some(before) = destroyed {
                    let mut st = self.state();
                    if matches!(&st.phase, Phase::Fresh(r) if *r == SessionRecord::default()) {
                        st.phase = before;
                    }
                }
                return Err(e);
            }
        }
        let mut st = self.state();
        st.saved = true;
        st.modified = false;
        Ok(())
    }

    /// Resets the idle timeout now (every load already does). A session that
    /// has reached its deadline is not revived.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// # session.save().await.unwrap();
    /// // A keep-alive endpoint: the user is still there, nothing changed.
    /// session.touch().await.unwrap();
    /// assert!(!session.is_modified());
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, and [`SessionError::Finished`] after the response was sent.
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
                if let Phase::Live(next, _) = self.reattach(cell.clone()).await? {
                    move_on_from(&mut self.state(), &cell, Phase::Live(next, view));
                }
            }
        }
        Ok(())
    }

    /// Overrides cookie attributes for this session (persisted with it).
    /// Not a modification of the data.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// use livesession::CookieOptions;
    /// use std::time::Duration;
    ///
    /// // "Remember me" at login: this session lives 30 days instead of the default.
    /// let session = manager.start(&RequestInfo { path: "/login", ..Default::default() });
    /// session.bind_user("alice").await.unwrap();
    /// session.options(CookieOptions::default().max_age(Duration::from_secs(30 * 86400))).await.unwrap();
    /// let set_cookie = session.finish().await.unwrap();
    /// let expires = set_cookie[0].split("; ").find_map(|a| a.strip_prefix("Expires=")).unwrap();
    /// let expires = httpdate::parse_http_date(expires).unwrap();
    /// assert!(expires > std::time::SystemTime::now() + Duration::from_secs(29 * 86400));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails or times out (nothing of
    /// the call is applied), [`SessionError::Unavailable`] while the manager
    /// shuts down, [`SessionError::Finished`] after the response was sent,
    /// and [`SessionError::Invalid`] for a `domain` that is not a plain
    /// attribute value (`;`, white space or control characters would add
    /// attributes of their own to the `Set-Cookie`; nothing is applied).
    pub async fn options(&self, options: CookieOptions) -> Result<(), SessionError> {
        options.check()?;
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
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// assert!(!session.is_modified());
    /// session.insert("theme", "dark").await.unwrap();
    /// assert!(session.is_modified());
    /// session.save().await.unwrap();
    /// assert!(!session.is_modified()); // saved since
    /// # });
    /// ```
    pub fn is_modified(&self) -> bool {
        self.state().modified
    }

    /// Whether [`save`](Self::save) succeeded in this request.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("theme", "dark").await.unwrap();
    /// assert!(!session.is_saved()); // changed, but not saved explicitly
    /// session.save().await.unwrap();
    /// assert!(session.is_saved());
    /// # });
    /// ```
    pub fn is_saved(&self) -> bool {
        self.state().saved
    }

    /// Finishes the request (see [`RequestSession::finish`], the only way
    /// to call it): later calls on any clone fail with `Finished`.
    ///
    /// [`RequestSession::finish`]: super::RequestSession::finish
    pub(super) async fn finish_response(&self) -> Result<Vec<String>, SessionError> {
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
        let (outcome, clear_with, send) = {
            let st = self.state();
            match &st.phase {
                Phase::Unloaded | Phase::Detached(_) => (Outcome::Untouched, None, None),
                Phase::Destroyed(cookie) => (Outcome::DestroyedHere, Some(cookie.clone()), None),
                Phase::Fresh(_) if st.destroyed_here => (Outcome::DestroyedHere, None, None),
                Phase::Fresh(_) => (Outcome::NoSession, None, None),
                Phase::Live(cell, _) => {
                    let live = Live {
                        ended_elsewhere: cell.lifecycle() == Lifecycle::Dead || st.ended_elsewhere,
                        id_issued_here: st.id_changed,
                        resign: st.renew,
                        modified: st.modified,
                        saved: st.saved,
                    };
                    // Only the cookie overrides (for a clearing cookie), not
                    // the whole record: most sessions have none to copy.
                    let overrides = cell.current().record.cookie.clone();
                    let send = (!live.ended_elsewhere).then(|| cell.clone());
                    (Outcome::Live(live), Some(overrides), send)
                }
            }
        };
        let had_cookie = self.inner.incoming.is_some();
        let decision = decide(Inputs {
            outcome,
            had_cookie,
            cookie_ended_recently: Inputs::needs_ended_recently(outcome, had_cookie)
                && self.incoming_ended_recently(),
            rolling: config.rolling,
        });
        let https = self.inner.https;
        Ok(match (decision, send) {
            (Decision::Nothing, _) => Vec::new(),
            (Decision::Send, Some(cell)) => {
                let snapshot = cell.current();
                vec![response::session_cookie(
                    rt,
                    &cell.cookie_value,
                    &snapshot.record,
                    https,
                )]
            }
            (Decision::Send, None) => Vec::new(),
            (Decision::Clear, _) => {
                let cookie = clear_with.flatten();
                vec![response::clearing_cookie(rt, &cookie, https)]
            }
        })
    }
}
