//! Group commit for [`Durability::Sync`](crate::Durability::Sync): writes
//! and flushes of many callers share one thread hand-off and one sled flush.
//! With [`Durability::Periodic`](crate::Durability::Periodic) the same
//! queue applies writes in groups without a flush (sled flushes on its own
//! timer): one hand-off per group instead of one per write.
//!
//! A write (create, save, delete) is queued as a closure with its caller's
//! reply channel; a `flush()` that finds something not yet durable queues
//! its reply channel too. One *committer* job at a time runs on the store's
//! threads (the first caller that finds none running submits it). It takes
//! everything queued, applies the writes one after the other, yields its
//! thread and takes again what arrived meanwhile (so under load a group
//! grows while it is being applied, and an idle store adds no wait; see
//! [`GATHER_YIELDS`]), until the queue is empty or a group holds
//! [`MAX_GROUP`] writes; then it runs ONE flush and answers
//! every caller of the group: when they all run on Tokio, from one task
//! spawned on the first one's runtime ([`relay`]), else one by one.
//! Whatever arrives during that flush forms the next group. A group of
//! callers on one runtime therefore costs one hand-off to the committer,
//! one flush (with sled 0.34, a wake-up of all of its idle I/O threads) and
//! one wake-up of the callers' executor, however many writes it holds.
//!
//! A write resolves only after the flush of its group: `Ok` when the write
//! succeeded and that flush did; the flush's error otherwise, so nothing is
//! acknowledged that is not durable (a write's own error stays its own).
//!
//! Writes are counted as they are applied ([`GroupCommit::applied`]); a
//! flush notes the count just before it begins, and a successful one makes
//! that count durable. A `flush()` caller needs every write applied before
//! its call to be durable (what it read may come from a write that has not
//! completed: `revoke_user` lists a user's sessions, then flushes), and
//! one the committer is applying meanwhile to land first (the runtime's
//! cleanup of a dropped create flushes, then looks for what the create
//! wrote). If the committer is not applying writes and the durable count
//! already reaches the applied count, it returns at once; otherwise it
//! joins the next group's flush, which begins after its call and after the
//! writes being applied. (A caller's own completed write is durable already:
//! a store with sync durability tells the runtime so, and the runtime calls
//! no `flush()` after its own writes; see
//! `SessionStore::completed_writes_are_durable`.)
//!
//! The queue is bounded: a group takes at most [`MAX_GROUP`] writes of a
//! backlog, writes whose callers gave up are pruned once the queue reaches
//! [`PRUNE_AT`] (the mark then doubles), and past [`MAX_WAITING`] waiting
//! writes a new one is refused at once: a stalled flush cannot make the
//! queue grow without end.
//!
//! A caller that drops its future abandons its place: a queued write whose
//! caller is gone is not applied, and a reply nobody waits for is dropped.
//! The committer never waits for a caller (before it ends, it yields its
//! thread a few times for its last group's answering task, then sends what
//! that task has not; see [`relay`]). If the committer job never runs
//! or stops short (the store's threads are gone, a bug panics), every caller
//! it holds or finds queued gets an error, and the next caller submits a new
//! committer.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use livesession::store::StoreError;
use tokio::sync::oneshot;

use crate::pool::Pool;

mod relay;

use relay::{AnswerFrom, FlushReply, Pending, Relay, Route, WriteReply};

/// The blocking durability barrier being shared.
pub(crate) type FlushFn = Box<dyn Fn() -> Result<(), String> + Send + Sync>;

/// A write to apply: its value (`bool`: what `delete` answers).
pub(crate) type WriteFn = Box<dyn FnOnce() -> Result<bool, StoreError> + Send>;

/// How many times at most the committer yields its thread before a group's
/// flush (or, without one, before answering it), so that the writers (on
/// one core, the executor) run first and queue more; it stops at the first
/// yield after which nothing new was queued. It yields at least once per
/// group: otherwise, on a core shared with the executor, the committer
/// woken by a write runs it and answers before the executor has read any
/// other request, and every group (and, with one busy session, every
/// owner batch) holds a single change. With nothing else to run, a yield
/// returns at once.
const GATHER_YIELDS: u32 = 16;

/// How many times at most a committer with nothing left to do yields its
/// thread for the task that sends its last group's answers (see [`relay`])
/// to run, before it sends them itself and looks at the queue once more.
const EXIT_YIELDS: u32 = 8;

/// Most writes applied before the group's flush begins, so that a steady
/// stream of writes cannot postpone it indefinitely.
const MAX_GROUP: usize = 256;

/// Most writes waiting for the committer; one more is refused at once
/// (`StoreError`: the store is overloaded). Only a flush that stalls (a
/// stuck disk) lets the queue grow this long: each entry holds an encoded
/// record until the committer comes back.
const MAX_WAITING: usize = 65_536;

