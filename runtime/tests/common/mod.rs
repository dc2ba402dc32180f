//! Helpers shared by the runtime's integration tests: the ones that drive a
//! manager come from `livesession_test_support::manager`; here the
//! configuration these tests run with, and a writer that captures logs.
#![allow(dead_code, unused_imports)]

use livesession::store::MemoryStore;
use livesession::testing::FaultyStore;
use livesession::{SessionConfig, SessionConfigBuilder, SessionManager};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use livesession_test_support::manager::{
    increment, increment_concurrently, new_session, pair, read_n, request, wait_until, SECRET,
};

/// Owners hibernate after 5 ms here, so nearly every change in these tests
/// races an owner going to sleep and a new one being spawned.
pub fn config() -> SessionConfigBuilder {
    SessionConfig::builder()
        .secret(SECRET)
        .hibernate_after(Duration::from_millis(5))
}

/// A manager over a `FaultyStore` that passivates after 50 ms.
pub fn durable(store: &FaultyStore<MemoryStore>) -> SessionManager {
    durable_after(store, Duration::from_millis(50))
}

/// A manager over a `FaultyStore` that passivates after `idle`.
pub fn durable_after(store: &FaultyStore<MemoryStore>, idle: Duration) -> SessionManager {
    SessionManager::new(
        config()
            .store(Arc::new(store.clone()))
            .passivate_after(idle)
            .build()
            .unwrap(),
    )
}

pub async fn passivated(m: &SessionManager) {
    wait_until(
        async || m.stats().await.unwrap().live == 0,
        "every session is passivated",
    )
    .await;
}

/// Everything a `tracing` subscriber writes, kept for the assertions.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
