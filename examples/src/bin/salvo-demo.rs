//! The Salvo demo server (examples/README.md): sessions through the
//! `livesession_salvo::SessionHoop`, handlers reaching them from the `Depot`.

use livesession::SessionManager;
use livesession_demos::routes::{self, MAX_BODY};
use livesession_demos::setup::{self, Demo};
use livesession_salvo::{Error, SessionDepotExt, SessionHoop};
use metrics_exporter_prometheus::PrometheusHandle;
use salvo::http::ParseError;
use salvo::prelude::*;
use serde_json::{json, Value};

#[handler]
async fn health() -> &'static str {
    "ok"
}

#[handler]
async fn counter(depot: &mut Depot) -> Result<String, Error> {
    let n = depot
        .require_session()?
        .update("n", routes::increment)
        .await?;
    Ok(n.to_string())
}

#[handler]
async fn read(depot: &mut Depot) -> Result<String, Error> {
    let n = depot.require_session()?.get::<Value>("n").await?;
    Ok(routes::read_body(n))
}

#[handler]
async fn show_session(depot: &mut Depot) -> Result<Json<Value>, Error> {
    let session = depot.require_session()?;
    let id = session.id().await?;
    let data = session.data().await?;
    Ok(Json(routes::session_json(id, data)))
}

#[handler]
async fn put_key(req: &mut Request, depot: &mut Depot) -> Result<StatusCode, Error> {
    let session = depot.require_session()?;
    let key = req.param::<String>("key").unwrap_or_default();
    let value = match req.payload_with_max_size(MAX_BODY).await {
        Ok(bytes) => serde_json::from_slice::<Value>(bytes),
        Err(ParseError::PayloadTooLarge) => return Ok(StatusCode::PAYLOAD_TOO_LARGE),
        Err(_) => return Ok(StatusCode::BAD_REQUEST),
    };
    let Ok(value) = value else {
        return Ok(StatusCode::BAD_REQUEST);
    };
    session.insert(&key, value).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
async fn delete_key(req: &mut Request, depot: &mut Depot) -> Result<StatusCode, Error> {
    let key = req.param::<String>("key").unwrap_or_default();
    depot.require_session()?.remove(&key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
async fn regenerate(req: &mut Request, depot: &mut Depot) -> Result<StatusCode, Error> {
    let keep = req.query::<String>("keep");
    let keep = routes::keep_list(keep.as_deref());
    depot.require_session()?.regenerate(&keep).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
async fn login(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), Error> {
    let session = depot.require_session()?;
    let user = match req.payload_with_max_size(MAX_BODY).await {
        Ok(bytes) => routes::login_user(bytes),
        Err(_) => Err(String::new()),
    };
    let user = match user {
        Ok(u) => u,
        Err(msg) => {
            res.status_code(StatusCode::BAD_REQUEST);
            res.render(msg);
            return Ok(());
        }
    };
    session.regenerate(&[]).await?;
    session.insert("user", &user).await?;
    session.bind_user(&user).await?;
    res.status_code(StatusCode::NO_CONTENT);
    Ok(())
}

#[handler]
async fn me(depot: &mut Depot, res: &mut Response) -> Result<(), Error> {
    match depot.require_session()?.user().await? {
        Some(user) => res.render(Json(json!({ "user": user }))),
        None => res.render(StatusCode::UNAUTHORIZED),
    }
    Ok(())
}

#[handler]
async fn logout(depot: &mut Depot) -> Result<StatusCode, Error> {
    depot.require_session()?.destroy().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /users/{user}/revoke`.
struct Revoke(SessionManager);

#[handler]
impl Revoke {
    async fn handle(&self, req: &mut Request) -> Result<Json<Value>, Error> {
        let user = req.param::<String>("user").unwrap_or_default();
        let revoked = self.0.revoke_user(&user).await?;
        Ok(Json(json!({ "revoked": revoked })))
    }
}

/// `GET /users/{user}/sessions`.
struct UserSessions(SessionManager);

#[handler]
impl UserSessions {
    async fn handle(&self, req: &mut Request) -> Result<Json<Value>, Error> {
        let user = req.param::<String>("user").unwrap_or_default();
        let sessions = self.0.sessions_of_user(&user).await?;
        Ok(Json(routes::user_sessions_json(&sessions)))
    }
}

/// `DELETE /users/{user}/sessions/{handle}`.
struct EndUserSession(SessionManager);

#[handler]
impl EndUserSession {
    async fn handle(&self, req: &mut Request) -> Result<StatusCode, Error> {
        let user = req.param::<String>("user").unwrap_or_default();
        let handle = req.param::<String>("handle").unwrap_or_default();
        Ok(if self.0.end_session_of_user(&user, &handle).await? {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::NOT_FOUND
        })
    }
}

/// `GET /stats`.
struct Stats(SessionManager);

#[handler]
impl Stats {
    async fn handle(&self) -> Result<Json<Value>, Error> {
        Ok(Json(json!(self.0.stats().await?)))
    }
}

/// `GET /metrics`.
struct Metrics(PrometheusHandle);

#[handler]
impl Metrics {
    async fn handle(&self, res: &mut Response) {
        let body = routes::render_metrics(&self.0);
        let _ = res.add_header("content-type", routes::METRICS_CONTENT_TYPE, true);
        res.render(body);
    }
}

#[tokio::main]
async fn main() {
    let Demo {
        args,
        manager,
        metrics,
    } = setup::start("salvo-demo").await;
    let router = Router::new()
        .hoop(SessionHoop::new(manager.clone()))
        .push(Router::with_path("health").get(health))
        .push(Router::with_path("counter").get(counter))
        .push(Router::with_path("read").get(read))
        .push(Router::with_path("session").get(show_session))
        .push(
            Router::with_path("session/{key}")
                .put(put_key)
                .delete(delete_key),
        )
        .push(Router::with_path("regenerate").post(regenerate))
        .push(Router::with_path("login").post(login))
        .push(Router::with_path("me").get(me))
        .push(Router::with_path("logout").post(logout))
        .push(Router::with_path("users/{user}/revoke").post(Revoke(manager.clone())))
        .push(Router::with_path("users/{user}/sessions").get(UserSessions(manager.clone())))
        .push(
            Router::with_path("users/{user}/sessions/{handle}")
                .delete(EndUserSession(manager.clone())),
        )
        .push(Router::with_path("stats").get(Stats(manager.clone())))
        .push(Router::with_path("metrics").get(Metrics(metrics)));
    let acceptor = match TcpListener::new(args.addr).try_bind().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("salvo-demo: cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    let server = Server::new(acceptor);
    let handle = server.handle();
    tokio::spawn(async move {
        routes::shutdown_signal().await;
        handle.stop_graceful(std::time::Duration::from_secs(10));
    });
    server.serve(router).await;
    setup::stop("salvo-demo", &manager).await;
}