/// Queue length at which writes whose callers gave up (their deadline
/// passed while a flush stalled) are dropped from it; the mark then
/// doubles past what is left, so pruning costs O(1) per write.
const PRUNE_AT: usize = 1024;

pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
    /// The flush each group ends with; `None`: groups are applied, not
    /// flushed (periodic durability), and every write answers once applied.
    run: Option<FlushFn>,
    /// Writes applied so far, counted after each.
    applied: AtomicU64,
    /// `applied` as read just before the latest successful flush began:
    /// every write counted up to there is durable.
    durable: AtomicU64,
    /// Writes that may wait at once ([`MAX_WAITING`]; smaller in tests).
    max_waiting: usize,
    /// Test hook: runs each time the committer is about to yield while it
    /// gathers a group.
    #[cfg(test)]
    on_yield: Mutex<Option<Box<dyn FnMut() + Send>>>,
}

#[derive(Default)]
struct Queue {
    writes: VecDeque<(WriteFn, WriteReply, AnswerFrom)>,
    flushes: Vec<(FlushReply, AnswerFrom)>,
    /// A committer job is submitted or running; it will take what is queued.
    running: bool,
    /// The committer has taken writes and is applying them: a `flush()`
    /// called now waits for them (and its group's flush).
    applying: bool,
    /// Length of `writes` at which abandoned writes are pruned (0: [`PRUNE_AT`]).
    prune_at: usize,
}

fn flush_failed(err: &str) -> StoreError {
    StoreError::backend(format!("sled flush failed: {err}"))
}

fn abandoned() -> StoreError {
    StoreError::backend("the sled write was abandoned: the store's committer stopped")
}

fn overloaded(waiting: usize) -> StoreError {
    StoreError::backend(format!(
        "sled store overloaded: {waiting} writes are already waiting"
    ))
}

impl GroupCommit {
    pub(crate) fn new(run: FlushFn) -> Arc<Self> {
        Self::limited(Some(run), MAX_WAITING)
    }

    /// Groups writes without flushing them: a write answers once applied.
    pub(crate) fn without_flush() -> Arc<Self> {
        Self::limited(None, MAX_WAITING)
    }

