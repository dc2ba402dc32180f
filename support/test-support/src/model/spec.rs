//! The sequential model: every session ever created, what each request
//! works on, and what each action does to them.

use super::actions::Action;
use super::known::Known;
use super::{KEYS, MAX_AGE_MS, USERS};
use livesession::id::is_valid_id;
use livesession::signing::HmacSigner;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// What a session holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct View {
    pub(crate) data: BTreeMap<String, Value>,
    pub(crate) user: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct ModelSession {
    pub(crate) view: View,
    pub(crate) created: u64,
    pub(crate) last_load: u64,
    /// Destroyed, regenerated away or revoked.
    pub(crate) ended: bool,
    /// When a request destroyed it or regenerated it away (not a revoke).
    pub(crate) ended_by_request_at: Option<u64>,
}

/// Every session ever created, by id, and the time.
pub(crate) struct Model {
    pub(crate) known: Known,
    pub(crate) now: u64,
    pub(crate) absolute: Option<u64>,
    pub(crate) sessions: HashMap<String, ModelSession>,
    /// Signs ids as the runtime does: the cookie of a known id.
    pub(crate) signer: HmacSigner,
    /// The runtime calls `flush` after its own create, save and delete: the
    /// store does not say its completed writes are durable
    /// (`completed_writes_are_durable`).
    pub(crate) flushes_after_save: bool,
}

/// A change action's effect on a view: `None` when it changes nothing.
pub(crate) fn apply_change(action: &Action, view: &View) -> Option<View> {
    let mut next = view.clone();
    match action {
        Action::Insert(k, v) => {
            next.data.insert(KEYS[*k].into(), v.json());
        }
        Action::Remove(k) => {
            next.data.remove(KEYS[*k]);
        }
        Action::Update(k) => {
            increment(&mut next.data, KEYS[*k]);
        }
        Action::Clear => next.data.clear(),
        Action::BindUser(u) => next.user = Some(USERS[*u].to_string()),
        _ => return None,
    }
    (next != *view).then_some(next)
}

pub(crate) fn is_change(action: &Action) -> bool {
    matches!(
        action,
        Action::Insert(..)
            | Action::Remove(_)
            | Action::Update(_)
            | Action::Clear
            | Action::BindUser(_)
    )
}

/// Actions that end the request's live session.
pub(crate) fn ends(action: &Action) -> bool {
    matches!(action, Action::Destroy | Action::Regenerate(_))
}

/// What a request works on.
#[derive(Debug, Clone)]
pub(crate) enum Phase {
    /// Nothing used yet: the first action loads what the cookie names (a
    /// request whose load failed stays here).
    Unloaded,
    /// A live session and this request's view of it: as loaded, refreshed
    /// by each change this request makes (and by `reload`).
    Live {
        id: String,
        view: View,
        /// Passivated since this request last reached it: its next change
        /// activates the session again (a load).
        retired: bool,
    },
    /// A session only this request sees, created when it finishes if
    /// modified (or regenerated).
    Fresh(View),
    Destroyed,
}

/// One request.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    /// The cookie value sent, if any.
    pub(crate) cookie: Option<String>,
    pub(crate) phase: Phase,
    pub(crate) modified: bool,
    pub(crate) must_create: bool,
    /// A session was created in this request.
    pub(crate) id_changed: bool,
    /// This request destroyed the session its cookie named.
    pub(crate) destroyed_here: bool,
    /// The user binding of the new session this request holds was revoked
    /// before the session was created: it never will be.
    pub(crate) binding_revoked: bool,
}

pub(crate) fn id_of(cookie_value: &str) -> &str {
    cookie_value.split('.').next().unwrap_or_default()
}

impl Model {
    pub(crate) fn alive(&self, id: &str) -> bool {
        self.sessions.get(id).is_some_and(|s| {
            !s.ended
                && self.now < s.last_load + MAX_AGE_MS
                && self.absolute.is_none_or(|a| self.now < s.created + a)
        })
    }

    pub(crate) fn session(&mut self, id: &str) -> &mut ModelSession {
        self.sessions.get_mut(id).expect("a known session")
    }

    /// The id of the live session `cookie` names, if any.
    pub(crate) fn live_id(&self, cookie: Option<&str>) -> Option<String> {
        let id = id_of(cookie?);
        self.alive(id).then(|| id.to_string())
    }

