//! Helpers shared by the runtime's integration tests.
#![allow(dead_code)]

use livesession::store::MemoryStore;
use livesession::testing::FaultyStore;
use livesession::{
    RequestInfo, RequestSession, SessionConfig, SessionConfigBuilder, SessionManager,
};
use std::sync::Arc;
use std::time::Duration;

pub const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Owners hibernate after 5 ms here, so nearly every change in these tests
/// races an owner going to sleep and a new one being spawned.
pub fn config() -> SessionConfigBuilder {
    SessionConfig::builder()
        .secret(SECRET)
        .hibernate_after(Duration::from_millis(5))
}

pub fn request(m: &SessionManager, cookie: Option<&str>) -> RequestSession {
    m.start(&RequestInfo {
        cookie_header: cookie,
        path: "/",
        ..Default::default()
    })
}

/// `name=value` from a `Set-Cookie` value.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// Creates a session holding `n = 1` and returns its cookie pair.
pub async fn new_session(m: &SessionManager) -> String {
    let s = request(m, None);
    s.insert("n", 1).await.unwrap();
    pair(&s.finish().await.unwrap()[0])
}

pub async fn read_n(m: &SessionManager, cookie: &str) -> Option<i64> {
    let s = request(m, Some(cookie));
    let n = s.get::<i64>("n").await.unwrap();
    s.finish().await.unwrap();
    n
}

pub async fn wait_until(mut f: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..400 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// A manager over a `FaultyStore` that passivates after 50 ms.
pub fn durable(store: &FaultyStore<MemoryStore>) -> SessionManager {
    SessionManager::new(
        config()
            .store(Arc::new(store.clone()))
            .passivate_after(Duration::from_millis(50))
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