    fn limited(run: Option<FlushFn>, max_waiting: usize) -> Arc<Self> {
        Arc::new(GroupCommit {
            queue: Mutex::default(),
            run,
            applied: AtomicU64::new(0),
            durable: AtomicU64::new(0),
            max_waiting,
            #[cfg(test)]
            on_yield: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Queued items are moved in and out whole; a panic cannot tear them.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a write made outside the committer (the expiry sweep), so a
    /// later `flush()` covers it.
    pub(crate) fn applied(&self) {
        self.applied.fetch_add(1, Ordering::SeqCst);
    }

    /// Queues `item` and makes sure a committer will take it.
    fn enqueue(self: &Arc<Self>, pool: &Pool, item: impl FnOnce(&mut Queue)) {
        let mut queue = self.lock();
        item(&mut queue);
        if queue.running {
            return;
        }
        queue.running = true;
        drop(queue);
        let committer = Committer {
            group: Arc::clone(self),
            finished: false,
            group_writes: Vec::new(),
            group_flushes: Vec::new(),
            route: Route::default(),
            pending: None,
        };
        pool.submit(move || committer.run());
    }

    /// Applies `write` in the next group and answers once that group's
    /// flush has finished (see the module docs).
    pub(crate) async fn write(
        self: Arc<Self>,
        pool: &Pool,
        write: WriteFn,
    ) -> Result<bool, StoreError> {
        let (tx, rx) = oneshot::channel();
        let from = relay::callers_runtime();
        let mut refused = None;
        self.enqueue(pool, |queue| {
            if queue.writes.len() >= queue.prune_at.max(PRUNE_AT) {
                queue.writes.retain(|(_, reply, _)| !reply.is_closed());
                queue.prune_at = queue.writes.len() * 2;
            }
            if queue.writes.len() >= self.max_waiting {
                refused = Some(queue.writes.len());
            } else {
                queue.writes.push_back((write, tx, from));
            }
        });
        if let Some(waiting) = refused {
            return Err(overloaded(waiting));
        }
        rx.await.map_err(|_| abandoned())?
    }

    /// Returns once every write applied before this call, and every write
    /// being applied at the call, is durable.
    pub(crate) async fn flush(self: Arc<Self>, pool: &Pool) -> Result<(), StoreError> {
        let applying = self.lock().applying;
        let needed = self.applied.load(Ordering::SeqCst);
        if !applying && self.durable.load(Ordering::SeqCst) >= needed {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        let from = relay::callers_runtime();
        self.enqueue(pool, |queue| queue.flushes.push((tx, from)));
        rx.await.map_err(|_| abandoned())?
    }
}

/// The committer job: runs groups until nothing is queued. Dropped without
/// finishing (never run, or a panic), it fails what it holds and what is
/// queued, and lets the next caller start a new one.
struct Committer {
    group: Arc<GroupCommit>,
    /// Set when it stops because nothing is queued.
    finished: bool,
    group_writes: Vec<(WriteReply, Result<bool, StoreError>)>,
    group_flushes: Vec<FlushReply>,
    /// Where this group's answers are sent from.
    route: Route,
    /// The previous group's answers, if a task on its callers' runtime is
    /// to send them and may not have yet; dropped, it sends what the task
    /// has not.
    pending: Option<Pending>,
}

impl Committer {
    fn run(mut self) {
        loop {
            // Apply everything queued, and what arrives meanwhile.
            let mut yields = 0;
            let mut yielded = false;
            loop {
                let taken = {
                    let mut queue = self.group.lock();
                    // What it took last time is applied (and counted).
                    queue.applying = false;
                    let full = self.group_writes.len() >= MAX_GROUP;
                    if queue.writes.is_empty()
                        && !full
                        && !yielded
                        && yields < GATHER_YIELDS
                        && !self.group_writes.is_empty()
                    {
                        // Let the writers' threads run first.
                        drop(queue);
                        yields += 1;
                        yielded = true;
                        #[cfg(test)]
                        if let Some(hook) = self.group.on_yield.lock().unwrap().as_mut() {
                            hook();
                        }
                        std::thread::yield_now();
                        continue;
                    }
                    yielded = false;
                    if queue.writes.is_empty() || full {
                        // Flush callers taken here are covered: the flush
                        // begins after their call.
                        for (reply, from) in queue.flushes.drain(..) {
                            self.route.add(from);
                            self.group_flushes.push(reply);
                        }
                        if self.group_writes.is_empty() && self.group_flushes.is_empty() {
                            if let Some(pending) = self.pending.take() {
                                // The last group's answers are sent before
                                // this job ends; then look again.
                                drop(queue);
                                pending.await_task_or_send(EXIT_YIELDS);
                                continue;
                            }
                            queue.running = false;
                            self.finished = true;
                            return;
                        }
                        break;
                    }
                    // At most a group's worth: what stays waits for the next.
                    let room = MAX_GROUP - self.group_writes.len();
                    let n = queue.writes.len().min(room);
                    queue.applying = true;
                    queue.writes.drain(..n).collect::<Vec<_>>()
                };
                for (write, reply, from) in taken {
                    if reply.is_closed() {
                        // The caller gave up (a deadline passed) before it started.
                        continue;
                    }
                    self.route.add(from);
                    let result = catch_unwind(AssertUnwindSafe(write))
                        .unwrap_or_else(|_| Err(StoreError::backend("a sled write panicked")));
                    self.group.applied.fetch_add(1, Ordering::SeqCst);
                    self.group_writes.push((reply, result));
                }
            }
            // The previous group's answers, if its task has not sent them
            // yet: before this flush, however long it takes.
            if let Some(previous) = self.pending.take() {
                previous.send_unless_sent();
            }
            // One flush for the group, if anything needs it.
            let needed = !self.group_flushes.is_empty()
                || self.group_writes.iter().any(|(_, result)| result.is_ok());
            let flushed = match &self.group.run {
                Some(run) if needed => {
                    let covers = self.group.applied.load(Ordering::SeqCst);
                    let result = catch_unwind(AssertUnwindSafe(run))
                        .unwrap_or_else(|_| Err("flush panicked".to_owned()));
                    if result.is_ok() {
                        self.group.durable.fetch_max(covers, Ordering::SeqCst);
                    }
                    result
                }
                _ => Ok(()),
            };
            // One wake-up of the callers' executor for the whole group.
            let writes = self
                .group_writes
                .drain(..)
                .map(|(reply, result)| match (&flushed, result) {
                    (Err(e), Ok(_)) => (reply, Err(flush_failed(e))),
                    (_, result) => (reply, result),
                })
                .collect();
            let flushes = self
                .group_flushes
                .drain(..)
                .map(|reply| (reply, flushed.clone().map_err(|e| flush_failed(&e))))
                .collect();
            self.pending = Relay::new(writes, flushes).send_on(self.route.take());
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut queue = self.group.lock();
        // Held or queued callers are answered by dropping their channels.
        queue.running = false;
        queue.applying = false;
        let writes = std::mem::take(&mut queue.writes);
        let flushes = std::mem::take(&mut queue.flushes);
        drop(queue);
        drop((writes, flushes));
        self.group_writes.clear();
        self.group_flushes.clear();
        // `pending`, dropped with the committer, sends what it holds.
    }
}

#[cfg(test)]
mod tests;
