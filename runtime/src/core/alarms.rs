//! The alarm queue of hibernating sessions.
//!
//! A hibernating owner parks its next deadline (idle expiry, absolute
//! deadline or passivation) here instead of keeping a task and a timer of its
//! own. One background task sleeps until the earliest alarm and wakes the
//! owner of each due session, which then checks its clocks. Each cell has at
//! most one pending alarm (`SessionCell::alarm_at_ms`), its earliest.

use super::cell::SessionCell;
use crate::store::SessionKey;
use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Alarms {
    queue: Mutex<BTreeSet<(u64, SessionKey)>>,
    /// Signalled when an alarm earlier than all others is set.
    pub earlier: Notify,
}

impl Alarms {
    fn queue(&self) -> std::sync::MutexGuard<'_, BTreeSet<(u64, SessionKey)>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks an alarm for `cell` at `at_ms`, unless an earlier one is pending.
    pub fn set(&self, cell: &SessionCell, at_ms: u64) {
        let at_ms = at_ms.max(1);
        let mut q = self.queue();
        let pending = cell.alarm_at_ms.load(Ordering::SeqCst);
        if pending != 0 {
            if pending <= at_ms {
                return;
            }
            q.remove(&(pending, cell.key));
        }
        cell.alarm_at_ms.store(at_ms, Ordering::SeqCst);
        let earliest = q.first().map(|e| e.0);
        q.insert((at_ms, cell.key));
        crate::metrics::hibernated_sessions(q.len());
        if earliest.is_none_or(|e| at_ms < e) {
            self.earlier.notify_one();
        }
    }

    /// Removes the pending alarm of `cell`, if any (the session ended).
    pub fn cancel(&self, cell: &SessionCell) {
        let mut q = self.queue();
        let pending = cell.alarm_at_ms.swap(0, Ordering::SeqCst);
        if pending != 0 {
            q.remove(&(pending, cell.key));
            crate::metrics::hibernated_sessions(q.len());
        }
    }

    /// The earliest pending alarm.
    pub fn next_due(&self) -> Option<u64> {
        self.queue().first().map(|e| e.0)
    }

    /// Removes and returns every alarm due at `now_ms`.
    pub fn take_due(&self, now_ms: u64) -> Vec<(u64, SessionKey)> {
        let mut q = self.queue();
        let mut due = Vec::new();
        while let Some(&first) = q.first() {
            if first.0 > now_ms {
                break;
            }
            q.pop_first();
            due.push(first);
        }
        if !due.is_empty() {
            crate::metrics::hibernated_sessions(q.len());
        }
        due
    }

    /// Removes and returns the `n` earliest alarms, due or not: the
    /// hibernating sessions idle the longest (their passivation comes
    /// first), for making room under a live-session bound.
    pub fn take_earliest(&self, n: usize) -> Vec<SessionKey> {
        let mut q = self.queue();
        let taken: Vec<SessionKey> = std::iter::from_fn(|| q.pop_first())
            .take(n)
            .map(|(_, key)| key)
            .collect();
        if !taken.is_empty() {
            crate::metrics::hibernated_sessions(q.len());
        }
        taken
    }

    /// Number of pending alarms.
    pub fn len(&self) -> usize {
        self.queue().len()
    }
}
