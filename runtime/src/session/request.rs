//! The session as the adapter holds it for one request: the handle
//! handlers use, and the end of the request, which only the adapter calls.

use super::Session;
use crate::error::SessionError;
use std::ops::Deref;

/// One request's session as its adapter holds it.
///
/// Handlers get the [`Session`] (through `Deref`, or a clone from
/// [`session`](Self::session)), which has no way to end the request; the
/// adapter calls [`finish`](Self::finish) once the handler is done, and
/// sends the `Set-Cookie` values it returns.
///
/// # Examples
///
/// ```
/// use livesession::{RequestInfo, SessionConfig, SessionManager};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
/// let request = manager.start(&RequestInfo { path: "/", ..Default::default() });
/// let for_the_handler = request.session();
/// for_the_handler.insert("theme", "dark").await.unwrap();
/// let set_cookie = request.finish().await.unwrap();
/// assert!(set_cookie[0].starts_with("sessionId="));
/// // The handler's handle is done with the request.
/// assert!(for_the_handler.get::<String>("theme").await.is_err());
/// # });
/// ```
#[derive(Debug)]
pub struct RequestSession {
    session: Session,
}

impl RequestSession {
    pub(crate) fn new(session: Session) -> Self {
        RequestSession { session }
    }

    /// The handle to give the handler (a clone: the same request's session).
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// let request = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// let handle = request.session();
    /// handle.insert("theme", "dark").await.unwrap();
    /// // The same session, seen through the adapter's hold on it:
    /// assert_eq!(request.get::<String>("theme").await.unwrap().as_deref(), Some("dark"));
    /// # });
    /// ```
    pub fn session(&self) -> Session {
        self.session.clone()
    }

    /// Finishes the request: with a sync store, waits until this request's
    /// changes are on disk, then returns the `Set-Cookie` header values to
    /// send. Call it after the handler, whatever its outcome; every call on
    /// the request's `Session` afterwards fails with
    /// [`SessionError::Finished`].
    ///
    /// The values are complete `Set-Cookie` header values: none when the
    /// cookie needs no change, the session's cookie, or a clearing cookie
    /// (after a logout, or for a cookie naming no session).
    ///
    /// # Examples
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionError, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// let request = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// request.insert("n", 1).await.unwrap();
    /// let set_cookie = request.finish().await.unwrap();
    /// assert_eq!(set_cookie.len(), 1); // a new session: its cookie
    /// assert!(matches!(request.finish().await, Err(SessionError::Finished)));
    ///
    /// let read_only = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// assert_eq!(read_only.get::<i32>("n").await.unwrap(), None);
    /// assert!(read_only.finish().await.unwrap().is_empty()); // nothing to send
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// When the request created a session (or must send one) and that fails,
    /// no cookie is sent for it and the adapter answers with the error's
    /// [`http_status`](SessionError::http_status):
    ///
    /// * [`SessionError::Unavailable`] after [`SessionManager::shutdown`]
    ///   (or while it runs) for a session this request would create; rarely,
    ///   when a session kept moving between memory and the store, or stayed
    ///   in passivation too long;
    /// * [`SessionError::Store`] when the store fails to create the new
    ///   session, or to load back a session passivated while the handler ran;
    /// * [`SessionError::Overloaded`] when the live-session bound
    ///   ([`max_live_sessions`](crate::SessionConfigBuilder::max_live_sessions))
    ///   refuses a new session;
    /// * [`SessionError::Invalid`] when a custom
    ///   [`id_generator`](crate::SessionConfigBuilder::id_generator) returns
    ///   an invalid id, or only ids in use;
    /// * [`SessionError::Finished`] when called a second time.
    ///
    /// ```
    /// # use livesession::{RequestInfo, SessionConfig, SessionError, SessionManager};
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// manager.shutdown().await.unwrap();
    /// let late = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// late.insert("n", 1).await.unwrap();
    /// assert!(matches!(late.finish().await, Err(SessionError::Unavailable(_))));
    /// # });
    /// ```
    ///
    /// [`SessionManager::shutdown`]: crate::SessionManager::shutdown
    pub async fn finish(&self) -> Result<Vec<String>, SessionError> {
        self.session.finish_response().await
    }
}

impl Deref for RequestSession {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}
