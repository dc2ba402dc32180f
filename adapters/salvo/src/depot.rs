use livesession::Session;
use salvo::Depot;

/// Reaches the request's session from a [`Depot`].
pub trait SessionDepotExt {
    /// The session attached by [`SessionHoop`](crate::SessionHoop), if the
    /// hoop runs for this route.
    fn session(&self) -> Option<&Session>;
}

impl SessionDepotExt for Depot {
    fn session(&self) -> Option<&Session> {
        self.get_typed::<Session>().ok()
    }
}
