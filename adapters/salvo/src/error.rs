use livesession::{Session, SessionError};
use salvo::http::StatusCode;
use salvo::{async_trait, Depot, Request, Response, Writer};

/// The error of a Salvo handler that uses its session: return
/// `Result<_, livesession_salvo::Error>` and use `?` on session calls.
///
/// It writes the [`SessionError`]'s status (409, 413 or 400 with its
/// message for data that does not fit) or, for a backend failure, a 500
/// with the fixed body [`BACKEND_FAILURE_BODY`](livesession::error::BACKEND_FAILURE_BODY),
/// logging the detail instead.
///
/// # Examples
///
/// ```no_run
/// use livesession_salvo::{Error, SessionDepotExt};
/// use salvo::prelude::*;
///
/// #[handler]
/// async fn counter(depot: &mut Depot) -> Result<String, Error> {
///     let n = depot.require_session()?.update("n", |n: Option<i64>| n.unwrap_or(0) + 1).await?;
///     Ok(n.to_string())
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A session call failed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The route has no session: [`SessionHoop`](crate::SessionHoop) is not
    /// installed for it (a server configuration error, answered with 500).
    #[error("no session: SessionHoop is not installed for this route")]
    NoSessionHoop,
}

impl Error {
    /// The status this error answers with.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionError;
    /// use livesession_salvo::Error;
    /// use salvo::http::StatusCode;
    /// let too_big = Error::from(SessionError::LimitExceeded("over 4 KiB".into()));
    /// assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    /// assert_eq!(Error::NoSessionHoop.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Session(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Error::NoSessionHoop => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[async_trait]
impl Writer for Error {
    async fn write(self, _req: &mut Request, _depot: &mut Depot, res: &mut Response) {
        let status = self.status();
        let body = match &self {
            Error::Session(e) if !e.is_backend_failure() => e.client_message(),
            _ => {
                tracing::error!(error = %self, "session backend failure");
                livesession::error::BACKEND_FAILURE_BODY.to_string()
            }
        };
        res.status_code(status);
        res.render(body);
    }
}

/// The request's session, or [`Error::NoSessionHoop`].
pub(crate) fn require(session: Option<&Session>) -> Result<Session, Error> {
    session.cloned().ok_or(Error::NoSessionHoop)
}
