//! Peer (c): salvo 1.x with `salvo-session` (salvo's `session` feature):
//! `SessionHandler` over its `MemoryStore`, HMAC-signed session cookie,
//! library defaults otherwise (one-day TTL, `save_unchanged = true`).

use peer_servers::{increment, run, BENCH_KEY};
use salvo::prelude::*;
use salvo::session::{MemoryStore, SessionDepotExt, SessionHandler};

#[handler]
async fn plain() -> &'static str {
    "ok"
}

#[handler]
async fn counter(depot: &mut Depot) -> String {
    let session = depot.session_mut().expect("session hoop installed");
    let n = increment(session.get::<i64>("n"));
    session.insert("n", n).expect("serialize n");
    n.to_string()
}

#[handler]
async fn read(depot: &mut Depot) -> String {
    let n = depot.session().and_then(|s| s.get::<i64>("n"));
    n.unwrap_or(0).to_string()
}

#[handler]
async fn new_session(depot: &mut Depot) -> &'static str {
    let session = depot.session_mut().expect("session hoop installed");
    session.insert("n", 1).expect("serialize n");
    "1"
}

fn main() {
    run("peer-salvo-session", |addr| async move {
        let session_handler = SessionHandler::builder(MemoryStore::new(), BENCH_KEY)
            .cookie_name("sessionId")
            .build()
            .expect("session handler");
        let router = Router::new()
            .push(Router::with_path("plain").get(plain))
            .push(
                Router::new()
                    .hoop(session_handler)
                    .push(Router::with_path("counter").get(counter))
                    .push(Router::with_path("read").get(read))
                    .push(Router::with_path("new").get(new_session)),
            );
        let acceptor = TcpListener::new(addr).bind().await;
        Server::new(acceptor).serve(router).await;
    });
}
