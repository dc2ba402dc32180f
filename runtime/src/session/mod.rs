//! The handler-facing session handle: the [`Session`] type here, its data
//! API in `data.rs`, its lifecycle API (regenerate, destroy, reload, save,
//! touch, options) in `lifecycle.rs`, and in `request.rs` the
//! [`RequestSession`] an adapter holds to finish the request.

mod data;
mod decision;
mod lifecycle;
mod request;
mod response;

pub use request::RequestSession;
pub use response::CookieOptions;

mod loading;
mod state;

use crate::core::Core;
use state::{Inner, State};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

/// How many times an operation follows a session that moved under it
/// (passivated, or destroyed by another request) before giving up.
const MAX_ATTEMPTS: usize = 4;

/// The session of one request.
///
/// Cheap to clone; all clones are the same request's session. Nothing is
/// loaded until first use, so handlers that never touch the session cost
/// nothing and set no cookie.
///
/// # Concurrency
///
/// Every change is applied by the session's single owner (its actor), one at
/// a time, on the latest state: concurrent requests on one session lose no
/// update. Writes to different keys all stay; [`update`](Self::update) is an
/// atomic read-modify-write of one key. Reads see the state as loaded by this
/// request plus this request's own writes; [`reload`](Self::reload) refreshes.
/// A session destroyed by another request stays destroyed: a later write in
/// this request starts a new session with a new id instead of reviving it.
///
/// ```
/// use livesession::{RequestInfo, SessionConfig, SessionManager};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
/// let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
/// session.insert("theme", "dark").await.unwrap();
/// assert_eq!(session.get::<String>("theme").await.unwrap().as_deref(), Some("dark"));
/// assert!(session.is_modified());
/// # });
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl Session {
    pub(crate) fn new(
        rt: Arc<Core>,
        incoming: Option<String>,
        https: bool,
        in_scope: bool,
    ) -> Self {
        Session {
            inner: Arc::new(Inner {
                rt,
                incoming,
                https,
                in_scope,
                loaded: AtomicBool::new(false),
                finished: AtomicBool::new(false),
                state: Mutex::new(State::default()),
            }),
        }
    }
}
