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

/// Maps a [`SessionError`] to a Poem error: 500 for backend failures (and
/// logs it), 409 for a stored value of the wrong type, 413 for a session over its
/// size limits, 400 otherwise.
pub fn into_poem_error(err: SessionError) -> poem::Error {
    let status = if err.is_backend_failure() {
        tracing::error!(error = %err, "session backend failure");
        StatusCode::INTERNAL_SERVER_ERROR
    } else if matches!(err, SessionError::Decode { .. }) {
        StatusCode::CONFLICT
    } else if matches!(err, SessionError::LimitExceeded(_)) {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    poem::Error::new(err, status)
}
