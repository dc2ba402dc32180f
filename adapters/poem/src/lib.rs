//! Poem adapter for [livesession]: a middleware that attaches a
//! session to each request and an extractor, so a handler just takes
//! `session: &Session`.
//!
//! ```no_run
//! use livesession::{SessionConfig, SessionManager};
//! use livesession_poem::{Session, SessionMiddleware};
//! use poem::{get, handler, EndpointExt, Route};
//!
//! #[handler]
//! async fn counter(session: &Session) -> poem::Result<String> {
//!     let n = session
//!         .update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
//!         .await
//!         .map_err(livesession_poem::into_poem_error)?;
//!     Ok(n.to_string())
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let manager = SessionManager::new(
//!     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
//! );
//! let app = Route::new().at("/counter", get(counter)).with(SessionMiddleware::new(manager));
//! poem::Server::new(poem::listener::TcpListener::bind("127.0.0.1:3000")).run(app).await
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod extractor;
mod middleware;

pub use extractor::Session;
pub use middleware::{SessionEndpoint, SessionMiddleware};

use livesession::SessionError;
use poem::http::StatusCode;

/// The body of the 500 that [`into_poem_error`] makes of a backend failure.
pub const BACKEND_FAILURE_BODY: &str = livesession::error::BACKEND_FAILURE_BODY;

/// Maps a [`SessionError`] to a Poem error with its
/// [`http_status`](SessionError::http_status): 409, 413 or 400 with the
/// error's message for data that does not fit; 500 for a backend failure,
/// logged with its detail but answered with the fixed
/// [`BACKEND_FAILURE_BODY`], since the error's text (store paths, OS
/// errors, ...) is not for clients. Either way the `SessionError` stays the
/// source (`downcast_ref::<SessionError>()`).
///
/// ```
/// use livesession::{SessionError, StoreError};
/// let disk = SessionError::Store(StoreError::backend("No space left on device"));
/// let err = livesession_poem::into_poem_error(disk);
/// assert_eq!(err.status(), 500);
/// assert_eq!(err.to_string(), livesession_poem::BACKEND_FAILURE_BODY);
/// assert!(err.downcast_ref::<SessionError>().is_some());
/// ```
pub fn into_poem_error(err: SessionError) -> poem::Error {
    let status =
        StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if !err.is_backend_failure() {
        return poem::Error::new(err, status);
    }
    tracing::error!(error = %err, "session backend failure");
    let body = err.client_message();
    let mut error = poem::Error::new(err, status);
    error.set_error_message(body);
    error
}
