//! Errors a handler can get from a [`Session`](crate::Session).

use crate::store::StoreError;

/// The body of a response to a backend failure: nothing of the failure's
/// own text reaches a client.
pub const BACKEND_FAILURE_BODY: &str = "internal server error";

/// A failed session operation. [`SessionError::is_backend_failure`] separates
/// server-side failures (answer 5xx) from data that does not fit the request
/// (answer 4xx).
///
/// # Examples
///
/// ```
/// use livesession::{RequestInfo, SessionConfig, SessionError, SessionManager};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
/// let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
/// session.insert("age", "forty-two").await.unwrap();
/// let err = session.get::<u32>("age").await.unwrap_err();
/// assert!(matches!(&err, SessionError::Decode { key, .. } if key == "age"));
/// // The client's data, not the server, is at fault:
/// assert!(!err.is_backend_failure());
/// assert_eq!(err.http_status(), 409);
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The stored value under `key` does not deserialize into the requested type.
    #[error("session value {key:?} does not have the requested type: {source}")]
    Decode {
        /// The session key read.
        key: String,
        /// Why decoding failed.
        source: serde_json::Error,
    },
    /// The value given could not be serialized.
    #[error("could not serialize the session value: {0}")]
    Encode(serde_json::Error),
    /// The durable store failed; nothing of the operation was applied.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A change would take the session past a configured limit; nothing of it
    /// was applied.
    #[error("session limit exceeded: {0}")]
    LimitExceeded(String),
    /// The runtime was misused or misconfigured (e.g. the id generator
    /// returned an invalid id).
    #[error("{0}")]
    Invalid(String),
    /// An `update` closure panicked; the session was left unchanged.
    #[error("the update function panicked; the session is unchanged")]
    UpdatePanicked,
    /// The session was used after its response was sent (e.g. from a task
    /// spawned by the handler): nothing was read or changed.
    #[error("the session was used after its response was sent")]
    Finished,
    /// The runtime is shutting down or the session's owner is unreachable.
    #[error("the session runtime is unavailable: {0}")]
    Unavailable(String),
    /// No room for another live session: the bound set with
    /// [`max_live_sessions`](crate::SessionConfigBuilder::max_live_sessions)
    /// is reached and there is no store to passivate sessions to (503).
    #[error("too many live sessions (the bound is {0}); try again later")]
    Overloaded(usize),
}

impl SessionError {
    /// The HTTP status an adapter answers with: 503 when the live-session
    /// bound is reached, 500 for other backend failures, 409 for a stored
    /// value of another type, 413 for a session over its limits.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{SessionError, StoreError};
    /// assert_eq!(SessionError::Store(StoreError::backend("disk")).http_status(), 500);
    /// assert_eq!(SessionError::LimitExceeded("too big".into()).http_status(), 413);
    /// assert_eq!(SessionError::Overloaded(10_000).http_status(), 503);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            SessionError::Overloaded(_) => 503,
            _ if self.is_backend_failure() => 500,
            SessionError::Decode { .. } => 409,
            SessionError::LimitExceeded(_) => 413,
            _ => 400,
        }
    }

    /// What a client may read of this error: the message for data that does
    /// not fit (4xx), and the fixed [`BACKEND_FAILURE_BODY`] for a backend
    /// failure, whose text (store paths, OS errors, ...) belongs in the log.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{SessionError, StoreError};
    /// let disk = SessionError::Store(StoreError::backend("/data: No space left on device"));
    /// assert_eq!(disk.client_message(), "internal server error");
    /// let big = SessionError::LimitExceeded("session data over 4 MiB".into());
    /// assert!(big.client_message().contains("4 MiB"));
    /// ```
    pub fn client_message(&self) -> String {
        if let SessionError::Overloaded(_) = self {
            "too many sessions; try again later".to_string()
        } else if self.is_backend_failure() {
            BACKEND_FAILURE_BODY.to_string()
        } else {
            self.to_string()
        }
    }

    /// True when the server side failed (store, runtime): a 5xx.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{SessionError, StoreError};
    /// assert!(SessionError::Store(StoreError::backend("connection refused")).is_backend_failure());
    /// assert!(SessionError::Finished.is_backend_failure()); // a handler bug
    /// assert!(!SessionError::LimitExceeded("over 4 KiB".into()).is_backend_failure());
    /// ```
    pub fn is_backend_failure(&self) -> bool {
        matches!(
            self,
            SessionError::Store(_)
                | SessionError::Unavailable(_)
                | SessionError::UpdatePanicked
                | SessionError::Invalid(_)
                | SessionError::Finished
                | SessionError::Overloaded(_)
        )
    }
}
