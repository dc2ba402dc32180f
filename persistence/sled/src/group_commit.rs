//! Group commit: concurrent `flush()` callers share one blocking sled flush.
//!
//! Flushes are numbered (epochs). A caller needs a flush that *started after*
//! its call (so after its writes): epoch `started + 1`. If no flush is running
//! it starts that one itself on `spawn_blocking`; otherwise it marks one as
//! pending and the running driver starts it as soon as the current flush ends.
//! Every caller that arrives during a flush therefore shares the next one.
//! Completion is published through a `watch` channel of the last finished epoch.
//!
//! Writes in flight are counted ([`GroupCommit::write_started`]): a writer
//! asks for a flush as soon as its write returns. So before a flush begins,
//! its driver waits a little (at most [`GATHER_ROUNDS`] x [`GATHER_PAUSE`])
//! while writes are in flight, and a caller that arrives before the flush
//! has begun joins it instead of waiting for the next one. Concurrent
//! writers to different sessions then share one flush instead of a few.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use livesession::store::StoreError;
use tokio::sync::watch;

/// The blocking durability barrier being shared.
pub(crate) type FlushFn = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// How long a flush's driver waits, at most, for writes in flight before
/// it begins: `GATHER_ROUNDS` pauses of `GATHER_PAUSE`, each ended early
/// when no write is in flight any more.
const GATHER_ROUNDS: u32 = 8;
const GATHER_PAUSE: Duration = Duration::from_micros(50);

pub(crate) struct GroupCommit {
    state: Mutex<State>,
    completed: watch::Sender<u64>,
    run: FlushFn,
    /// Writes that have started and not yet returned to their caller.
    writes_in_flight: AtomicUsize,
    /// Pauses a driver waits at most for writes in flight.
    gather_rounds: u32,
}

/// A write in flight; dropped when the write returns (or is abandoned).
pub(crate) struct WriteInFlight<'a>(&'a GroupCommit);

impl Drop for WriteInFlight<'_> {
    fn drop(&mut self) {
        self.0.writes_in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Default)]
struct State {
    /// Highest epoch started (scheduled: a driver will run it).
    started: u64,
    /// Highest epoch whose flush has begun: one scheduled but not begun
    /// still covers every write that returned before a caller asks for it.
    begun: u64,
    /// A driver task is running flushes.
    running: bool,
    /// Someone needs a flush after the one in progress.
    pending: bool,
    /// Highest epoch that finished successfully.
    last_ok: u64,
    /// Error of the most recent failed flush.
    last_err: Option<String>,
}

impl GroupCommit {
    pub(crate) fn new(run: FlushFn) -> Arc<Self> {
        Self::gathering(run, GATHER_ROUNDS)
    }

    fn gathering(run: FlushFn, gather_rounds: u32) -> Arc<Self> {
        Arc::new(GroupCommit {
            state: Mutex::new(State::default()),
            completed: watch::Sender::new(0),
            run,
            writes_in_flight: AtomicUsize::new(0),
            gather_rounds,
        })
    }

