use crate::Session;
use livesession::SessionManager;
use poem::http::uri::Scheme;
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

/// Attaches a [`Session`] to every request and writes its `Set-Cookie`
/// headers to the response, also when the handler failed (its session
/// changes are kept, as in @fastify/session).
///
/// # Examples
///
/// A counter, driven through Poem's in-process test client:
///
/// ```
/// use livesession::{SessionConfig, SessionManager};
/// use livesession_poem::{into_poem_error, Session, SessionMiddleware};
/// use poem::http::header::{COOKIE, SET_COOKIE};
/// use poem::test::TestClient;
/// use poem::{get, handler, EndpointExt, Route};
///
/// #[handler]
/// async fn counter(session: &Session) -> poem::Result<String> {
///     let n = session.update("n", |n: Option<i64>| n.unwrap_or(0) + 1).await.map_err(into_poem_error)?;
///     Ok(n.to_string())
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SessionManager::new(
///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
/// );
/// let app = Route::new().at("/counter", get(counter)).with(SessionMiddleware::new(manager));
/// let client = TestClient::new(app);
///
/// let first = client.get("/counter").send().await;
/// let set_cookie = first.0.headers()[SET_COOKIE].to_str().unwrap().to_owned();
/// first.assert_text("1").await;
/// // The browser sends the cookie back:
/// let cookie = set_cookie.split(';').next().unwrap();
/// client.get("/counter").header(COOKIE, cookie).send().await.assert_text("2").await;
/// # });
/// ```
#[derive(Clone)]
pub struct SessionMiddleware {
    manager: SessionManager,
}

impl SessionMiddleware {
    /// A middleware serving sessions from `manager`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{SessionConfig, SessionManager};
    /// use livesession_poem::SessionMiddleware;
    /// use poem::{get, handler, EndpointExt, Route};
    ///
    /// #[handler]
    /// fn hello() -> &'static str {
    ///     "hello"
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
    /// );
    /// // One manager for the whole app; the middleware holds a clone.
    /// let app = Route::new().at("/", get(hello)).with(SessionMiddleware::new(manager.clone()));
    /// # let _ = app;
    /// # });
    /// ```
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
///
/// You get one from `.with(SessionMiddleware::new(manager))` (see
/// [`SessionMiddleware`]); it is not built directly.
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
