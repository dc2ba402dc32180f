//! The model-based properties of `livesession_test_support::model` (run
//! over the runtime's own backends in `runtime/tests/model.rs`) against
//! `SledStore`: random sequences of requests, clock moves, passivations,
//! restarts, store faults and cancelled requests, checked step by step
//! against a sequential model of every session. A restart here is a real
//! one: the manager shuts down, the database is closed, and the next
//! manager reopens it from disk. The store is wrapped in a `FaultyStore`,
//! so the model's fault steps make sled's calls fail, slow down or hang.
//!
//! More cases: `PROPTEST_CASES=500 cargo test -p livesession-sled --test model`.

use livesession::store::SessionStore;
use livesession::testing::FaultyStore;
use livesession_sled::{SledConfig, SledStore};
use livesession_test_support::model::{case, check, config, Faults, Host};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// A sled database in a temporary directory, closed and reopened at each
/// restart, behind a fault switch.
struct Sled {
    dir: tempfile::TempDir,
    store: Option<FaultyStore<SledStore>>,
}

impl Sled {
    fn new() -> Self {
        Sled {
            dir: tempfile::tempdir().expect("a temp dir"),
            store: None,
        }
    }

    fn open(&mut self) -> &FaultyStore<SledStore> {
        self.store.get_or_insert_with(|| {
            // The previous manager's last references to the old handle may
            // take a moment to go; opening waits for sled's file lock.
            let config = SledConfig::default().lock_wait(Duration::from_secs(10));
            let sled = SledStore::open(self.dir.path(), config).expect("open the sled store");
            FaultyStore::new(sled)
        })
    }
}

impl Host for Sled {
    fn store(&mut self) -> Option<Arc<dyn SessionStore>> {
        Some(Arc::new(self.open().clone()))
    }

    fn restart(&mut self) {
        // Closed once the old manager's references are gone too.
        self.store = None;
    }

    fn faults(&mut self) -> Option<Arc<dyn Faults>> {
        Some(Arc::new(self.open().clone()))
    }

    fn store_timeout(&self) -> Duration {
        // sled's flush writes to disk, and a loaded machine can stall a
        // call for a while: a generous deadline, so only injected faults
        // fail calls.
        Duration::from_millis(500)
    }

    fn hangs(&self) -> bool {
        // A hang would cost several of those deadlines; the memory store's
        // properties cover hangs (the runtime sees the same thing: a
        // `FaultyStore` call that never reaches the backend).
        false
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn sled_store_matches_the_model((setup, ops) in case(40)) {
        check(Sled::new(), &setup, &ops)?;
    }
}
