use crate::Error;
use livesession::Session;
use salvo::Depot;

/// Reaches the request's session from a [`Depot`].
pub trait SessionDepotExt {
    /// The session attached by [`SessionHoop`](crate::SessionHoop), if the
    /// hoop runs for this route.
    fn session(&self) -> Option<&Session>;

    /// The session attached by [`SessionHoop`](crate::SessionHoop), for a
    /// handler that returns `Result<_, livesession_salvo::Error>`.
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
