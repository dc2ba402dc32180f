//! Redis peer: poem 3 `poem::session::ServerSession` over `RedisStorage`
//! (feature "redis-session") on one `redis::aio::ConnectionManager` (one
//! multiplexed connection), otherwise as `peer-poem-server-session`.
//!
//! Per request with a cookie: `GET` of the whole session (JSON) before the
//! handler; when the handler changed it, `SETEX` of the whole session after
//! it. No version check: concurrent writers overwrite each other (the
//! library's design, kept as is).

use peer_servers::{increment, redis_url, run_with};
use poem::listener::TcpListener;
use poem::session::{CookieConfig, RedisStorage, ServerSession, Session};
use poem::{get, handler, EndpointExt, Route, Server};
use std::time::Duration;

#[handler]
fn plain() -> &'static str {
    "ok"
}

#[handler]
fn counter(session: &Session) -> String {
    let n = increment(session.get::<i64>("n"));
    session.set("n", n);
    n.to_string()
}

#[handler]
fn read(session: &Session) -> String {
    session.get::<i64>("n").unwrap_or(0).to_string()
}

#[handler]
fn new_session(session: &Session) -> &'static str {
    session.set("n", 1);
    "1"
}

fn main() {
    const NAME: &str = "peer-poem-redis";
    run_with(NAME, |args| async move {
        let url = redis_url(NAME, &args);
        let client = redis::Client::open(url).expect("redis URL");
        let connection = redis::aio::ConnectionManager::new(client)
            .await
            .expect("connect to redis");
        // Same idle lifetime as the demos' default --max-age-ms (one day).
        let config = CookieConfig::default()
            .name("sessionId")
            .secure(false)
            .max_age(Duration::from_secs(86_400));
        let sessioned = Route::new()
            .at("/counter", get(counter))
            .at("/read", get(read))
            .at("/new", get(new_session))
            .with(ServerSession::new(config, RedisStorage::new(connection)));
        let app = Route::new().at("/plain", get(plain)).nest("/", sessioned);
        Server::new(TcpListener::bind(args.addr))
            .run(app)
            .await
            .expect("server failed");
    });
}
