//! The threads that make the store's sled calls, off the async executor.
//!
//! A fixed-size pool rather than Tokio's `spawn_blocking`: that pool starts a
//! thread for every call that finds none idle, so a burst of concurrent
//! calls (64 writers) ran on as many threads, each handed one call of a few
//! microseconds; measured on 2 cores, concurrent save + flush throughput fell
//! to a quarter. Here a few threads, started on demand, take calls from one
//! queue and keep taking them while there are any, so under load a thread
//! runs many calls per wake-up.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

type Job = Box<dyn FnOnce() + Send>;

pub(crate) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    queue: Mutex<Queue>,
    ready: Condvar,
    max_threads: usize,
    /// Jobs submitted so far: thread hand-offs, for tests.
    #[cfg(test)]
    submitted: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    closed: bool,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Jobs run outside the lock; a panic cannot leave the queue torn.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Pool {
    /// A pool of up to `max_threads` threads (at least one), none started yet.
    pub(crate) fn new(max_threads: usize) -> Pool {
        Pool {
            inner: Arc::new(Inner {
                queue: Mutex::default(),
                ready: Condvar::new(),
                max_threads: max_threads.max(1),
                #[cfg(test)]
                submitted: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }

    /// Runs `job` on a pool thread; a panic in it is caught (the job's own
    /// result channel then reports it by being dropped).
    pub(crate) fn submit(&self, job: impl FnOnce() + Send + 'static) {
        #[cfg(test)]
        self.inner
            .submitted
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut queue = self.inner.lock();
        queue.jobs.push_back(Box::new(job));
        if queue.idle > 0 {
            drop(queue);
            self.inner.ready.notify_one();
            return;
        }
        if queue.threads < self.inner.max_threads {
            let inner = Arc::clone(&self.inner);
            let started = std::thread::Builder::new()
                .name("livesession-sled".into())
                .spawn(move || work(&inner));
            match started {
                Ok(_) => queue.threads += 1,
                // A running thread will take the job; with none, say why.
                Err(e) if queue.threads == 0 => {
                    tracing::error!(error = %e, "livesession-sled: cannot start a thread for sled calls");
                    // Dropping the job drops its result channel: the call
                    // fails. Not under the lock: the job may hold the store.
                    let job = queue.jobs.pop_back();
                    drop(queue);
                    drop(job);
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
impl Pool {
    /// Jobs submitted so far.
    pub(crate) fn submitted(&self) -> u64 {
        self.inner
            .submitted
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn work(inner: &Inner) {
    let mut queue = inner.lock();
    loop {
        if let Some(job) = queue.jobs.pop_front() {
            drop(queue);
            let _ = catch_unwind(AssertUnwindSafe(job));
            queue = inner.lock();
        } else if queue.closed {
            queue.threads -= 1;
            return;
        } else {
            queue.idle += 1;
            queue = inner.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
            queue.idle -= 1;
        }
    }
}

impl Drop for Pool {
    /// The threads finish the queued jobs, then end. Not joined: the last
    /// store handle may be dropped by a job on one of them.
    fn drop(&mut self) {
        self.inner.lock().closed = true;
        self.inner.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[test]
    fn runs_every_job_on_at_most_max_threads_and_survives_panics() {
        let pool = Pool::new(3);
        let names = Arc::new(Mutex::new(std::collections::HashSet::new()));
        let done = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for i in 0..200 {
            let (names, done, tx) = (Arc::clone(&names), Arc::clone(&done), tx.clone());
            pool.submit(move || {
                names.lock().unwrap().insert(std::thread::current().id());
                done.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(());
                if i % 50 == 0 {
                    panic!("a job panics");
                }
            });
        }
        for _ in 0..200 {
            rx.recv_timeout(std::time::Duration::from_secs(10))
                .expect("every job runs");
        }
        assert_eq!(done.load(Ordering::SeqCst), 200);
        let threads = names.lock().unwrap().len();
        assert!((1..=3).contains(&threads), "{threads} threads");
    }

    #[test]
    fn dropping_the_pool_still_runs_queued_jobs() {
        let pool = Pool::new(1);
        let (tx, rx) = mpsc::channel();
        for _ in 0..10 {
            let tx = tx.clone();
            pool.submit(move || {
                std::thread::sleep(std::time::Duration::from_millis(1));
                let _ = tx.send(());
            });
        }
        drop(pool);
        for _ in 0..10 {
            rx.recv_timeout(std::time::Duration::from_secs(10))
                .expect("queued job runs");
        }
    }
}
