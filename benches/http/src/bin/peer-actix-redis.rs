//! Redis peer: actix-web 4 with actix-session 0.11's `SessionMiddleware` over
//! `RedisSessionStore` (feature "redis-session": the `redis` crate, one
//! `ConnectionManager`, i.e. one multiplexed connection). Library defaults
//! (private = encrypted session-key cookie, state written only when it
//! changed) except: our fixed 64-byte key, cookie name `sessionId`, no
//! `Secure`, and a persistent one-day session like the demos' default.
//!
//! Per request with a cookie: `GET` of the whole state (JSON) before the
//! handler; when the handler changed it, `SET key state XX EX ttl` of the
//! whole state after it. No version check: concurrent writers overwrite each
//! other (the library's design, kept as is).
//!
//! actix-web runs its own runtime: `--workers N` actix workers (each a
//! single-threaded tokio runtime) plus the system thread, which also drives
//! the Redis connection.

use actix_session::config::PersistentSession;
use actix_session::storage::RedisSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::cookie::{time::Duration, Key};
use actix_web::{web, App, HttpServer};
use clap::Parser;
use peer_servers::{increment, redis_url, PeerArgs, BENCH_KEY};

async fn plain() -> &'static str {
    "ok"
}

async fn counter(session: Session) -> String {
    let n = increment(session.get::<i64>("n").expect("load session"));
    session.insert("n", n).expect("store n");
    n.to_string()
}

async fn read(session: Session) -> String {
    let n = session.get::<i64>("n").expect("load session");
    n.unwrap_or(0).to_string()
}

async fn new_session(session: Session) -> &'static str {
    session.insert("n", 1).expect("store n");
    "1"
}

fn main() {
    const NAME: &str = "peer-actix-redis";
    let args = PeerArgs::parse();
    let url = redis_url(NAME, &args);
    let workers = args.workers.max(1);
    eprintln!(
        "{NAME}: listening on http://{} ({workers} actix worker(s) + the system thread)",
        args.addr
    );
    actix_web::rt::System::new().block_on(async move {
        let store = RedisSessionStore::new(url)
            .await
            .expect("connect to redis");
        let key = Key::from(BENCH_KEY);
        HttpServer::new(move || {
            let sessions = SessionMiddleware::builder(store.clone(), key.clone())
                .cookie_name("sessionId".to_string())
                .cookie_secure(false)
                .session_lifecycle(PersistentSession::default().session_ttl(Duration::days(1)))
                .build();
            App::new().route("/plain", web::get().to(plain)).service(
                web::scope("")
                    .wrap(sessions)
                    .route("/counter", web::get().to(counter))
                    .route("/read", web::get().to(read))
                    .route("/new", web::get().to(new_session)),
            )
        })
        .workers(workers)
        .shutdown_timeout(1)
        .bind(args.addr)
        .expect("bind")
        .run()
        .await
        .expect("server failed");
    });
}
