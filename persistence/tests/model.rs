//! The model-based properties of `runtime/tests/model.rs` against
//! `SledStore`: random sequences of requests, clock moves, passivations and
//! restarts, checked step by step against a sequential model of every
//! session. A restart here is a real one: the manager shuts down, the
//! database is closed, and the next manager reopens it from disk.
//!
//! More cases: `PROPTEST_CASES=500 cargo test -p livesession-sled --test model`.

// The harness is shared with the runtime's properties (memory mode and
// `MemoryStore`), which are compiled only in the runtime crate
// (`cfg(feature = "testing")`, a feature this crate does not have).
#[path = "../../runtime/tests/model.rs"]
#[allow(unexpected_cfgs)]
mod harness;

use harness::{case, check, config, Host};
use livesession::store::SessionStore;
use livesession_sled::{SledConfig, SledStore};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// A sled database in a temporary directory, closed and reopened at each
/// restart.
struct Sled {
    dir: tempfile::TempDir,
    store: Option<Arc<SledStore>>,
}

impl Sled {
    fn new() -> Self {
        Sled {
            dir: tempfile::tempdir().expect("a temp dir"),
            store: None,
        }
    }
}

impl Host for Sled {
    fn store(&mut self) -> Option<Arc<dyn SessionStore>> {
        let store = self.store.get_or_insert_with(|| {
            // The previous manager's last references to the old handle may
            // take a moment to go; opening waits for sled's file lock.
            let config = SledConfig::default().lock_wait(Duration::from_secs(10));
            Arc::new(SledStore::open(self.dir.path(), config).expect("open the sled store"))
        });
        Some(store.clone())
    }

    fn restart(&mut self) {
        // Closed once the old manager's references are gone too.
        self.store = None;
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn sled_store_matches_the_model((setup, ops) in case(40)) {
        check(Sled::new(), &setup, &ops)?;
    }
}
