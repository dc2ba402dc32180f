use crate::Session;
use livesession::cookie::join_cookie_headers;
use livesession::{RequestInfo, SessionManager};
use poem::http::header::{COOKIE, SET_COOKIE};
use poem::http::{HeaderValue, StatusCode};
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
        let session = {
            let cookie_header = join_cookie_headers(
                req.headers()
                    .get_all(COOKIE)
                    .iter()
                    .map(HeaderValue::as_bytes),
            );
            let info = RequestInfo {
                cookie_header: cookie_header.as_deref(),
                path: req.uri().path(),
                tls: req.scheme() == &poem::http::uri::Scheme::HTTPS,
                forwarded_proto: req
                    .headers()
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok()),
            };
            self.manager.start(&info)
        };
        req.extensions_mut().insert(Session(session.clone()));
        let mut resp = match self.inner.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        };
        match session.finish().await {
            Ok(cookies) => {
                for c in cookies {
                    if let Ok(v) = HeaderValue::from_str(&c) {
                        resp.headers_mut().append(SET_COOKIE, v);
                    }
                }
                Ok(resp)
            }
            Err(e) => {
                tracing::error!(error = %e, "could not finish the session; answering 500");
                Ok(Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .body("session store failure"))
            }
        }
    }
}
