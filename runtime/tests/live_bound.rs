//! `max_live_sessions`: memory stays bounded whatever the traffic.

mod common;

use common::{config, new_session, read_n, request, wait_until};
use livesession::store::MemoryStore;
use livesession::{SessionError, SessionManager};
use std::sync::Arc;

#[tokio::test]
async fn without_a_store_sessions_beyond_the_bound_are_refused_and_the_others_kept() {
    let m = SessionManager::new(config().max_live_sessions(Some(3)).build().unwrap());
    let mut cookies = Vec::new();
    for _ in 0..3 {
        cookies.push(new_session(&m).await);
    }
    let s = request(&m, None);
    s.insert("n", 1).await.unwrap();
    let refused = s.finish().await.unwrap_err();
    assert!(
        matches!(refused, SessionError::Overloaded(3)),
        "{refused:?}"
    );
    assert_eq!(refused.http_status(), 503);
    for cookie in &cookies {
        assert_eq!(
            read_n(&m, cookie).await,
            Some(1),
            "existing sessions untouched"
        );
    }
    assert_eq!(m.stats().await.unwrap().live, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_store_the_least_recently_used_passivate_and_stay_readable() {
    let store = Arc::new(MemoryStore::new());
    let m = SessionManager::new(
        config()
            .store(store)
            .max_live_sessions(Some(10))
            .build()
            .unwrap(),
    );
    let hot = new_session(&m).await;
    let mut cookies = Vec::new();
    for i in 0..60 {
        cookies.push(new_session(&m).await);
        if i % 5 == 0 {
            // The hot session is used all along.
            assert_eq!(read_n(&m, &hot).await, Some(1));
        }
    }
    wait_until(
        async || m.stats().await.unwrap().live <= 10,
        "live sessions fall back to the bound",
    )
    .await;
    assert_eq!(m.stats().await.unwrap().stored, 61);
    for cookie in &cookies {
        assert_eq!(
            read_n(&m, cookie).await,
            Some(1),
            "a passivated session stays readable"
        );
    }
    assert_eq!(read_n(&m, &hot).await, Some(1));
}

#[test]
fn a_bound_of_zero_is_a_configuration_error() {
    let err = config().max_live_sessions(Some(0)).build().unwrap_err();
    assert!(err.to_string().contains("at least 1"), "{err}");
}