    /// A request that has not used its session yet.
    pub(crate) fn request(&self, cookie: Option<&str>) -> Request {
        Request {
            cookie: cookie.map(String::from),
            phase: Phase::Unloaded,
            modified: false,
            must_create: false,
            destroyed_here: false,
            binding_revoked: false,
            id_changed: false,
        }
    }

    /// A request that has loaded its session.
    pub(crate) fn begin(&mut self, cookie: Option<&str>) -> Request {
        let mut r = self.request(cookie);
        self.load(&mut r);
        r
    }

    /// A request's first use of its session: loads (and touches) it.
    pub(crate) fn load(&mut self, r: &mut Request) {
        if !matches!(r.phase, Phase::Unloaded) {
            return;
        }
        r.phase = match self.live_id(r.cookie.as_deref()) {
            Some(id) => {
                let now = self.now;
                let s = self.session(&id);
                s.last_load = now;
                let view = s.view.clone();
                Phase::Live {
                    id,
                    view,
                    retired: false,
                }
            }
            None => Phase::Fresh(View::default()),
        };
    }

    pub(crate) fn view(&self, r: &Request) -> View {
        match &r.phase {
            Phase::Live { view, .. } | Phase::Fresh(view) => view.clone(),
            Phase::Destroyed | Phase::Unloaded => View::default(),
        }
    }

    /// Before a change goes to the owner: a session that ended under the
    /// request is replaced by a fresh one (never revived); a passivated one
    /// is activated again, which loads it.
    pub(crate) fn follow(&mut self, r: &mut Request) {
        self.load(r);
        let now = self.now;
        if let Phase::Live { id, view, retired } = &mut r.phase {
            if !self.alive(id) {
                r.phase = Phase::Fresh(View::default());
            } else if *retired {
                let s = self.sessions.get_mut(id.as_str()).unwrap();
                s.last_load = now;
                *view = s.view.clone();
                *retired = false;
            }
        } else if let Phase::Destroyed = r.phase {
            r.phase = Phase::Fresh(View::default());
        }
    }

    /// A change: `f` returns `None` when it fails (and changed nothing).
    pub(crate) fn change<R>(
        &mut self,
        r: &mut Request,
        f: impl FnOnce(&mut View) -> Option<R>,
    ) -> Option<R> {
        self.follow(r);
        match &mut r.phase {
            Phase::Live { id, view, .. } => {
                let s = self.sessions.get_mut(id.as_str()).unwrap();
                let before = s.view.clone();
                let out = f(&mut s.view)?;
                r.modified |= s.view != before;
                *view = s.view.clone();
                Some(out)
            }
            Phase::Fresh(view) => {
                let before = view.clone();
                let out = f(view)?;
                r.modified |= *view != before;
                Some(out)
            }
            Phase::Destroyed | Phase::Unloaded => unreachable!("follow leaves neither"),
        }
    }

    pub(crate) fn regenerate(&mut self, r: &mut Request, keep: u8) {
        let mut last = match &r.phase {
            Phase::Live { id, .. } if self.alive(id) => {
                let now = self.now;
                let s = self.session(&id.clone());
                s.ended = true;
                s.ended_by_request_at = Some(now);
                s.view.clone()
            }
            Phase::Live { .. } | Phase::Destroyed | Phase::Unloaded => View::default(),
            Phase::Fresh(view) => view.clone(),
        };
        last.data.retain(|k, _| kept(keep, k));
        if matches!(r.phase, Phase::Live { .. }) {
            r.binding_revoked = false; // the binding moves to a new session
        }
        r.phase = Phase::Fresh(last);
        r.must_create = true;
        r.modified = true;
    }

    pub(crate) fn destroy(&mut self, r: &mut Request) {
        if let Phase::Live { id, .. } = &r.phase {
            if self.alive(id) {
                let now = self.now;
                let s = self.session(&id.clone());
                s.ended = true;
                s.ended_by_request_at = Some(now);
            }
        }
        r.phase = Phase::Destroyed;
        r.destroyed_here = true;
        r.binding_revoked = false;
    }

