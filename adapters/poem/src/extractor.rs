use poem::{FromRequest, Request, RequestBody, Result};
use std::ops::Deref;

/// The request's session, taken by handlers as `session: &Session`.
/// Derefs to [`livesession::Session`] for the whole session API.
///
/// A route without [`SessionMiddleware`](crate::SessionMiddleware) has no
/// session: the extractor then answers 500 (a server configuration error).
///
/// # Examples
///
/// ```
/// use livesession::{SessionConfig, SessionManager};
/// use livesession_poem::{into_poem_error, Session, SessionMiddleware};
/// use poem::test::TestClient;
/// use poem::{get, handler, EndpointExt, Route};
///
/// #[handler]
/// async fn whoami(session: &Session) -> poem::Result<String> {
///     let user: Option<String> = session.get("user").await.map_err(into_poem_error)?;
///     Ok(user.unwrap_or_else(|| "anonymous".into()))
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SessionManager::new(
///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
/// );
/// let app = Route::new().at("/whoami", get(whoami)).with(SessionMiddleware::new(manager));
/// TestClient::new(app).get("/whoami").send().await.assert_text("anonymous").await;
///
/// // Forgot the middleware:
/// let broken = Route::new().at("/whoami", get(whoami));
/// TestClient::new(broken).get("/whoami").send().await.assert_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR);
/// # });
/// ```
#[derive(Clone, Debug)]
pub struct Session(pub(crate) livesession::Session);

impl Deref for Session {
    type Target = livesession::Session;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<'a> FromRequest<'a> for &'a Session {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        req.extensions().get::<Session>().ok_or_else(|| {
            poem::Error::from_string(
                "no session: add livesession_poem::SessionMiddleware to the route",
                poem::http::StatusCode::INTERNAL_SERVER_ERROR,
            )
        })
    }
}
