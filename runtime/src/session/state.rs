//! The state of one request's session: what it has loaded, what it did,
//! and where an operation must go.

use crate::core::cell::SessionCell;
use crate::core::revocation::Binding;
use crate::core::snapshot::Snapshot;
use crate::core::Core;
use crate::store::{CookieOverrides, SessionKey, SessionRecord};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

pub(super) struct Inner {
    pub(super) rt: Arc<Core>,
    /// The session cookie's value as received (decoded, prefix included).
    pub(super) incoming: Option<String>,
    /// The request came over https (for `Secure` auto).
    pub(super) https: bool,
    /// The request is inside the cookie path.
    pub(super) in_scope: bool,
    /// Whether the incoming cookie has been resolved.
    pub(super) loaded: AtomicBool,
    /// The response was sent: every later call fails with `Finished`.
    pub(super) finished: AtomicBool,
    pub(super) state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) phase: Phase,
    /// The incoming cookie was signed by an older secret.
    pub(super) renew: bool,
    /// A new id was issued in this request (new session saved, regenerate).
    pub(super) id_changed: bool,
    /// The fresh session must be stored at the end of the request even if
    /// unmodified (it replaces a regenerated one).
    pub(super) must_create: bool,
    pub(super) modified: bool,
    pub(super) saved: bool,
    /// The live session of this request ended in another request.
    pub(super) ended_elsewhere: bool,
    /// This request destroyed the session its cookie named (its response
    /// clears the cookie even if the handler went on with a new session).
    pub(super) destroyed_here: bool,
    /// The user binding of a session that exists only in this request, so
    /// that a revoke running before it is created reaches it.
    pub(super) binding: Option<Binding>,
}

#[derive(Default)]
pub(super) enum Phase {
    /// Not loaded yet.
    #[default]
    Unloaded,
    /// A new session that exists only in this request so far: changes are
    /// applied here (nobody else can see it) and it is created, with one
    /// store write, when the request finishes or `save()` is called.
    Fresh(SessionRecord),
    /// A live session and this request's view of it.
    Live(Arc<SessionCell>, Arc<Snapshot>),
    /// Destroyed in this request; the cookie attributes it had, for the
    /// clearing cookie.
    Destroyed(Option<Box<CookieOverrides>>),
    /// Outside the cookie path: a scratch session that is never stored.
    Detached(SessionRecord),
}

/// The outcome of loading a live session for a request.
pub(super) enum Attach {
    /// Loaded: read this snapshot.
    Live(Arc<Snapshot>),
    /// Destroyed or expired.
    Ended,
    /// Passivated: it must be activated from the store.
    Moved,
}

/// The outcome of looking at the incoming cookie.
pub(super) enum Resolved {
    /// Decided: this phase, and whether the cookie needs re-signing.
    Done(Phase, bool),
    /// The session must be activated from the store (or waited for).
    Activate {
        key: SessionKey,
        id: String,
        renew: bool,
    },
}

/// Where an operation must go, decided under the state lock.
pub(super) enum Target {
    /// A session only this request can see (new, or outside the cookie path).
    Local,
    /// A live session: its owner applies the change.
    Owner(Arc<SessionCell>),
}
