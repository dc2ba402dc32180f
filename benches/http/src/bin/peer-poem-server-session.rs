//! Peer (a): poem 3 with its built-in server-side session,
//! `poem::session::ServerSession` over `MemoryStorage` (feature "session").
//! The session id travels in a plain cookie; data lives in the server's
//! `Mutex<HashMap>`; loaded before the handler, written back after it.

use peer_servers::{increment, run};
use poem::listener::TcpListener;
use poem::session::{CookieConfig, MemoryStorage, ServerSession, Session};
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
    run("peer-poem-server-session", |addr| async move {
        // Same idle lifetime as the demos' default --max-age-ms (one day).
        let config = CookieConfig::default()
            .name("sessionId")
            .secure(false)
            .max_age(Duration::from_secs(86_400));
        let sessioned = Route::new()
            .at("/counter", get(counter))
            .at("/read", get(read))
            .at("/new", get(new_session))
            .with(ServerSession::new(config, MemoryStorage::new()));
        let app = Route::new().at("/plain", get(plain)).nest("/", sessioned);
        Server::new(TcpListener::bind(addr))
            .run(app)
            .await
            .expect("server failed");
    });
}
