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
//! async fn counter(depot: &mut Depot, res: &mut Response) {
//!     let session = depot.session().expect("SessionHoop is installed");
//!     match session.update("n", |n: Option<i64>| n.unwrap_or(0) + 1).await {
//!         Ok(n) => res.render(n.to_string()),
//!         Err(e) => {
//!             res.status_code(livesession_salvo::status_for(&e));
//!         }
//!     }
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
mod hoop;

pub use depot::SessionDepotExt;
pub use hoop::SessionHoop;
pub use livesession::Session;

use livesession::SessionError;
use salvo::http::StatusCode;

/// The status for a [`SessionError`]: 500 for backend failures (and logs
/// it), 409 for a stored value of the wrong type, 413 for a session over its
/// size limits, 400 otherwise.
pub fn status_for(err: &SessionError) -> StatusCode {
    if err.is_backend_failure() {
        tracing::error!(error = %err, "session backend failure");
        StatusCode::INTERNAL_SERVER_ERROR
    } else if matches!(err, SessionError::Decode { .. }) {
        StatusCode::CONFLICT
    } else if matches!(err, SessionError::LimitExceeded(_)) {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    }
}
