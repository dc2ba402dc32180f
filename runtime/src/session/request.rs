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
    pub fn session(&self) -> Session {
        self.session.clone()
    }

    /// Finishes the request: with a sync store, waits until this request's
    /// changes are on disk, then returns the `Set-Cookie` header values to
    /// send. Call it after the handler, whatever its outcome; every call on
    /// the request's `Session` afterwards fails with
    /// [`SessionError::Finished`].
    ///
    /// # Errors
    ///
    /// [`SessionError::Store`] when a new session cannot be created (no cookie
    /// is sent for it), [`SessionError::Overloaded`] when the live-session
    /// bound refuses it, [`SessionError::Finished`] when called twice.
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
