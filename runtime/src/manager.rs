//! The entry point: [`SessionManager`] turns requests into [`Session`]
//! handles, and is the facade for what concerns all sessions (a user's
//! sessions, revoke, statistics, shutdown).

use crate::config::SessionConfig;
use crate::cookie::find_cookie;
use crate::core::cell::Lifecycle;
use crate::core::change::Ending;
use crate::core::Core;
use crate::error::SessionError;
use crate::session::{RequestSession, Session};
use crate::user_session::UserSession;
use futures::StreamExt;
use std::sync::Arc;
use tracing::Instrument;

/// Live sessions [`SessionManager::shutdown`] writes out concurrently.
const SHUTDOWN_WRITES_AT_ONCE: usize = 64;

/// What an adapter extracts from a request.
///
/// An adapter fills it from the framework's request; fields it does not know
/// stay at their defaults:
///
/// ```
/// use livesession::RequestInfo;
/// // From a request such as `GET /cart?page=2` behind a TLS-terminating proxy:
/// let info = RequestInfo {
///     cookie_header: Some("sessionId=abc.def; theme=dark"),
///     path: "/cart", // without "?page=2"
///     tls: false,    // the proxy talks plain HTTP to us
///     forwarded_proto: Some("https"),
/// };
/// assert_eq!(RequestInfo::default().path, "");
/// # let _ = info;
/// ```
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
///
/// ```
/// # use livesession::{RequestInfo, SessionConfig, SessionManager, Stats};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
/// let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
/// session.insert("n", 1).await.unwrap();
/// session.finish().await.unwrap();
/// assert_eq!(manager.stats().await.unwrap(), Stats { live: 1, stored: 0 }); // no store
/// // It serializes for a monitoring endpoint:
/// assert_eq!(serde_json::to_string(&manager.stats().await.unwrap()).unwrap(), r#"{"live":1,"stored":0}"#);
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Session actors alive now (plus any being activated).
    pub live: u64,
    /// Records in the durable store (0 without one).
    pub stored: u64,
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
    rt: Arc<Core>,
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
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::MemoryStore;
    /// use livesession::{SessionConfig, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret(std::env::var("SESSION_SECRET").unwrap_or_else(|_| "a secret of at least thirty-two bytes!".into()))
    ///         .store(Arc::new(MemoryStore::new())) // livesession-sled or livesession-redis in production
    ///         .build()
    ///         .unwrap(),
    /// );
    /// assert!(manager.config().is_durable());
    /// // Clones share every session: give one to each server task.
    /// let for_the_router = manager.clone();
    /// # let _ = for_the_router;
    /// # });
    /// ```
    pub fn new(config: SessionConfig) -> Self {
        let rt = Core::new(config);
        rt.ensure_background();
        SessionManager { rt }
    }

    /// The configuration in use.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").cookie_name("sid").build().unwrap(),
    /// );
    /// assert_eq!(manager.config().cookie_name(), "sid");
    /// # });
    /// ```
    pub fn config(&self) -> &SessionConfig {
        &self.rt.config
    }

    /// The session of one request. Nothing is loaded until the handler
    /// first uses it; give the handler [`RequestSession::session`] and call
    /// [`RequestSession::finish`] after it to get the `Set-Cookie` values.
    ///
    /// # Examples
    ///
    /// What an adapter does around each handler:
    ///
    /// ```
    /// use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").trust_proxy(true).build().unwrap(),
    /// );
    /// let request = manager.start(&RequestInfo {
    ///     cookie_header: None,
    ///     path: "/",
    ///     tls: false,
    ///     forwarded_proto: Some("https"), // trusted: the proxy terminated TLS
    /// });
    /// request.session().insert("theme", "dark").await.unwrap(); // the handler
    /// let set_cookie = request.finish().await.unwrap();
    /// assert!(set_cookie[0].contains("; Secure")); // the client used HTTPS
    /// # });
    /// ```
    pub fn start(&self, req: &RequestInfo<'_>) -> RequestSession {
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
        RequestSession::new(Session::new(self.rt.clone(), incoming, https, in_scope))
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
    pub fn session_from_cookie(&self, value: &str) -> RequestSession {
        RequestSession::new(Session::new(
            self.rt.clone(),
            Some(value.to_string()),
            false,
            true,
        ))
    }

    /// Destroys every unexpired session bound to `user` (see
    /// [`Session::bind_user`]), live or only in the store. Returns how many.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// // alice is logged in on a laptop and a phone.
    /// let mut cookies = Vec::new();
    /// for _ in 0..2 {
    ///     let login = manager.start(&RequestInfo { path: "/login", ..Default::default() });
    ///     login.bind_user("alice").await.unwrap();
    ///     cookies.push(login.finish().await.unwrap().remove(0));
    /// }
    /// // She changes her password: every session of hers ends.
    /// assert_eq!(manager.revoke_user("alice").await.unwrap(), 2);
    /// let cookie = cookies[0].split(';').next().unwrap();
    /// let laptop = manager.start(&RequestInfo { cookie_header: Some(cookie), path: "/", ..Default::default() });
    /// assert_eq!(laptop.user().await.unwrap(), None); // logged out
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails; sessions revoked before
    /// the failure stay revoked, and calling it again finishes the job.
    pub async fn revoke_user(&self, user: &str) -> Result<usize, SessionError> {
        // The span names no user: user ids are personal data.
        self.revoke_user_now(user)
            .instrument(tracing::info_span!("livesession.revoke"))
            .await
    }

    async fn revoke_user_now(&self, user: &str) -> Result<usize, SessionError> {
        // Sessions bound to `user` that exist only inside a request are
        // refused at creation from now until the revoke ends.
        let _revoking = self.rt.bindings.begin_revoke(user);
        let mut revoked = 0;
        for cell in self.rt.registry.live_bound_to(user) {
            if self
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

    /// Every unexpired session bound to `user` (see [`Session::bind_user`]),
    /// live in this process or only in the store, newest first: a "your
    /// devices" page. Each comes with a [`handle`](UserSession::handle) to end
    /// it by with [`end_session_of_user`](Self::end_session_of_user); see
    /// [`UserSession`] for an example and what each time means per backend.
    /// On a shared store the store's records are the truth, so every process
    /// sharing it lists the same sessions under the same handles.
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// let login = manager.start(&RequestInfo { path: "/login", ..Default::default() });
    /// login.bind_user("alice").await.unwrap();
    /// login.finish().await.unwrap();
    ///
    /// let devices = manager.sessions_of_user("alice").await.unwrap();
    /// assert_eq!(devices.len(), 1);
    /// assert_eq!(devices[0].handle.len(), 22); // safe to show: not a cookie
    /// assert!(manager.sessions_of_user("bob").await.unwrap().is_empty());
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails.
    pub async fn sessions_of_user(&self, user: &str) -> Result<Vec<UserSession>, SessionError> {
        self.rt.sessions_of_user(user).await
    }

    /// Destroys the one session of `user` named `handle` (from
    /// [`sessions_of_user`](Self::sessions_of_user)), as finally as
    /// [`revoke_user`](Self::revoke_user) would: its cookie starts a fresh
    /// session from then on, on every process sharing the store. Returns
    /// `false` when `user` has no such unexpired session (an unknown handle,
    /// or another user's session: that one is left alone).
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let login = manager.start(&RequestInfo { path: "/login", ..Default::default() });
    /// # login.bind_user("alice").await.unwrap();
    /// # login.finish().await.unwrap();
    /// let handle = manager.sessions_of_user("alice").await.unwrap()[0].handle.clone();
    /// // A handle is only good for its own user:
    /// assert!(!manager.end_session_of_user("mallory", &handle).await.unwrap());
    /// assert!(manager.end_session_of_user("alice", &handle).await.unwrap());
    /// assert!(!manager.end_session_of_user("alice", &handle).await.unwrap()); // already gone
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store fails; the session then stays
    /// as it was or is gone, and calling it again finishes the job.
    pub async fn end_session_of_user(
        &self,
        user: &str,
        handle: &str,
    ) -> Result<bool, SessionError> {
        self.rt.end_session_of_user(user, handle).await
    }

    /// Live actors and stored records right now.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::MemoryStore;
    /// use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(Arc::new(MemoryStore::new()))
    ///         .build()
    ///         .unwrap(),
    /// );
    /// let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("n", 1).await.unwrap();
    /// session.finish().await.unwrap();
    /// let stats = manager.stats().await.unwrap();
    /// assert_eq!((stats.live, stats.stored), (1, 1));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when the store cannot count its records.
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
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// // A health check: never more alarms than live sessions.
    /// let stats = manager.stats().await.unwrap();
    /// assert!(manager.pending_alarms() as u64 <= stats.live);
    /// # });
    /// ```
    pub fn pending_alarms(&self) -> usize {
        self.rt.alarms.len()
    }

    /// Removes expired records from the store now (the background sweeper
    /// does this every sweep interval).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore};
    /// use livesession::{SessionConfig, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = Arc::new(MemoryStore::new());
    /// let expired = SessionRecord { expires_at_ms: Some(1), ..SessionRecord::default() }; // in 1970
    /// store.save(&SessionKey::of_id("old"), &expired).await.unwrap();
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(store.clone())
    ///         .build()
    ///         .unwrap(),
    /// );
    /// manager.sweep_expired().await;
    /// assert_eq!(store.count().await.unwrap(), 0);
    /// # });
    /// ```
    pub async fn sweep_expired(&self) {
        self.rt.sweep_once().await;
    }

    /// Graceful shutdown: refuses new sessions, writes every live session to
    /// the store (up to 64 at a time, so that a store committing in groups
    /// shares its flushes among them), stops the actors and flushes. Without
    /// a store, live sessions are simply dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::{MemoryStore, SessionStore};
    /// use livesession::{RequestInfo, SessionConfig, SessionError, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = Arc::new(MemoryStore::new());
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(store.clone())
    ///         .build()
    ///         .unwrap(),
    /// );
    /// let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// session.insert("n", 1).await.unwrap();
    /// session.finish().await.unwrap();
    ///
    /// // On SIGTERM, after the server stopped accepting requests:
    /// manager.shutdown().await.unwrap();
    /// assert_eq!(store.count().await.unwrap(), 1); // the session survives a restart
    /// // A request that slipped in afterwards gets no new session.
    /// let late = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// late.insert("n", 2).await.unwrap();
    /// assert!(matches!(late.finish().await, Err(SessionError::Unavailable(_))));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when a live session cannot be written out or the
    /// final flush fails (the first such error; every other session is still
    /// written).
    pub async fn shutdown(&self) -> Result<(), SessionError> {
        self.rt.begin_shutdown();
        let Some(store) = self.rt.store() else {
            for cell in self.rt.registry.live() {
                // Nothing to persist: end it here, with its owner.
                if let Some(owner) = self.rt.retire_cell(&cell, Lifecycle::Dead) {
                    owner.kill();
                }
            }
            return Ok(());
        };
        // Written out several at a time: a store that commits in groups
        // (the sled store with sync durability) shares its flushes among them.
        let mut retiring = futures::stream::iter(self.rt.registry.live())
            .map(|cell| async move { (self.rt.retire(&cell).await, cell) })
            .buffer_unordered(SHUTDOWN_WRITES_AT_ONCE);
        let mut first_error = None;
        while let Some((result, cell)) = retiring.next().await {
            if let Err(e) = result {
                tracing::error!(key = ?cell.key, error = %e, "could not persist a session at shutdown");
                first_error.get_or_insert(e);
            }
        }
        store.flush().await?;
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
