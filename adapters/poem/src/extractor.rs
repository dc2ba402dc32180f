use poem::{FromRequest, Request, RequestBody, Result};
use std::ops::Deref;

/// The request's session, taken by handlers as `session: &Session`.
/// Derefs to [`livesession::Session`] for the whole session API.
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
