//! The registry: session key -> the one live session for it.
//!
//! Each key maps to a [`Slot`] that is settled exactly once: by the task
//! that activates the session from the store (or, for a new session, at
//! creation, which registers the live cell itself: a slot settled from the
//! start, without the slot's allocation). When many first requests for a stored session arrive together,
//! the first inserts the slot and starts one activation task; the others
//! wait on the same slot. The activation runs in a task of its own, so a
//! request that is dropped meanwhile cannot leave the slot unsettled.
//!
//! A slot leaves the registry only when nobody can still fill it: the
//! activation task removes a slot it is about to settle empty or failed
//! (before it answers, so a later request loads afresh), and a session's
//! owner removes the slot of its session when it ends. A
//! destroyed session can therefore never be brought back by a request that
//! was in flight when it went, and one id never has two live cells.

use crate::core::cell::SessionCell;
use crate::store::SessionKey;
use dashmap::DashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::Notify;

/// How a slot settled.
pub(crate) enum Activation {
    /// The live session.
    Live(Arc<SessionCell>),
    /// The store has no (unexpired) session under the key.
    Absent,
    /// Activation failed (store error or timeout); the message says why.
    Failed(String),
    /// Not served, though the store did not fail (the manager is shutting
    /// down, or the session kept moving): `SessionError::Unavailable` with
    /// this message.
    Refused(String),
}

/// A registry slot: unsettled while its session is being activated.
#[derive(Default)]
pub(crate) struct Slot {
    settled: OnceLock<Activation>,
    wake: Notify,
}

impl Slot {
    fn live(cell: Arc<SessionCell>) -> Self {
        Slot {
            settled: OnceLock::from(Activation::Live(cell)),
            wake: Notify::new(),
        }
    }

    /// The outcome, if settled.
    pub fn get(&self) -> Option<&Activation> {
        self.settled.get()
    }

    /// The live session in this slot, if any.
    pub fn live_cell(&self) -> Option<&Arc<SessionCell>> {
        match self.settled.get() {
            Some(Activation::Live(cell)) => Some(cell),
            _ => None,
        }
    }

    /// Settles the slot (the first call wins) and wakes every waiter.
    pub fn settle(&self, outcome: Activation) {
        let _ = self.settled.set(outcome);
        self.wake.notify_waiters();
    }

    /// Waits until the slot is settled.
    pub async fn settled(&self) -> &Activation {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            // Registered before checking, so a settle in between is not missed.
            woken.as_mut().enable();
            if let Some(outcome) = self.settled.get() {
                return outcome;
            }
            woken.await;
        }
    }
}

/// What the registry holds under a key.
enum Entry {
    /// A session created here, live from the start: it needs no slot (most
    /// sessions in memory mode), which saves a slot's allocation per session.
    Live(Arc<SessionCell>),
    /// A slot settled by an activation (live, or still unsettled).
    Slot(Arc<Slot>),
}

impl Entry {
    fn live_cell(&self) -> Option<&Arc<SessionCell>> {
        match self {
            Entry::Live(cell) => Some(cell),
            Entry::Slot(slot) => slot.live_cell(),
        }
    }

    /// The entry as a slot; a live entry as a slot settled with it.
    fn slot(&self) -> Arc<Slot> {
        match self {
            Entry::Live(cell) => Arc::new(Slot::live(cell.clone())),
            Entry::Slot(slot) => slot.clone(),
        }
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    map: DashMap<SessionKey, Entry>,
    /// `map.len()` kept as a counter: DashMap's own `len` visits every shard.
    slots: AtomicUsize,
}

impl Registry {
    /// The slot for `key`, if any (a live session's: a settled one made for
    /// the call).
    pub fn slot(&self, key: &SessionKey) -> Option<Arc<Slot>> {
        self.map.get(key).map(|e| e.value().slot())
    }

    /// The slot for `key`, and whether this call inserted it (unsettled):
    /// the caller that inserted a slot must settle it.
    pub fn slot_or_insert(&self, key: SessionKey) -> (Arc<Slot>, bool) {
        match self.map.entry(key) {
            dashmap::Entry::Occupied(o) => (o.get().slot(), false),
            dashmap::Entry::Vacant(v) => {
                let slot = Arc::new(Slot::default());
                v.insert(Entry::Slot(slot.clone()));
                self.counted(1);
                (slot, true)
            }
        }
    }

    /// Counts `delta` slots in (1) or out (-1) and reports the gauge.
    fn counted(&self, delta: isize) {
        let now = if delta > 0 {
            self.slots.fetch_add(1, Ordering::Relaxed) + 1
        } else {
            self.slots.fetch_sub(1, Ordering::Relaxed) - 1
        };
        crate::metrics::live_sessions(now);
    }

    /// Registers a freshly created session. Returns false if the key is taken.
    pub fn insert_new(&self, live: Arc<SessionCell>) -> bool {
        match self.map.entry(live.key) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(v) => {
                v.insert(Entry::Live(live));
                self.counted(1);
                true
            }
        }
    }

    /// Removes the slot of `cell`, if it still holds that very session.
    pub fn remove(&self, cell: &Arc<SessionCell>) {
        let removed = self.map.remove_if(&cell.key, |_, entry| {
            entry
                .live_cell()
                .is_some_and(|live| Arc::ptr_eq(live, cell))
        });
        if removed.is_some() {
            self.counted(-1);
        }
    }

    /// Removes `slot` if it is still the one registered under `key` and holds
    /// no live session. Called only by the task that settles the slot, just
    /// before it settles it empty or failed: nobody else can fill it.
    pub fn remove_unfilled(&self, key: &SessionKey, slot: &Arc<Slot>) {
        let removed = self.map.remove_if(key, |_, entry| match entry {
            Entry::Slot(s) => Arc::ptr_eq(s, slot) && !matches!(s.get(), Some(Activation::Live(_))),
            Entry::Live(_) => false,
        });
        if removed.is_some() {
            self.counted(-1);
        }
    }

    /// Whether `key` has a slot (live or being activated).
    pub fn contains(&self, key: &SessionKey) -> bool {
        self.map.contains_key(key)
    }

    /// Number of slots: live sessions plus those being activated.
    pub fn len(&self) -> usize {
        self.slots.load(Ordering::Relaxed)
    }

    /// The live session under `key`, if there is one right now.
    pub fn live_cell(&self, key: &SessionKey) -> Option<Arc<SessionCell>> {
        self.map
            .get(key)
            .and_then(|s| s.value().live_cell().cloned())
    }

    /// Up to `n` live sessions, in the map's order (for sampling).
    pub fn some_live(&self, n: usize) -> Vec<Arc<SessionCell>> {
        self.map
            .iter()
            .filter_map(|e| e.value().live_cell().cloned())
            .take(n)
            .collect()
    }

    /// Every live session right now.
    pub fn live(&self) -> Vec<Arc<SessionCell>> {
        self.map
            .iter()
            .filter_map(|e| e.value().live_cell().cloned())
            .collect()
    }

    /// Every live session bound to `user` right now (by its published
    /// snapshot): what `revoke_user` and the listing of a user's sessions
    /// find in memory.
    pub fn live_bound_to(&self, user: &str) -> Vec<Arc<SessionCell>> {
        self.map
            .iter()
            .filter_map(|e| e.value().live_cell().cloned())
            .filter(|cell| cell.current().record.user.as_deref() == Some(user))
            .collect()
    }
}
