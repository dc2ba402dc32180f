use crate::Session;
use livesession::SessionManager;
use poem::http::uri::Scheme;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Attaches a [`Session`] to every request and writes its `Set-Cookie`
/// headers to the response, also when the handler failed (its session
/// changes are kept, as in @fastify/session).
#[derive(Clone)]
pub struct SessionMiddleware {
    manager: SessionManager,
}

impl SessionMiddleware {
    /// A middleware serving sessions from `manager`.
    pub fn new(manager: SessionManager) -> Self {
        SessionMiddleware { manager }
    }
}

impl<E: Endpoint> Middleware<E> for SessionMiddleware {
    type Output = SessionEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        SessionEndpoint {
            inner,
            manager: self.manager.clone(),
        }
    }
}

/// The endpoint produced by [`SessionMiddleware`].
pub struct SessionEndpoint<E> {
    inner: E,
    manager: SessionManager,
}

impl<E: Endpoint> Endpoint for SessionEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> Result<Self::Output> {
        let https = req.scheme() == &Scheme::HTTPS;
        let session = livesession::http::start(&self.manager, req.headers(), req.uri(), https);
        req.extensions_mut().insert(Session(session.clone()));
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        match livesession::http::finish(&session, resp.headers_mut()).await {
            Ok(()) => Ok(resp),
            Err(e) => {
                tracing::error!(error = %e, "could not finish the session; answering 500");
                Ok(Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .body("session store failure"))
            }
        }
    }
}