    /// Counts a write as in flight until the returned guard is dropped, so
    /// a flush about to begin waits a little for its writer to join it.
    pub(crate) fn write_started(&self) -> WriteInFlight<'_> {
        self.writes_in_flight.fetch_add(1, Ordering::AcqRel);
        WriteInFlight(self)
    }

    /// Waits, briefly and boundedly, while writes are in flight.
    fn gather(&self) {
        for _ in 0..self.gather_rounds {
            if self.writes_in_flight.load(Ordering::Acquire) == 0 {
                return;
            }
            std::thread::sleep(GATHER_PAUSE);
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counters; a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once a flush that started after this call has finished.
    pub(crate) async fn flush(self: Arc<Self>) -> Result<(), StoreError> {
        let mut done = self.completed.subscribe();
        let target = {
            let mut state = self.lock();
            let target = state.started + 1;
            if state.running && state.started > state.begun {
                // Scheduled, not begun: it covers this caller's writes.
                state.started
            } else if state.running {
                state.pending = true;
                target
            } else {
                state.running = true;
                state.started = target;
                let driver = Driver {
                    group: Arc::clone(&self),
                    epoch: target,
                    finished: false,
                };
                drop(state);
                tokio::task::spawn_blocking(move || driver.run());
                target
            }
        };
        // The sender lives in `self`, which we hold: this cannot fail.
        let _ = done.wait_for(|&epoch| epoch >= target).await;
        let state = self.lock();
        if state.last_ok >= target {
            Ok(())
        } else {
            let err = state.last_err.as_deref().unwrap_or("unknown error");
            Err(StoreError::backend(format!("sled flush failed: {err}")))
        }
    }
}

/// Runs flushes until nobody is waiting. If it is dropped without running
/// (the runtime shut down), it records a failure so that waiters and later
/// callers are not stuck behind a flush that never happens.
struct Driver {
    group: Arc<GroupCommit>,
    epoch: u64,
    finished: bool,
}

impl Driver {
    fn run(mut self) {
        loop {
            self.group.gather();
            self.group.lock().begun = self.epoch;
            let result = catch_unwind(AssertUnwindSafe(|| (self.group.run)()))
                .unwrap_or_else(|_| Err("flush panicked".to_owned()));
            let mut state = self.group.lock();
            match result {
                Ok(()) => state.last_ok = self.epoch,
                Err(e) => state.last_err = Some(e),
            }
            self.group.completed.send_replace(self.epoch);
            if state.pending {
                state.pending = false;
                state.started += 1;
                self.epoch = state.started;
            } else {
                state.running = false;
                self.finished = true;
                return;
            }
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut state = self.group.lock();
        state.last_err = Some("flush task was cancelled".to_owned());
        state.pending = false;
        state.running = false;
        // Waiters for any epoch up to the latest started one are released.
        self.group.completed.send_replace(state.started);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_flushes() {
        let runs = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&runs);
        let group = GroupCommit::new(Box::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            Ok(())
        }));
        let tasks: Vec<_> = (0..100)
            .map(|_| tokio::spawn(Arc::clone(&group).flush()))
            .collect();
        for task in tasks {
            task.await.expect("join").expect("flush");
        }
        let n = runs.load(Ordering::SeqCst);
        assert!(
            (1..100).contains(&n),
            "100 callers should share flushes, ran {n}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_waits_for_a_flush_that_started_after_it() {
        // Each run records the number of writes that existed when it started.
        let writes = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(AtomicU64::new(0));
        let (w, s) = (Arc::clone(&writes), Arc::clone(&seen));
        let group = GroupCommit::new(Box::new(move || {
            let at_start = w.load(Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            s.fetch_max(at_start, Ordering::SeqCst);
            Ok(())
        }));
        // A slow flush is in progress...
        let first = tokio::spawn(Arc::clone(&group).flush());
        tokio::time::sleep(Duration::from_millis(5)).await;
        // ...when a write completes and its writer asks for a flush.
        writes.fetch_add(1, Ordering::SeqCst);
        Arc::clone(&group).flush().await.expect("flush");
        assert_eq!(
            seen.load(Ordering::SeqCst),
            1,
            "flush returned before a flush covering the write ran"
        );
        first.await.expect("join").expect("flush");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_still_in_flight_joins_the_flush_about_to_begin() {
        let runs = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&runs);
        // Gathers for up to a minute here, so the test does not depend on
        // how fast this machine is.
        let group = GroupCommit::gathering(
            Box::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }),
            1_200_000,
        );
        // A second writer's write is in flight when the first asks for a flush.
        let write = group.write_started();
        let first = tokio::spawn(Arc::clone(&group).flush());
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Its write returns and it asks for a flush while the first waits.
        drop(write);
        Arc::clone(&group).flush().await.expect("flush");
        first.await.expect("join").expect("flush");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the two writers should have shared one flush"
        );
    }

    #[tokio::test]
    async fn errors_reach_the_callers_and_later_flushes_recover() {
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let f = Arc::clone(&fail);
        let group = GroupCommit::new(Box::new(move || {
            if f.load(Ordering::SeqCst) {
                Err("disk on fire".to_owned())
            } else {
                Ok(())
            }
        }));
        let err = Arc::clone(&group).flush().await.expect_err("must fail");
        assert!(err.to_string().contains("disk on fire"), "{err}");
        fail.store(false, Ordering::SeqCst);
        Arc::clone(&group).flush().await.expect("recovered");
    }

    #[tokio::test]
    async fn a_panicking_flush_is_an_error_not_a_hang() {
        let group = GroupCommit::new(Box::new(|| panic!("boom")));
        let err = Arc::clone(&group).flush().await.expect_err("must fail");
        assert!(err.to_string().contains("panicked"), "{err}");
    }
}
