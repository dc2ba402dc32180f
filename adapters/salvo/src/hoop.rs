use livesession::SessionManager;
use salvo::http::uri::Scheme;
use salvo::http::StatusCode;
use salvo::{async_trait, Depot, FlowCtrl, Handler, Request, Response};

/// Attaches a [`Session`](livesession::Session) to every request (in the
/// `Depot`) and writes its `Set-Cookie` headers after the handlers ran,
/// whatever their outcome.
///
/// # Examples
///
/// A counter, driven through Salvo's in-process test client:
///
/// ```
/// use livesession::{SessionConfig, SessionManager};
/// use livesession_salvo::{SessionDepotExt, SessionHoop};
/// use salvo::http::header::{COOKIE, SET_COOKIE};
/// use salvo::prelude::*;
/// use salvo::test::{ResponseExt, TestClient};
///
/// #[handler]
/// async fn counter(depot: &mut Depot) -> Result<String, livesession_salvo::Error> {
///     let n = depot.require_session()?.update("n", |n: Option<i64>| n.unwrap_or(0) + 1).await?;
///     Ok(n.to_string())
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SessionManager::new(
///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
/// );
/// let router = Router::new().hoop(SessionHoop::new(manager)).push(Router::with_path("counter").get(counter));
/// let service = Service::new(router);
/// let url = "http://127.0.0.1:5800/counter";
///
/// let mut first = TestClient::get(url).send(&service).await;
/// let set_cookie = first.headers()[SET_COOKIE].to_str().unwrap().to_owned();
/// assert_eq!(first.take_string().await.unwrap(), "1");
/// // The browser sends the cookie back:
/// let cookie = set_cookie.split(';').next().unwrap();
/// let mut second = TestClient::get(url).add_header(COOKIE, cookie, true).send(&service).await;
/// assert_eq!(second.take_string().await.unwrap(), "2");
/// # });
/// ```
#[derive(Clone)]
pub struct SessionHoop {
    manager: SessionManager,
}

impl SessionHoop {
    /// A hoop serving sessions from `manager`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{SessionConfig, SessionManager};
    /// use livesession_salvo::SessionHoop;
    /// use salvo::prelude::*;
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
    /// );
    /// // Sessions for /account and below only; the hoop holds a clone of the manager.
    /// let router = Router::new().push(Router::with_path("account").hoop(SessionHoop::new(manager.clone())));
    /// # let _ = router;
    /// # });
    /// ```
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
