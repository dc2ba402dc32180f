//! Answering a group's callers with one wake-up of their executor.
//!
//! The committer runs on one of the store's threads. Sending each caller of
//! a group its answer from there wakes the executor once per caller: on a
//! core shared with the executor, each wake-up preempts the committer, the
//! woken worker runs that one caller and goes back to sleep, and only then
//! does the committer send the next answer: two context switches per write.
//! Instead the committer spawns one task on the callers' Tokio runtime that
//! sends all of the group's answers, a [`Relay`]: one wake-up per group,
//! and the callers are woken from the executor's own thread, where waking a
//! task costs no switch.
//!
//! Only a multi-thread runtime is used. A current-thread runtime's one
//! thread may be the very thing blocked on the answers (a `Drop` that
//! blocks on a store call), and then a task spawned there would never run;
//! its callers are answered from the committer's thread, as they are
//! outside Tokio. (A multi-thread runtime whose every worker blocks on the
//! store at once has stopped running tasks altogether.) Nothing else
//! depends on the task running: a relay that is dropped (its runtime is
//! shutting down and drops the task) sends its answers as it drops.

use livesession::store::StoreError;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::oneshot;

pub(crate) type WriteReply = oneshot::Sender<Result<bool, StoreError>>;
pub(crate) type FlushReply = oneshot::Sender<Result<(), StoreError>>;

/// The runtime a caller on this thread can be answered from: its
/// multi-thread Tokio runtime, if it runs on one.
pub(crate) fn callers_runtime() -> Option<Handle> {
    Handle::try_current()
        .ok()
        .filter(|runtime| runtime.runtime_flavor() == RuntimeFlavor::MultiThread)
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
    /// group's callers), or at once without one.
    pub(crate) fn send_on(self, runtime: Option<Handle>) {
        match runtime {
            // Dropping the relay in the task sends the answers.
            Some(runtime) if self.writes.len() + self.flushes.len() > 1 => {
                runtime.spawn(async move { drop(self) });
            }
            _ => drop(self),
        }
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
