//! The background tasks: waking the owners of hibernating sessions whose
//! alarm is due, and sweeping expired records from the store.

use crate::core::alarms::Alarms;
use crate::core::Core;
use crate::store::SessionKey;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

impl Core {
    /// Starts the alarm task and, with a store, the sweeper (once, lazily,
    /// because they need a Tokio runtime).
    pub(crate) fn ensure_background(&self) {
        if self.background_started.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            self.background_started.store(false, Ordering::Relaxed);
            return;
        };
        handle.spawn(run_alarms(self.me.clone(), self.alarms.clone()));
        // A shared store expires records by itself.
        if self.store().is_some() && !self.is_shared() {
            handle.spawn(run_sweeper(self.me.clone(), self.config.sweep_interval));
        }
    }

    pub(crate) async fn sweep_once(&self) {
        let Some(store) = self.store() else { return };
        let registry = &self.registry;
        let skip = |k: &SessionKey| registry.contains(k);
        loop {
            match store.remove_expired(self.now_ms(), 1000, &skip).await {
                Ok(n) if n >= 1000 => continue,
                Ok(n) => {
                    if n > 0 {
                        tracing::debug!(removed = n, "swept expired session records");
                    }
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "sweeping expired session records failed; will retry");
                    return;
                }
            }
        }
    }
}

/// Wakes the owners of hibernating sessions whose alarm is due. Holds the
/// runtime only weakly, so a dropped manager ends it within a second.
async fn run_alarms(me: Weak<Core>, alarms: Arc<Alarms>) {
    const MAX_NAP: Duration = Duration::from_secs(1);
    loop {
        // `notify_one` leaves a permit when nobody waits, so an alarm set
        // between reading the queue and waiting is not missed.
        let now = match me.upgrade() {
            Some(rt) => rt.now_ms(),
            None => return,
        };
        let wait = alarms
            .next_due()
            .map_or(MAX_NAP, |t| Duration::from_millis(t.saturating_sub(now)))
            .min(MAX_NAP);
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = alarms.earlier.notified() => {}
            }
        }
        let Some(rt) = me.upgrade() else { return };
        if rt.is_shutting_down() {
            return;
        }
        for (at, key) in alarms.take_due(rt.now_ms()) {
            if let Some(cell) = rt.registry.live_cell(&key) {
                let current =
                    cell.alarm_at_ms
                        .compare_exchange(at, 0, Ordering::SeqCst, Ordering::SeqCst);
                if current.is_ok() {
                    rt.owner(&cell, true);
                }
            }
        }
    }
}

/// Removes expired records from the store every `every`.
async fn run_sweeper(me: Weak<Core>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(rt) = me.upgrade() else { return };
        if rt.is_shutting_down() {
            return;
        }
        rt.sweep_once().await;
    }
}
