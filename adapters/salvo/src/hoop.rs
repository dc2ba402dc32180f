use livesession::SessionManager;
use salvo::http::uri::Scheme;
use salvo::http::StatusCode;
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
        let https = req.scheme() == &Scheme::HTTPS;
        let session = livesession::http::start(&self.manager, req.headers(), req.uri(), https);
        depot.insert_typed(session.clone());
        ctrl.call_next(req, depot, res).await;
        if let Err(e) = livesession::http::finish(&session, res.headers_mut()).await {
            tracing::error!(error = %e, "could not finish the session; answering 500");
            res.status_code(StatusCode::INTERNAL_SERVER_ERROR);
            res.body("session store failure");
        }
    }
}
