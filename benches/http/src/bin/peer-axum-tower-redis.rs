//! Redis peer: axum 0.8 with `tower-sessions` 0.14 over
//! `tower-sessions-redis-store` 0.16 (`RedisStore` on one fred 10 client, i.e.
//! one pipelined connection), the same routes and settings as
//! `peer-axum-tower-sessions` (one-day inactivity expiry).
//!
//! Per request with a cookie: `GET` of the whole record (MessagePack) before
//! the handler; after it, when the session changed (or its inactivity expiry
//! moved), `SET key record EXAT .. XX` of the whole record again. Nothing
//! stops two processes (or two requests) from overwriting each other's
//! record: that is the library's design, kept as is.

use axum::{routing::get, Router};
use peer_servers::{increment, redis_url, run_with};
use tower_sessions::cookie::time::Duration;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config};
use tower_sessions_redis_store::fred::clients::Client;
use tower_sessions_redis_store::RedisStore;

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
    const NAME: &str = "peer-axum-tower-redis";
    run_with(NAME, |args| async move {
        let url = redis_url(NAME, &args);
        let config = Config::from_url(&url).expect("redis URL");
        let client = Client::new(config, None, None, None);
        client.init().await.expect("connect to redis");
        let layer = SessionManagerLayer::new(RedisStore::new(client))
            .with_name("sessionId")
            .with_secure(false)
            .with_expiry(Expiry::OnInactivity(Duration::days(1)));
        let sessioned = Router::new()
            .route("/counter", get(counter))
            .route("/read", get(read))
            .route("/new", get(new_session))
            .layer(layer);
        let app = Router::new().route("/plain", get(plain)).merge(sessioned);
        let listener = tokio::net::TcpListener::bind(args.addr).await.expect("bind");
        axum::serve(listener, app).await.expect("server failed");
    });
}
