//! The alarm queue of hibernating sessions.
//!
//! A hibernating owner parks its next deadline (idle expiry, absolute
//! deadline or passivation) here instead of keeping a task and a timer of its
//! own. One background task sleeps until the earliest alarm and wakes the
//! owner of each due session, which then checks its clocks. Each cell has at
//! most one pending alarm (`SessionCell::alarm_at_ms`), its earliest.

use super::cell::SessionCell;
use crate::store::SessionKey;
use std::cmp::Ordering as Order;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::Notify;

/// A parked alarm: when, and whose. The cell is held weakly (the queue never
/// keeps a session alive) and named by its address rather than its 32-byte
/// key, so an entry is 16 bytes: every hibernating session has one.
struct Alarm {
    at_ms: u64,
    cell: Weak<SessionCell>,
}

impl Alarm {
    fn new(at_ms: u64, cell: &Arc<SessionCell>) -> Self {
        Alarm {
            at_ms,
            cell: Arc::downgrade(cell),
        }
    }

    /// Orders alarms by time, then by cell (any fixed order will do).
    fn order(&self) -> (u64, usize) {
        (self.at_ms, self.cell.as_ptr() as usize)
    }

    /// The session's key, unless the cell is gone.
    fn key(&self) -> Option<SessionKey> {
        self.cell.upgrade().map(|cell| cell.key)
    }
}

impl PartialEq for Alarm {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl Eq for Alarm {}

impl PartialOrd for Alarm {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}

impl Ord for Alarm {
    fn cmp(&self, other: &Self) -> Order {
        self.order().cmp(&other.order())
    }
}

#[derive(Default)]
pub(crate) struct Alarms {
    queue: Mutex<BTreeSet<Alarm>>,
    /// Signalled when an alarm earlier than all others is set.
    pub earlier: Notify,
}

impl Alarms {
    fn queue(&self) -> std::sync::MutexGuard<'_, BTreeSet<Alarm>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks an alarm for `cell` at `at_ms`, unless an earlier one is pending.
    pub fn set(&self, cell: &Arc<SessionCell>, at_ms: u64) {
        let at_ms = at_ms.max(1);
        // The common case, without the queue's lock: an alarm at or before
        // `at_ms` is parked already. (Should it fire or be cancelled right
        // now, an owner starts or the session has ended: either way this
        // one is not needed.)
        let parked = cell.alarm_at_ms.load(Ordering::SeqCst);
        if parked != 0 && parked <= at_ms {
            return;
        }
        let mut q = self.queue();
        let pending = cell.alarm_at_ms.load(Ordering::SeqCst);
        if pending != 0 {
            if pending <= at_ms {
                return;
            }
            q.remove(&Alarm::new(pending, cell));
        }
        cell.alarm_at_ms.store(at_ms, Ordering::SeqCst);
        let earliest = q.first().map(|e| e.at_ms);
        q.insert(Alarm::new(at_ms, cell));
        crate::metrics::hibernated_sessions(q.len());
        if earliest.is_none_or(|e| at_ms < e) {
            self.earlier.notify_one();
        }
    }

    /// Removes the pending alarm of `cell`, if any (the session ended).
    pub fn cancel(&self, cell: &Arc<SessionCell>) {
        let mut q = self.queue();
        let pending = cell.alarm_at_ms.swap(0, Ordering::SeqCst);
        if pending != 0 {
            q.remove(&Alarm::new(pending, cell));
            crate::metrics::hibernated_sessions(q.len());
        }
    }

    /// The earliest pending alarm.
    pub fn next_due(&self) -> Option<u64> {
        self.queue().first().map(|e| e.at_ms)
    }

    /// Removes and returns every alarm due at `now_ms`.
    pub fn take_due(&self, now_ms: u64) -> Vec<(u64, SessionKey)> {
        let mut due = Vec::new();
        {
            let mut q = self.queue();
            while q.first().is_some_and(|first| first.at_ms <= now_ms) {
                due.extend(q.pop_first());
            }
            if !due.is_empty() {
                crate::metrics::hibernated_sessions(q.len());
            }
        }
        // Outside the lock (a cell may drop here). A cell that is gone has
        // no session to wake.
        due.into_iter()
            .filter_map(|alarm| Some((alarm.at_ms, alarm.key()?)))
            .collect()
    }

    /// Removes and returns the `n` earliest alarms, due or not: the
    /// hibernating sessions idle the longest (their passivation comes
    /// first), for making room under a live-session bound.
    pub fn take_earliest(&self, n: usize) -> Vec<SessionKey> {
        let taken: Vec<Alarm> = {
            let mut q = self.queue();
            let taken: Vec<Alarm> = std::iter::from_fn(|| q.pop_first()).take(n).collect();
            if !taken.is_empty() {
                crate::metrics::hibernated_sessions(q.len());
            }
            taken
        };
        taken.into_iter().filter_map(|alarm| alarm.key()).collect()
    }

    /// Number of pending alarms.
    pub fn len(&self) -> usize {
        self.queue().len()
    }
}
