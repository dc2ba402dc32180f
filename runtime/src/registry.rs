//! The registry: session key -> the one live actor for it.
//!
//! Each key maps to a slot that is filled at most once, so when many first
//! requests for a stored session arrive together, exactly one of them loads
//! it and spawns its actor; the others wait on the same slot. A slot is
//! removed only by the actor that fills it (when it ends) or by the loader
//! that found nothing, so a destroyed session can never be brought back by a
//! request that was in flight when it went.

use crate::actor::cell::SessionCell;
use crate::store::SessionKey;
use dashmap::DashMap;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// A registry slot: empty while its session is being activated, then the
/// live session, or `None` when the store had nothing.
pub(crate) type Slot = Arc<OnceCell<Option<Arc<SessionCell>>>>;

#[derive(Default)]
pub(crate) struct Registry {
    map: DashMap<SessionKey, Slot>,
}

impl Registry {
    /// The slot for `key`, if any.
    pub fn slot(&self, key: &SessionKey) -> Option<Slot> {
        self.map.get(key).map(|s| s.value().clone())
    }

    /// The slot for `key`, created empty if absent.
    pub fn slot_or_insert(&self, key: SessionKey) -> Slot {
        self.map
            .entry(key)
            .or_insert_with(|| Arc::new(OnceCell::new()))
            .value()
            .clone()
    }

    /// Registers a freshly created session. Returns false if the key is taken.
    pub fn insert_new(&self, live: Arc<SessionCell>) -> bool {
        match self.map.entry(live.key) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(v) => {
                v.insert(Arc::new(OnceCell::new_with(Some(Some(live)))));
                true
            }
        }
    }

    /// Removes the slot of `cell`, if it still holds that very session.
    pub fn remove(&self, cell: &Arc<SessionCell>) {
        self.map.remove_if(
            &cell.key,
            |_, slot| matches!(slot.get(), Some(Some(live)) if Arc::ptr_eq(live, cell)),
        );
    }

    /// Removes `slot` if it is still the one registered under `key` and holds
    /// no live session.
    pub fn remove_empty(&self, key: &SessionKey, slot: &Slot) {
        self.map.remove_if(key, |_, s| {
            Arc::ptr_eq(s, slot) && !matches!(s.get(), Some(Some(_)))
        });
    }

    /// Whether `key` has a slot (live or being activated).
    pub fn contains(&self, key: &SessionKey) -> bool {
        self.map.contains_key(key)
    }

    /// Number of slots: live sessions plus those being activated.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The live session under `key`, if there is one right now.
    pub fn live_cell(&self, key: &SessionKey) -> Option<Arc<SessionCell>> {
        self.map
            .get(key)
            .and_then(|s| s.value().get().and_then(|o| o.clone()))
    }

    /// Every live session right now.
    pub fn live(&self) -> Vec<Arc<SessionCell>> {
        self.map
            .iter()
            .filter_map(|e| e.value().get().and_then(|o| o.clone()))
            .collect()
    }
}
