//! Which store operations a step calls, and what a store failure (or a
//! success under an armed fault) may mean.

use super::actions::{Action, Fault, FaultKind};
use super::spec::{apply_change, ends, is_change, Model, ModelSession, Phase, Request};
use super::stats;
use livesession::store::StoreError;
use livesession::testing::Op as StoreOp;
use livesession::SessionError;
use std::collections::HashMap;

/// Whether an action calls a store operation, as far as the model knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Calls {
    Never,
    /// Depending on what the model does not track (whether a session is in
    /// memory or was passivated).
    Maybe,
    Always,
}

impl Calls {
    pub(crate) fn when(always: bool) -> Calls {
        if always {
            Calls::Always
        } else {
            Calls::Never
        }
    }
}

impl Model {
    /// Whether `action` in request `r` (as it is before the action) calls
    /// the store operation `op` and so fails when `op` does.
    pub(crate) fn calls(&self, r: &Request, action: &Action, op: StoreOp) -> Calls {
        // The live session the action works on, after loading (and
        // following it if it was passivated), if any.
        let live = match &r.phase {
            Phase::Unloaded => self.live_id(r.cookie.as_deref()),
            Phase::Live { id, .. } if self.alive(id) => Some(id.clone()),
            _ => None,
        };
        let local = match &r.phase {
            Phase::Unloaded => live.is_none(),
            Phase::Live { .. } => false,
            Phase::Fresh(_) | Phase::Destroyed => true,
        };
        let modifies = live.as_ref().is_some_and(|id| {
            is_change(action) && apply_change(action, &self.sessions[id].view).is_some()
        });
        // `save` of a session only this request has creates it.
        let creates = matches!(action, Action::Save) && local;
        let ends_live = ends(action) && live.is_some();
        match op {
            // The first load reads the store unless the session is in
            // memory; a live session passivated under a held request is
            // read again by its next change, touch, reload or end.
            StoreOp::Load => {
                let first = matches!(r.phase, Phase::Unloaded) && r.cookie.is_some();
                let follows = matches!(r.phase, Phase::Live { .. })
                    && (is_change(action)
                        || ends(action)
                        || matches!(action, Action::Touch | Action::Reload));
                if first || follows {
                    Calls::Maybe
                } else {
                    Calls::Never
                }
            }
            StoreOp::Save => Calls::when(modifies),
            // After the runtime's own create, save or delete, unless the
            // store made it durable (then none is expected; `Maybe`, as a
            // store that fell behind is flushed after a save).
            StoreOp::Flush if !(modifies || ends_live || creates) => Calls::Never,
            StoreOp::Flush if self.flushes_after_save => Calls::Always,
            StoreOp::Flush => Calls::Maybe,
            StoreOp::Create => Calls::when(creates),
            StoreOp::Delete => Calls::when(ends_live),
            _ => Calls::Never,
        }
    }

    /// `action` failed with a backend error because `op` failed; `r` and the
    /// sessions are as they were before it. Applies what the runtime
    /// guarantees happened: the load (unless it was what failed) and,
    /// when the flush after a successful delete failed, the end.
    pub(crate) fn failed(&mut self, r: &mut Request, action: &Action, op: StoreOp) {
        if op == StoreOp::Load {
            return; // the load (or the follow of a passivated session) failed
        }
        self.load(r);
        if is_change(action) {
            // Followed the session (an activation, if passivated); the
            // change failed as a whole.
            self.follow(r);
        } else if ends(action) {
            let now = self.now;
            if let Phase::Live { id, retired, .. } = &r.phase {
                if self.alive(id) {
                    let s = self.sessions.get_mut(id.as_str()).unwrap();
                    if *retired {
                        s.last_load = now; // activated to be ended
                    }
                    if op == StoreOp::Flush {
                        // Deleted, then the flush failed: it ended anyway.
                        s.ended = true;
                        s.ended_by_request_at = Some(now);
                    }
                }
            }
        } else if matches!(action, Action::Save) {
            // The runtime drops `must_create` when the creation fails (a
            // still modified session is created at finish).
            r.must_create = false;
        }
    }

    /// Whether `finish` of `r` calls `op`.
    pub(crate) fn finish_calls(&self, r: &Request, op: StoreOp) -> Calls {
        let creates = matches!(r.phase, Phase::Fresh(_)) && (r.modified || r.must_create);
        match op {
            StoreOp::Create => Calls::when(creates),
            StoreOp::Flush if creates && !self.flushes_after_save => Calls::Maybe,
            StoreOp::Flush => Calls::when(creates),
            // A session passivated since it was loaded is found again.
            StoreOp::Load if matches!(r.phase, Phase::Live { .. }) => Calls::Maybe,
            _ => Calls::Never,
        }
    }
}

/// The model before an action, to go back to if it fails.
pub(crate) struct Before {
    pub(crate) request: Request,
    pub(crate) sessions: HashMap<String, ModelSession>,
    /// Whether the action calls the faulted store operation.
    pub(crate) calls: Calls,
}

impl Model {
    pub(crate) fn before(&self, r: &Request, action: &Action, fault: Option<&Fault>) -> Before {
        Before {
            request: r.clone(),
            sessions: self.sessions.clone(),
            calls: fault.map_or(Calls::Never, |f| self.calls(r, action, f.op)),
        }
    }
}

/// Whether an error is the store's (an injected fault, or its deadline).
pub(crate) fn is_store_failure(e: &SessionError) -> bool {
    matches!(e, SessionError::Store(StoreError::Backend(_)))
}

/// Whether a change failed because its owner did not take it in time (it
/// was withdrawn, never applied).
pub(crate) fn withdrawn(e: &SessionError) -> bool {
    e.to_string().contains("did not take the change")
}

/// Whether `fault` can keep a session's owner busy past the time a queued
/// change waits: a hung write of the owner (its own, or a background one
/// such as a passivation or an expiry's delete) runs for a few deadlines.
pub(crate) fn stalls_owners(fault: Option<&Fault>) -> bool {
    fault.is_some_and(|f| {
        f.kind == FaultKind::Hang
            && matches!(f.op, StoreOp::Save | StoreOp::Delete | StoreOp::Flush)
    })
}

/// Checks a store failure of a step against the armed fault: there must be
/// one, it must not be a mere delay, and the step must call its operation.
pub(crate) fn expect_failure(
    fault: Option<&Fault>,
    calls: Calls,
    why: &str,
) -> Result<StoreOp, String> {
    stats::add(&stats::FAILED);
    match fault {
        None => Err(format!("failed with no store fault armed: {why}")),
        Some(f) if matches!(f.kind, FaultKind::Delay(_)) => Err(format!(
            "failed although the store was only slowed down ({f:?}): {why}"
        )),
        Some(f) if calls == Calls::Never => Err(format!(
            "failed although it calls no {:?} ({f:?} armed): {why}",
            f.op
        )),
        Some(f) => {
            stats::failed(f.op);
            Ok(f.op)
        }
    }
}

/// Checks a success against the armed fault: an operation that fails at
/// every call cannot have been called.
pub(crate) fn expect_success(fault: Option<&Fault>, calls: Calls) -> Result<(), String> {
    if fault.is_some() && calls != Calls::Never {
        stats::add(&stats::SURVIVED);
    }
    match fault {
        Some(f) if f.kind.persistent() && calls == Calls::Always => Err(format!(
            "acknowledged although it calls {:?}, which fails at every call ({f:?})",
            f.op
        )),
        _ => Ok(()),
    }
}
