use livesession::cookie::join_cookie_headers;
use livesession::{RequestInfo, SessionManager};
use salvo::http::header::{COOKIE, SET_COOKIE};
use salvo::http::{HeaderValue, StatusCode};
use salvo::{async_trait, Depot, FlowCtrl, Handler, Request, Response};

/// Attaches a [`Session`](livesession::Session) to every request (in the
/// `Depot`) and writes its `Set-Cookie` headers after the handlers ran,
/// whatever their outcome.
#[derive(Clone)]
pub struct SessionHoop {
    manager: SessionManager,
}

impl SessionHoop {
    /// A hoop serving sessions from `manager`.
    pub fn new(manager: SessionManager) -> Self {
        SessionHoop { manager }
    }
}

#[async_trait]
impl Handler for SessionHoop {
    async fn handle(
        &self,
        req: &mut Request,
        depot: &mut Depot,
        res: &mut Response,
        ctrl: &mut FlowCtrl,
    ) {
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
                tls: req.scheme() == &salvo::http::uri::Scheme::HTTPS,
                forwarded_proto: req
                    .headers()
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok()),
            };
            self.manager.start(&info)
        };
        depot.insert_typed(session.clone());
        ctrl.call_next(req, depot, res).await;
        match session.finish().await {
            Ok(cookies) => {
                for c in cookies {
                    if let Ok(v) = HeaderValue::from_str(&c) {
                        res.headers_mut().append(SET_COOKIE, v);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not finish the session; answering 500");
                res.status_code(StatusCode::INTERNAL_SERVER_ERROR);
                res.body("session store failure");
            }
        }
    }
}
