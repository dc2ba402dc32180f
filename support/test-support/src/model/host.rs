//! Where a case's sessions are stored: the [`Host`] a case runs against,
//! the [`Faults`] switch of its store, and the runtime's own backends
//! ([`NoStore`], [`InMemoryStore`]). Other backends implement [`Host`] in
//! their own tests (`persistence/sled/tests/model.rs`).

use super::actions::{Fault, FaultKind};
use super::STORE_TIMEOUT;
use livesession::store::{MemoryStore, SessionStore};
use livesession::testing::{FaultyStore, Op as StoreOp};
use std::sync::Arc;
use std::time::Duration;

/// The backend of a case: memory mode ([`NoStore`]) or a store, wrapped in a
/// [`FaultyStore`] for the fault steps.
pub trait Host {
    /// The store for the next manager; `None` for memory mode.
    fn store(&mut self) -> Option<Arc<dyn SessionStore>>;
    /// Called after the old manager has shut down and been dropped, before
    /// the next one is made (e.g. to reopen the database).
    fn restart(&mut self) {}
    /// The fault switch of the store `store` returns, if it has one (a
    /// [`FaultyStore`]); without one, `Op::Fault` does nothing.
    fn faults(&mut self) -> Option<Arc<dyn Faults>> {
        None
    }
    /// The manager's `store_timeout`.
    fn store_timeout(&self) -> Duration {
        STORE_TIMEOUT
    }
    /// Whether `FaultKind::Hang` is injected as is; otherwise as
    /// `FaultKind::Fail`.
    fn hangs(&self) -> bool {
        true
    }
}

/// Arms and heals injected store faults (a [`FaultyStore`] of any backend).
pub trait Faults: Send + Sync {
    /// Injects `fault` until [`Faults::heal`].
    fn arm(&self, fault: &Fault);
    /// Removes every injected fault.
    fn heal(&self);
    /// How many times `op` has been called.
    fn calls(&self, op: StoreOp) -> u64;
}

impl<S: SessionStore> Faults for FaultyStore<S> {
    fn arm(&self, fault: &Fault) {
        match fault.kind {
            FaultKind::FailNext(n) => self.fail_next(fault.op, n),
            FaultKind::Fail => self.fail(fault.op, true),
            FaultKind::Hang => self.hang(fault.op, true),
            FaultKind::Delay(ms) => self.delay(fault.op, Duration::from_millis(ms)),
        }
    }

    fn heal(&self) {
        FaultyStore::heal(self);
    }

    fn calls(&self, op: StoreOp) -> u64 {
        FaultyStore::calls(self, op)
    }
}

/// Memory mode: no store, sessions live only in memory.
pub struct NoStore;

impl Host for NoStore {
    fn store(&mut self) -> Option<Arc<dyn SessionStore>> {
        None
    }
}

/// A `MemoryStore` that outlives restarts, behind a fault switch.
pub struct InMemoryStore(pub FaultyStore<MemoryStore>);

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        InMemoryStore(FaultyStore::new(MemoryStore::new()))
    }
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Host for InMemoryStore {
    fn store(&mut self) -> Option<Arc<dyn SessionStore>> {
        Some(Arc::new(self.0.clone()))
    }

    fn faults(&mut self) -> Option<Arc<dyn Faults>> {
        Some(Arc::new(self.0.clone()))
    }
}
