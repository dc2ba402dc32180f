//! What `revoke_user` needs beyond the registry and the store: user bindings
//! of sessions that exist only inside a request so far, and the ids that
//! were ended a moment ago.
//!
//! A new session is created when its request finishes. Until then it lives
//! only in that request, so `revoke_user` cannot find it in the registry or
//! the store. A request that carries a user binding into such a session (a
//! regenerate of a bound session, or `bind_user` on a new one) registers it
//! here first. A revoke marks every registered binding of its user, and
//! creation checks the mark and enters the registry under the same lock:
//! either the revoke sees the new session in the registry, or the creation
//! sees the mark and the session is never created.

use crate::store::SessionKey;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// In-flight user bindings and running revokes.
#[derive(Default)]
pub(crate) struct Bindings {
    state: Mutex<BindingState>,
}

#[derive(Default)]
struct BindingState {
    next_id: u64,
    /// Binding id -> (user, revoked).
    in_flight: HashMap<u64, (String, bool)>,
    /// Users with a revoke running, and how many.
    revoking: HashMap<String, usize>,
}

/// A user binding carried by a session that exists only in its request.
/// Dropping it (the session was created, or the request ended) forgets it.
pub(crate) struct Binding {
    id: u64,
    bindings: Arc<Bindings>,
}

/// A running revoke of one user; dropping it ends the revoke.
pub(crate) struct Revoking {
    user: String,
    bindings: Arc<Bindings>,
}

impl Bindings {
    fn state(&self) -> MutexGuard<'_, BindingState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers that a session only in a request is bound to `user`.
    pub fn bind(self: &Arc<Self>, user: &str) -> Binding {
        let mut st = self.state();
        st.next_id += 1;
        let id = st.next_id;
        let revoked = st.revoking.contains_key(user);
        st.in_flight.insert(id, (user.to_string(), revoked));
        Binding {
            id,
            bindings: self.clone(),
        }
    }

    /// Starts a revoke of `user`: every binding to it, registered now or
    /// while the revoke runs, is marked revoked.
    pub fn begin_revoke(self: &Arc<Self>, user: &str) -> Revoking {
        let mut st = self.state();
        *st.revoking.entry(user.to_string()).or_default() += 1;
        for (bound, revoked) in st.in_flight.values_mut() {
            if bound == user {
                *revoked = true;
            }
        }
        Revoking {
            user: user.to_string(),
            bindings: self.clone(),
        }
    }

    /// Runs `admit` (entering the registry) unless `binding` was revoked,
    /// under the lock that revokes take: `None` when it was revoked.
    pub fn admit<T>(&self, binding: Option<&Binding>, admit: impl FnOnce() -> T) -> Option<T> {
        let st = self.state();
        let revoked = binding.is_some_and(|b| st.in_flight.get(&b.id).is_none_or(|(_, r)| *r));
        (!revoked).then(admit)
    }
}

impl Drop for Binding {
    fn drop(&mut self) {
        self.bindings.state().in_flight.remove(&self.id);
    }
}

impl Drop for Revoking {
    fn drop(&mut self) {
        let mut st = self.bindings.state();
        if let Some(n) = st.revoking.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                st.revoking.remove(&self.user);
            }
        }
    }
}

/// How long an ended id is remembered, and how many at most.
const REMEMBER_MS: u64 = 60_000;
const REMEMBER_MAX: usize = 65_536;

/// Keys of ids destroyed or regenerated away in the last minute. A request
/// that still carries one (a browser's request sent before the logout or
/// login answered) gets no clearing cookie, which would delete the
/// browser's newer cookie.
#[derive(Default)]
pub(crate) struct RecentlyEnded {
    state: Mutex<EndedState>,
}

/// The remembered keys, and when each ended (oldest first).
type EndedState = (HashSet<SessionKey>, VecDeque<(u64, SessionKey)>);

impl RecentlyEnded {
    /// Remembers `key` as ended `ago_ms` before `now_ms` (elsewhere), unless
    /// that is longer ago than a minute.
    pub fn insert_ago(&self, key: SessionKey, now_ms: u64, ago_ms: u64) {
        if ago_ms < REMEMBER_MS {
            // Kept a little longer than a minute at most: the queue is in
            // order of insertion.
            self.insert(key, now_ms.saturating_sub(ago_ms));
        }
    }

    /// Remembers `key` as ended at `now_ms`.
    pub fn insert(&self, key: SessionKey, now_ms: u64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (keys, order) = &mut *st;
        Self::forget_old(keys, order, now_ms);
        if order.len() >= REMEMBER_MAX {
            if let Some((_, oldest)) = order.pop_front() {
                keys.remove(&oldest);
            }
        }
        if keys.insert(key) {
            order.push_back((now_ms, key));
        }
    }

    /// Whether `key` ended within the last minute.
    pub fn contains(&self, key: &SessionKey, now_ms: u64) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (keys, order) = &mut *st;
        Self::forget_old(keys, order, now_ms);
        keys.contains(key)
    }

    fn forget_old(
        keys: &mut HashSet<SessionKey>,
        order: &mut VecDeque<(u64, SessionKey)>,
        now_ms: u64,
    ) {
        while let Some(&(at, key)) = order.front() {
            if now_ms.saturating_sub(at) < REMEMBER_MS {
                break;
            }
            order.pop_front();
            keys.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoke_marks_bindings_made_before_and_during_it() {
        let b = Arc::new(Bindings::default());
        let before = b.bind("alice");
        let other = b.bind("bob");
        let revoke = b.begin_revoke("alice");
        let during = b.bind("alice");
        drop(revoke);
        let after = b.bind("alice");
        assert!(b.admit(Some(&before), || ()).is_none());
        assert!(b.admit(Some(&during), || ()).is_none());
        assert!(b.admit(Some(&other), || ()).is_some());
        assert!(b.admit(Some(&after), || ()).is_some());
        assert!(b.admit(None, || ()).is_some());
        drop((before, during, other, after));
        assert!(b.state().in_flight.is_empty() && b.state().revoking.is_empty());
    }

    #[test]
    fn ended_ids_are_forgotten_after_a_minute() {
        let ended = RecentlyEnded::default();
        let key = SessionKey::of_id("a");
        ended.insert(key, 1_000);
        assert!(ended.contains(&key, 1_000 + REMEMBER_MS - 1));
        assert!(!ended.contains(&key, 1_000 + REMEMBER_MS));
        assert!(!ended.contains(&SessionKey::of_id("b"), 1_000));
    }
}
