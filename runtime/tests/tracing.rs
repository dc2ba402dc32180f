//! Tracing spans around activation, passivation, store calls and revoke
//! carry the session key hash, never the raw id or the cookie.

mod common;

use common::*;
use livesession::store::MemoryStore;
use livesession::SessionManager;
use std::sync::Arc;
use std::time::Duration;
use tracing_subscriber::fmt::format::FmtSpan;

#[test]
fn spans_name_the_key_hash_never_the_id() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::NEW)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    // One thread, so every task (activation, owners) logs to this subscriber.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cookie = rt.block_on(async {
        let m = SessionManager::new(
            config()
                .store(Arc::new(MemoryStore::new()))
                .passivate_after(Duration::from_millis(30))
                .build()
                .unwrap(),
        );
        let cookie = new_session(&m).await;
        wait_until(async || m.stats().await.unwrap().live == 0, "passivation").await;
        assert_eq!(read_n(&m, &cookie).await, Some(1)); // activation
        let s = request(&m, Some(&cookie));
        s.bind_user("ann").await.unwrap();
        s.finish().await.unwrap();
        m.revoke_user("ann").await.unwrap();
        cookie
    });
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for span in [
        "livesession.activate",
        "livesession.passivate",
        "livesession.persist",
        "livesession.store",
        "livesession.revoke",
    ] {
        assert!(text.contains(span), "no {span} span in:\n{text}");
    }
    assert!(text.contains("key=SessionKey("), "spans carry the key hash");
    let (_, value) = cookie.split_once('=').unwrap();
    let id = value.split('.').next().unwrap();
    assert!(!text.contains(id), "the raw id reached the trace:\n{text}");
    assert!(!text.contains("ann"), "a user id reached the trace");
}