    pub(crate) fn touch(&mut self, r: &mut Request) {
        let now = self.now;
        let known = self.known.touch_after_passivation_lost;
        if let Phase::Live { id, retired, .. } = &mut r.phase {
            if self.alive(id) && !(*retired && known) {
                self.sessions.get_mut(id.as_str()).unwrap().last_load = now;
                // A passivated session is activated again to be touched.
                *retired = false;
            }
        }
    }

    pub(crate) fn reload(&mut self, r: &mut Request) {
        let next = match &r.phase {
            Phase::Live { retired: true, .. } if self.known.reload_after_passivation_empties => {
                Phase::Fresh(View::default())
            }
            // A reload is a load: it moves the idle clock (and activates a
            // passivated session again).
            Phase::Live { id, .. } if self.alive(id) => {
                let now = self.now;
                self.session(&id.clone()).last_load = now;
                Phase::Live {
                    id: id.clone(),
                    view: self.sessions[id].view.clone(),
                    retired: false,
                }
            }
            Phase::Live { .. } => Phase::Fresh(View::default()),
            Phase::Fresh(_) if self.known.reload_empties_new_session => {
                Phase::Fresh(View::default())
            }
            Phase::Fresh(view) => Phase::Fresh(view.clone()),
            Phase::Destroyed => Phase::Destroyed,
            Phase::Unloaded => unreachable!("loaded before"),
        };
        r.phase = next;
    }

    /// `save`: a session only this request had is created now, with the id
    /// the runtime reports.
    pub(crate) fn save(&mut self, r: &mut Request, new_id: Option<String>) -> Result<(), String> {
        if r.binding_revoked && matches!(r.phase, Phase::Fresh(_)) {
            // Its user was revoked while only this request had it.
            r.phase = Phase::Destroyed;
            r.binding_revoked = false;
            r.must_create = false;
            r.modified = false;
            return Ok(());
        }
        let view = match &r.phase {
            Phase::Live { .. } => None,
            Phase::Fresh(view) => Some(view.clone()),
            Phase::Destroyed | Phase::Unloaded => Some(View::default()),
        };
        if let Some(view) = view {
            let id = new_id.ok_or("save created no session")?;
            self.create(&id, view.clone())?;
            r.phase = Phase::Live {
                id,
                view,
                retired: false,
            };
            r.id_changed = true;
            r.must_create = false;
        }
        r.modified = false;
        Ok(())
    }

    pub(crate) fn create(&mut self, id: &str, view: View) -> Result<(), String> {
        if self.sessions.contains_key(id) {
            return Err(format!("a new session reuses the known id {id}"));
        }
        if !is_valid_id(id) {
            return Err(format!("a new session has an invalid id {id:?}"));
        }
        let now = self.now;
        self.sessions.insert(
            id.to_string(),
            ModelSession {
                view,
                created: now,
                last_load: now,
                ended: false,
                ended_by_request_at: None,
            },
        );
        Ok(())
    }

    /// Whether a request destroyed `id` or regenerated it away within the
    /// last minute (the runtime then sends no clearing cookie for it).
    pub(crate) fn ended_recently(&self, id: &str) -> bool {
        self.sessions
            .get(id)
            .and_then(|s| s.ended_by_request_at)
            .is_some_and(|at| self.now.saturating_sub(at) < 60_000)
    }

    /// Ends every live session bound to `user`; returns how many.
    pub(crate) fn revoke(&mut self, user: &str) -> usize {
        let ids: Vec<String> = self
            .sessions
            .iter()
            .filter(|(id, s)| self.alive(id) && s.view.user.as_deref() == Some(user))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ids {
            self.session(id).ended = true;
        }
        ids.len()
    }
}

pub(crate) fn kept(keep: u8, key: &str) -> bool {
    KEYS.iter()
        .enumerate()
        .any(|(i, k)| *k == key && keep & (1 << i) != 0)
}

/// `update(key, n + 1)` on `data`: the new value, or `None` (a decode
/// error, nothing changed) when the value is not an integer.
pub(crate) fn increment(data: &mut BTreeMap<String, Value>, key: &str) -> Option<i64> {
    let next = match data.get(key) {
        None => 1,
        Some(v) => v.as_i64()? + 1,
    };
    data.insert(key.into(), Value::from(next));
    Some(next)
}
