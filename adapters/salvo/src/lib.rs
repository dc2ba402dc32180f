//! Salvo adapter for [livesession]: a hoop that attaches a
//! session to each request's [`Depot`](salvo::Depot), and a `Depot`
//! extension to reach it from handlers.
//!
//! ```no_run
//! use livesession::{SessionConfig, SessionManager};
//! use livesession_salvo::{SessionDepotExt, SessionHoop};
//! use salvo::prelude::*;
//!
//! #[handler]
//! async fn counter(depot: &mut Depot) -> Result<String, livesession_salvo::Error> {
//!     let session = depot.require_session()?;
//!     let n = session.update("n", |n: Option<i64>| n.unwrap_or(0) + 1).await?;
//!     Ok(n.to_string())
//! }
//!
//! # async fn run() {
//! let manager = SessionManager::new(
//!     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
//! );
//! let router = Router::new().hoop(SessionHoop::new(manager)).push(Router::with_path("counter").get(counter));
//! let acceptor = TcpListener::new("127.0.0.1:3000").bind().await;
//! Server::new(acceptor).serve(router).await;
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod depot;
mod error;
mod hoop;

pub use depot::SessionDepotExt;
pub use error::Error;
pub use hoop::SessionHoop;
pub use livesession::Session;

use livesession::SessionError;
use salvo::http::StatusCode;

/// The status for a [`SessionError`]: its
/// [`http_status`](SessionError::http_status) (500 for backend failures,
/// which are also logged; 409, 413 or 400 for data that does not fit).
///
/// Only the status: do not render a backend failure's text into the body,
/// it carries store internals (paths, OS errors, ...) that belong in the
/// log, where this function already puts them.
///
/// # Examples
///
/// ```
/// use livesession::{SessionError, StoreError};
/// use livesession_salvo::status_for;
/// use salvo::http::StatusCode;
/// let disk = SessionError::Store(StoreError::backend("No space left on device"));
/// assert_eq!(status_for(&disk), StatusCode::INTERNAL_SERVER_ERROR); // and logged
/// let shape = SessionError::LimitExceeded("too many keys".into());
/// assert_eq!(status_for(&shape), StatusCode::PAYLOAD_TOO_LARGE);
/// ```
pub fn status_for(err: &SessionError) -> StatusCode {
    if err.is_backend_failure() {
        tracing::error!(error = %err, "session backend failure");
    }
    StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
