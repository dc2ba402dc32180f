//! Driving a [`SessionManager`] through the public API, as an adapter
//! would: one request per call, the session cookie carried by hand as its
//! `name=value` pair. Shared by the runtime's integration tests and the
//! Redis store's multi-manager tests.
//!
//! ```
//! use livesession::{SessionConfig, SessionManager};
//! use livesession_test_support::manager::{increment, new_session, read_n, SECRET};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let m = SessionManager::new(SessionConfig::builder().secret(SECRET).build().unwrap());
//! let cookie = new_session(&m).await; // n = 1
//! increment(&m, &cookie).await;
//! assert_eq!(read_n(&m, &cookie).await, Some(2));
//! # });
//! ```

use livesession::{RequestInfo, RequestSession, SessionManager};
use std::time::Duration;

/// A signing secret of 32 bytes.
pub const SECRET: &str = "0123456789abcdef0123456789abcdef";

/// Starts a request for `/` with `cookie` (a `name=value` pair) as its
/// `Cookie` header.
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

/// The session's `n`, read in a request of its own (`None` when the
/// session or the key is gone).
pub async fn read_n(m: &SessionManager, cookie: &str) -> Option<i64> {
    let s = request(m, Some(cookie));
    let n = s.get::<i64>("n").await.unwrap();
    s.finish().await.unwrap();
    n
}

/// One request that adds 1 to the session's `n` (a missing `n` counts as 0).
pub async fn increment(m: &SessionManager, cookie: &str) {
    let s = request(m, Some(cookie));
    s.update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
        .await
        .unwrap();
    s.finish().await.unwrap();
}

/// `count` concurrent [`increment`]s, each a task of its own, the `i`th
/// through `managers[i % managers.len()]`; returns when all are done.
pub async fn increment_concurrently(managers: &[SessionManager], cookie: &str, count: usize) {
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (m, cookie) = (managers[i % managers.len()].clone(), cookie.to_string());
            tokio::spawn(async move { increment(&m, &cookie).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Polls `f` every 10 ms until it is true; panics after 4 s, naming `what`.
pub async fn wait_until(mut f: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..400 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}
