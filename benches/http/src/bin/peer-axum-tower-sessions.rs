//! Peer (d): axum 0.8 with `tower-sessions` over its `MemoryStore`
//! (`SessionManagerLayer`, `Session` extractor, lazy loading), one-day
//! inactivity expiry like the demos.

use axum::{routing::get, Router};
use peer_servers::{increment, run};
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, MemoryStore, Session, SessionManagerLayer};

async fn plain() -> &'static str {
    "ok"
}

async fn counter(session: Session) -> String {
    let n = increment(session.get::<i64>("n").await.expect("load session"));
    session.insert("n", n).await.expect("store n");
    n.to_string()
}

async fn read(session: Session) -> String {
    let n = session.get::<i64>("n").await.expect("load session");
    n.unwrap_or(0).to_string()
}

async fn new_session(session: Session) -> &'static str {
    session.insert("n", 1).await.expect("store n");
    "1"
}

fn main() {
    run("peer-axum-tower-sessions", |addr| async move {
        let layer = SessionManagerLayer::new(MemoryStore::default())
            .with_name("sessionId")
            .with_secure(false)
            .with_expiry(Expiry::OnInactivity(Duration::days(1)));
        let sessioned = Router::new()
            .route("/counter", get(counter))
            .route("/read", get(read))
            .route("/new", get(new_session))
            .layer(layer);
        let app = Router::new().route("/plain", get(plain)).merge(sessioned);
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        axum::serve(listener, app).await.expect("server failed");
    });
}
