//! Answering a group's callers with one wake-up of their executor.
//!
//! The committer runs on one of the store's threads. Sending each caller of
//! a group its answer from there wakes the executor once per caller: on a
//! core shared with the executor, each wake-up preempts the committer, the
//! woken worker runs that one caller and goes back to sleep, and only then
//! does the committer send the next answer: two context switches per write.
//! Instead, when every caller of the group runs on a Tokio runtime, the
//! committer spawns one task on the first one's runtime that sends all of
//! the group's answers, a [`Relay`]: one wake-up per group, and the callers
//! are woken from the executor's own thread, where waking a task costs no
//! switch. A group with a caller outside Tokio, or with a single caller, is
//! answered directly, one send per caller.
//!
//! Nothing waits on that task: a runtime whose threads are all blocked (a
//! `Drop` that blocks on a store call, on a current-thread or one-worker
//! runtime) would never run it. The answers sit in a slot that the task and
//! the committer both may empty, whichever comes first ([`Pending`]): the
//! committer sends them itself before its next group's flush, and before
//! it ends it yields its thread a few times for the task to run, then sends
//! what is still there. (So when it does, a later group can be answered
//! before an earlier one whose task is still sending; each caller's own
//! writes are answered in order all the same.) A relay whose task is
//! dropped unrun (its runtime is shutting down) sends its answers as it
//! drops.

use livesession::store::StoreError;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub(crate) type WriteReply = oneshot::Sender<Result<bool, StoreError>>;
pub(crate) type FlushReply = oneshot::Sender<Result<(), StoreError>>;

/// Where a caller can be answered from: a Tokio runtime, or `None`: only
/// directly, from the committer's thread.
pub(crate) type AnswerFrom = Option<Handle>;

/// Where a caller on this thread can be answered from: its Tokio runtime.
pub(crate) fn callers_runtime() -> AnswerFrom {
    Handle::try_current().ok()
}

/// Where a group's answers are sent from, built up caller by caller: a
/// runtime every caller can be answered from, else directly.
#[derive(Default)]
pub(crate) struct Route {
    runtime: Option<Handle>,
    direct: bool,
}

impl Route {
    /// Adds a caller of the group.
    pub(crate) fn add(&mut self, from: AnswerFrom) {
        match from {
            Some(runtime) if !self.direct => {
                self.runtime.get_or_insert(runtime);
            }
            _ => {
                self.direct = true;
                self.runtime = None;
            }
        }
    }

    /// The group's route; starts the next group's afresh.
    pub(crate) fn take(&mut self) -> AnswerFrom {
        std::mem::take(self).runtime
    }
}

/// A group's answers not yet sent; dropping it sends them.
pub(crate) struct Relay {
    writes: Vec<(WriteReply, Result<bool, StoreError>)>,
    flushes: Vec<(FlushReply, Result<(), StoreError>)>,
}

impl Relay {
    pub(crate) fn new(
        writes: Vec<(WriteReply, Result<bool, StoreError>)>,
        flushes: Vec<(FlushReply, Result<(), StoreError>)>,
    ) -> Relay {
        Relay { writes, flushes }
    }

    /// Sends the answers from a task spawned on `runtime` (a runtime of the
    /// group's callers), or at once without one (or for a single caller).
    /// What a task is to send is returned, to be sent by the committer if
    /// the task does not run first.
    pub(crate) fn send_on(self, runtime: AnswerFrom) -> Option<Pending> {
        match runtime {
            Some(runtime) if self.writes.len() + self.flushes.len() > 1 => {
                let slot = Arc::new(Mutex::new(Some(self)));
                let for_task = Pending(Arc::clone(&slot));
                // Run or dropped unrun, the task sends what is still there.
                runtime.spawn(async move { drop(for_task) });
                Some(Pending(slot))
            }
            _ => {
                drop(self);
                None
            }
        }
    }
}

/// A group's answers that a task is to send, unless the committer does
/// first: the task and the committer each hold one, and whichever is
/// dropped first takes the answers out of the slot and sends them.
pub(crate) struct Pending(Arc<Mutex<Option<Relay>>>);

impl Drop for Pending {
    fn drop(&mut self) {
        // Taken under the lock, sent (by dropping) after it is released.
        let relay = self.take();
        drop(relay);
    }
}

impl Pending {
    fn take(&self) -> Option<Relay> {
        // The slot is only ever swapped whole: a panic cannot tear it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn is_sent(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Sends the answers from this thread, if no one has taken them yet.
    pub(crate) fn send_unless_sent(self) {
        drop(self);
    }

    /// Yields this thread up to `yields` times while the task has not run,
    /// then sends what it has not.
    pub(crate) fn await_task_or_send(self, yields: u32) {
        for _ in 0..yields {
            if self.is_sent() {
                return;
            }
            std::thread::yield_now();
        }
        self.send_unless_sent();
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for (reply, result) in self.writes.drain(..) {
            let _ = reply.send(result);
        }
        for (reply, result) in self.flushes.drain(..) {
            let _ = reply.send(result);
        }
    }
}
