use crate::Error;
use livesession::Session;
use salvo::Depot;

/// Reaches the request's session from a [`Depot`].
///
/// # Examples
///
/// ```
/// use livesession::{SessionConfig, SessionManager};
/// use livesession_salvo::{SessionDepotExt, SessionHoop};
/// use salvo::prelude::*;
/// use salvo::test::{ResponseExt, TestClient};
///
/// #[handler]
/// async fn show_theme(depot: &mut Depot) -> Result<String, livesession_salvo::Error> {
///     let session = depot.require_session()?;
///     let theme: Option<String> = session.get("theme").await?;
///     Ok(theme.unwrap_or_else(|| "light".into()))
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SessionManager::new(
///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
/// );
/// let service = Service::new(Router::new().hoop(SessionHoop::new(manager)).push(Router::with_path("theme").get(show_theme)));
/// let mut res = TestClient::get("http://127.0.0.1:5800/theme").send(&service).await;
/// assert_eq!(res.take_string().await.unwrap(), "light");
/// # });
/// ```
pub trait SessionDepotExt {
    /// The session attached by [`SessionHoop`](crate::SessionHoop), if the
    /// hoop runs for this route.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_salvo::SessionDepotExt;
    /// use salvo::prelude::*;
    ///
    /// #[handler]
    /// async fn visit(depot: &mut Depot, res: &mut Response) {
    ///     let Some(session) = depot.session().cloned() else {
    ///         return res.render("no sessions on this route");
    ///     };
    ///     match session.update("visits", |n: Option<u64>| n.unwrap_or(0) + 1).await {
    ///         Ok(n) => res.render(format!("visit {n}")),
    ///         Err(e) => {
    ///             res.status_code(livesession_salvo::status_for(&e));
    ///         }
    ///     }
    /// }
    /// # let _ = visit;
    /// ```
    fn session(&self) -> Option<&Session>;

    /// The session attached by [`SessionHoop`](crate::SessionHoop), for a
    /// handler that returns `Result<_, livesession_salvo::Error>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_salvo::{Error, SessionDepotExt};
    /// use salvo::prelude::*;
    /// use salvo::test::{ResponseExt, TestClient};
    ///
    /// #[handler]
    /// async fn logout(depot: &mut Depot) -> Result<&'static str, Error> {
    ///     depot.require_session()?.destroy().await?;
    ///     Ok("bye")
    /// }
    ///
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// // Without the hoop, the route answers 500 instead of panicking.
    /// let service = Service::new(Router::with_path("logout").post(logout));
    /// let res = TestClient::post("http://127.0.0.1:5800/logout").send(&service).await;
    /// assert_eq!(res.status_code, Some(StatusCode::INTERNAL_SERVER_ERROR));
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NoSessionHoop`] when the hoop does not run for this route.
    fn require_session(&self) -> Result<Session, Error>;
}

impl SessionDepotExt for Depot {
    fn session(&self) -> Option<&Session> {
        self.get_typed::<Session>().ok()
    }

    fn require_session(&self) -> Result<Session, Error> {
        crate::error::require(self.session())
    }
}
