//! The O(1) record count.
//!
//! `sled::Tree::len()` walks the whole tree, so the store keeps the count in
//! memory instead. Every operation that can add or remove a record learns
//! atomically from sled whether it did (`insert`/`remove` return the previous
//! value, `compare_and_swap` succeeds or not), so the in-memory count is exact
//! while the process runs.
//!
//! Across restarts the count is persisted in the `meta` tree together with a
//! "clean" flag: a clean shutdown writes `(count, clean)`, opening reads it and
//! immediately rewrites it as dirty. Opening a store that was not shut down
//! cleanly (crash, `kill -9`, or a database without a counter) cannot trust the
//! persisted value, so it starts from that value as an estimate and recounts
//! in a background thread, without delaying startup.
//!
//! The recount walks `records` in key order with a cursor, one `get_gt` at a
//! time. While it runs, every count-changing write takes the recount lock and,
//! if its key is at or before the cursor (a part of the tree the walk has
//! already passed), adds its change to `delta`. The invariant
//! "records with key <= cursor == scanned + delta" then holds after every step,
//! so when the walk reaches the end the exact count is `scanned + delta`,
//! however many writes happened during the walk.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

use sled::IVec;

/// Outcome of one recount step.
pub(crate) enum Step {
    /// More records remain.
    Continue,
    /// The walk finished; the count is exact again.
    Done,
}

pub(crate) struct Counter {
    /// The count: exact unless a recount is running (or failed).
    value: AtomicI64,
    /// A recount is running: count-changing writes must go through `repair`.
    repairing: AtomicBool,
    /// Set when a recount could not finish; the count is then an estimate.
    inexact: AtomicBool,
    repair: Mutex<Repair>,
}

#[derive(Default)]
struct Repair {
    cursor: Option<IVec>,
    scanned: u64,
    delta: i64,
    done: bool,
}

impl Counter {
    /// A count known to be exact.
    pub(crate) fn exact(n: u64) -> Self {
        Counter {
            value: AtomicI64::new(i64::try_from(n).unwrap_or(i64::MAX)),
            repairing: AtomicBool::new(false),
            inexact: AtomicBool::new(false),
            repair: Mutex::new(Repair {
                done: true,
                ..Repair::default()
            }),
        }
    }

    /// An estimate that a recount (driven by [`Counter::repair_step`]) will fix.
    pub(crate) fn needs_recount(estimate: u64) -> Self {
        Counter {
            value: AtomicI64::new(i64::try_from(estimate).unwrap_or(i64::MAX)),
            repairing: AtomicBool::new(true),
            inexact: AtomicBool::new(false),
            repair: Mutex::new(Repair::default()),
        }
    }

    /// The current count (an estimate while a recount runs).
    pub(crate) fn get(&self) -> u64 {
        u64::try_from(self.value.load(Ordering::Acquire)).unwrap_or(0)
    }

    /// Whether [`get`](Self::get) is exact.
    pub(crate) fn is_exact(&self) -> bool {
        !self.repairing.load(Ordering::Acquire) && !self.inexact.load(Ordering::Acquire)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Repair> {
        // The guarded state is a few integers updated together; a panic
        // elsewhere cannot leave them half-written.
        self.repair.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs a write that may add (+1) or remove (-1) the record under `key`;
    /// `op` returns its result and that change.
    pub(crate) fn track<T, E>(
        &self,
        key: &[u8],
        op: impl FnOnce() -> Result<(T, i64), E>,
    ) -> Result<T, E> {
        if self.repairing.load(Ordering::Acquire) {
            let mut repair = self.lock();
            if !repair.done {
                let (out, change) = op()?;
                if change != 0 {
                    self.value.fetch_add(change, Ordering::AcqRel);
                    if repair.cursor.as_deref().is_some_and(|c| key <= c) {
                        repair.delta += change;
                    }
                }
                return Ok(out);
            }
        }
        let (out, change) = op()?;
        if change != 0 {
            self.value.fetch_add(change, Ordering::AcqRel);
        }
        Ok(out)
    }

    /// Advances the recount by up to `batch` records of `records`.
    pub(crate) fn repair_step(&self, records: &sled::Tree, batch: usize) -> sled::Result<Step> {
        let mut repair = self.lock();
        if repair.done {
            return Ok(Step::Done);
        }
        for _ in 0..batch {
            let next = match &repair.cursor {
                None => records.first()?,
                Some(cursor) => records.get_gt(cursor)?,
            };
            match next {
                Some((key, _)) => {
                    repair.cursor = Some(key);
                    repair.scanned += 1;
                }
                None => {
                    let exact = i64::try_from(repair.scanned)
                        .unwrap_or(i64::MAX)
                        .saturating_add(repair.delta);
                    self.value.store(exact, Ordering::Release);
                    repair.done = true;
                    self.repairing.store(false, Ordering::Release);
                    return Ok(Step::Done);
                }
            }
        }
        Ok(Step::Continue)
    }

    /// Gives up on the recount: the count stays an estimate.
    pub(crate) fn abandon_recount(&self) {
        let mut repair = self.lock();
        if !repair.done {
            repair.done = true;
            self.inexact.store(true, Ordering::Release);
            self.repairing.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_tree() -> (sled::Db, sled::Tree) {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("temporary sled db");
        let tree = db.open_tree("records").expect("tree");
        (db, tree)
    }

    fn insert(counter: &Counter, tree: &sled::Tree, key: u8) {
        counter
            .track(&[key], || {
                tree.insert([key], &[])
                    .map(|old| ((), i64::from(old.is_none())))
            })
            .expect("insert");
    }

    fn remove(counter: &Counter, tree: &sled::Tree, key: u8) {
        counter
            .track(&[key], || {
                tree.remove([key])
                    .map(|old| ((), -i64::from(old.is_some())))
            })
            .expect("remove");
    }

    #[test]
    fn recount_is_exact_despite_writes_on_both_sides_of_the_cursor() {
        let (_db, tree) = temp_tree();
        for k in (0..200u8).step_by(2) {
            tree.insert([k], &[]).expect("seed");
        }
        // A wrong estimate on purpose.
        let counter = Counter::needs_recount(7);
        assert!(!counter.is_exact());
        let mut round = 0u8;
        loop {
            // Writes before, at and after wherever the cursor currently is.
            insert(&counter, &tree, round.wrapping_mul(2).wrapping_add(1));
            remove(&counter, &tree, round.wrapping_mul(3));
            insert(&counter, &tree, 255 - round);
            round += 1;
            match counter.repair_step(&tree, 3).expect("step") {
                Step::Continue => {}
                Step::Done => break,
            }
        }
        assert!(counter.is_exact());
        assert_eq!(counter.get(), tree.len() as u64);
        // After the recount, changes apply directly.
        insert(&counter, &tree, 250);
        remove(&counter, &tree, 1);
        assert_eq!(counter.get(), tree.len() as u64);
    }

    #[test]
    fn abandoned_recount_stays_inexact() {
        let (_db, tree) = temp_tree();
        let counter = Counter::needs_recount(3);
        counter.abandon_recount();
        assert!(!counter.is_exact());
        insert(&counter, &tree, 1);
        assert_eq!(counter.get(), 4);
    }
}
