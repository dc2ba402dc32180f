//! Peer (b): poem 3 with `poem::session::CookieSession`: the whole session
//! is serialized (JSON) into one cookie signed with an HMAC key
//! (`CookieConfig::signed(key)`); nothing is kept on the server.

use peer_servers::{increment, run, BENCH_KEY};
use poem::listener::TcpListener;
use poem::session::{CookieConfig, CookieSession, Session};
use poem::web::cookie::CookieKey;
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
    run("peer-poem-cookie-session", |addr| async move {
        let config = CookieConfig::signed(CookieKey::from(BENCH_KEY))
            .name("sessionId")
            .secure(false)
            .max_age(Duration::from_secs(86_400));
        let sessioned = Route::new()
            .at("/counter", get(counter))
            .at("/read", get(read))
            .at("/new", get(new_session))
            .with(CookieSession::new(config));
        let app = Route::new().at("/plain", get(plain)).nest("/", sessioned);
        Server::new(TcpListener::bind(addr))
            .run(app)
            .await
            .expect("server failed");
    });
}
