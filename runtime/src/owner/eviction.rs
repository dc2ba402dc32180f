//! The live-session bound (`max_live_sessions`): making room for a session
//! entering memory by passivating the least recently used ones, or refusing
//! it when there is no store to passivate to.

use crate::core::Core;
use crate::error::SessionError;
use std::sync::Arc;

/// How many sessions one call passivates at most.
const MAX_EVICTIONS_PER_CALL: usize = 64;

impl Core {
    /// Makes room for `incoming` sessions about to enter memory (a new one:
    /// 1; an activation whose slot is counted already: 0).
    ///
    /// With a store, passivates the sessions idle the longest (the earliest
    /// alarms of hibernating owners, else the oldest of a sample of live
    /// ones), in the background: the bound may be passed briefly under a
    /// flood, never for long. Without a store, refuses.
    pub(crate) fn make_room(&self, incoming: usize) -> Result<(), SessionError> {
        let Some(max) = self.config.max_live_sessions else {
            return Ok(());
        };
        let live = self.registry.len() + incoming;
        if live <= max {
            return Ok(());
        }
        if self.store().is_none() {
            self.log_store_failure(self.now_ms(), || {
                tracing::warn!(
                    live,
                    max,
                    "a new session was refused: the live-session bound (max_live_sessions) is reached and there is no store to passivate sessions to"
                );
            });
            return Err(SessionError::Overloaded(max));
        }
        let excess = (live - max).min(MAX_EVICTIONS_PER_CALL);
        let mut victims: Vec<_> = self
            .alarms
            .take_earliest(excess)
            .iter()
            .filter_map(|key| self.registry.live_cell(key))
            .inspect(|cell| {
                // Out of the queue: its next owner parks a new alarm.
                cell.alarm_at_ms
                    .store(0, std::sync::atomic::Ordering::SeqCst);
            })
            .collect();
        if victims.is_empty() {
            // Every owner is awake: the oldest of a sample.
            let mut sample = self.registry.some_live(MAX_EVICTIONS_PER_CALL);
            sample.sort_by_key(|cell| cell.last_access());
            victims = sample.into_iter().take(excess).collect();
        }
        let Some(rt) = self.me.upgrade() else {
            return Ok(());
        };
        for cell in victims {
            let rt: Arc<Core> = rt.clone();
            tokio::spawn(async move {
                if let Err(e) = rt.retire(&cell).await {
                    rt.log_store_failure(rt.now_ms(), || {
                        tracing::warn!(key = ?cell.key, error = %e, "could not passivate a session to stay under max_live_sessions; it stays live");
                    });
                }
            });
        }
        Ok(())
    }
}
