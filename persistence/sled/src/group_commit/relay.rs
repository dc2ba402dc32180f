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
//! Only a runtime with several worker threads is used, and only when every
//! caller of the group runs on one (the first caller's is used). A runtime
//! with one thread may have it blocked on the very answers (a `Drop` that
//! blocks on a store call), and a task spawned there would never run; a
//! group with such a caller, or one outside Tokio, or with a single caller,
//! is answered from the committer's thread, one send per caller, as
//! before. The same block on *every* worker of a larger runtime at once
//! would hang it too; a runtime so blocked runs none of its other tasks
//! either. A relay whose task is dropped unrun (its runtime is shutting
//! down) sends its answers as it drops.

use livesession::store::StoreError;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::oneshot;

pub(crate) type WriteReply = oneshot::Sender<Result<bool, StoreError>>;
pub(crate) type FlushReply = oneshot::Sender<Result<(), StoreError>>;

/// Where a caller can be answered from: a Tokio runtime, or `None`: only
/// directly, from the committer's thread.
pub(crate) type AnswerFrom = Option<Handle>;

/// Where a caller on this thread can be answered from: its Tokio runtime if
/// that has several worker threads (see the module docs).
pub(crate) fn callers_runtime() -> AnswerFrom {
    Handle::try_current().ok().filter(|runtime| {
        runtime.runtime_flavor() == RuntimeFlavor::MultiThread
            && runtime.metrics().num_workers() > 1
    })
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
