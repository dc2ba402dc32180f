//! The Salvo demo server (examples/README.md): sessions through the
//! `livesession_salvo::SessionHoop`, handlers reaching them from the `Depot`.

use clap::Parser;
use livesession::{Session, SessionError, SessionManager};
use livesession_demos::cli::DemoArgs;
use livesession_demos::routes::{self, MAX_BODY};
use livesession_demos::setup::build_manager;
use livesession_salvo::{status_for, SessionDepotExt, SessionHoop};
use metrics_exporter_prometheus::PrometheusHandle;
use salvo::affix_state;
use salvo::http::ParseError;
use salvo::prelude::*;
use serde_json::{json, Value};

/// The request's session; the hoop is installed on every route.
fn session(depot: &Depot) -> Result<Session, StatusCode> {
    depot
        .session()
        .cloned()
        .ok_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn manager(depot: &Depot) -> Result<&SessionManager, StatusCode> {
    depot
        .get_typed::<SessionManager>()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

fn fail(res: &mut Response, status: StatusCode) {
    res.status_code(status);
}

fn failed(res: &mut Response, err: SessionError) {
    fail(res, status_for(&err));
}

#[handler]
async fn health() -> &'static str {
    "ok"
}

#[handler]
async fn counter(depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    match s.update("n", routes::increment).await {
        Ok(n) => res.render(n.to_string()),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn read(depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    match s.get::<Value>("n").await {
        Ok(n) => res.render(routes::read_body(n)),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn show_session(depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    let id = match s.id().await {
        Ok(id) => id,
        Err(e) => return failed(res, e),
    };
    match s.data().await {
        Ok(data) => res.render(Json(routes::session_json(id, data))),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn put_key(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    let key = req.param::<String>("key").unwrap_or_default();
    let value = match req.payload_with_max_size(MAX_BODY).await {
        Ok(bytes) => serde_json::from_slice::<Value>(bytes),
        Err(ParseError::PayloadTooLarge) => return fail(res, StatusCode::PAYLOAD_TOO_LARGE),
        Err(_) => return fail(res, StatusCode::BAD_REQUEST),
    };
    let Ok(value) = value else {
        return fail(res, StatusCode::BAD_REQUEST);
    };
    match s.insert(&key, value).await {
        Ok(()) => fail(res, StatusCode::NO_CONTENT),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn delete_key(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    let key = req.param::<String>("key").unwrap_or_default();
    match s.remove(&key).await {
        Ok(_) => fail(res, StatusCode::NO_CONTENT),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn regenerate(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    let keep_param = req.query::<String>("keep");
    let keep = routes::keep_list(keep_param.as_deref());
    match s.regenerate(&keep).await {
        Ok(()) => fail(res, StatusCode::NO_CONTENT),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn login(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    let user = match req.payload_with_max_size(MAX_BODY).await {
        Ok(bytes) => routes::login_user(bytes),
        Err(_) => return fail(res, StatusCode::BAD_REQUEST),
    };
    let user = match user {
        Ok(u) => u,
        Err(msg) => {
            res.status_code(StatusCode::BAD_REQUEST);
            return res.render(msg);
        }
    };
    let done = async {
        s.regenerate(&[]).await?;
        s.insert("user", &user).await?;
        s.bind_user(&user).await
    };
    match done.await {
        Ok(()) => fail(res, StatusCode::NO_CONTENT),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn me(depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    match s.user().await {
        Ok(Some(user)) => res.render(Json(json!({ "user": user }))),
        Ok(None) => fail(res, StatusCode::UNAUTHORIZED),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn logout(depot: &mut Depot, res: &mut Response) {
    let s = match session(depot) {
        Ok(s) => s,
        Err(status) => return fail(res, status),
    };
    match s.destroy().await {
        Ok(()) => fail(res, StatusCode::NO_CONTENT),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn revoke(req: &mut Request, depot: &mut Depot, res: &mut Response) {
    let manager = match manager(depot) {
        Ok(m) => m,
        Err(status) => return fail(res, status),
    };
    let user = req.param::<String>("user").unwrap_or_default();
    match manager.revoke_user(&user).await {
        Ok(n) => res.render(Json(json!({ "revoked": n }))),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn stats(depot: &mut Depot, res: &mut Response) {
    let manager = match manager(depot) {
        Ok(m) => m,
        Err(status) => return fail(res, status),
    };
    match manager.stats().await {
        Ok(counts) => res.render(Json(json!(counts))),
        Err(e) => failed(res, e),
    }
}

#[handler]
async fn metrics_text(depot: &mut Depot, res: &mut Response) {
    match depot.get_typed::<PrometheusHandle>() {
        Ok(handle) => {
            let body = routes::render_metrics(handle);
            let _ = res.add_header("content-type", routes::METRICS_CONTENT_TYPE, true);
            res.render(body);
        }
        Err(_) => fail(res, StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[tokio::main]
async fn main() {
    routes::init_logging();
    let args = DemoArgs::parse();
    let manager = build_manager(&args).unwrap_or_else(|e| {
        eprintln!("salvo-demo: {}", e.message);
        std::process::exit(e.exit_code);
    });
    let metrics = routes::install_metrics();
    let router = Router::new()
        .hoop(affix_state::inject(manager.clone()).inject(metrics))
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
        .push(Router::with_path("users/{user}/revoke").post(revoke))
        .push(Router::with_path("stats").get(stats))
        .push(Router::with_path("metrics").get(metrics_text));
    let acceptor = match TcpListener::new(args.addr).try_bind().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("salvo-demo: cannot listen on {}: {e}", args.addr);
            std::process::exit(1);
        }
    };
    eprintln!("salvo-demo: listening on http://{}", args.addr);
    let server = Server::new(acceptor);
    let handle = server.handle();
    tokio::spawn(async move {
        routes::shutdown_signal().await;
        handle.stop_graceful(std::time::Duration::from_secs(10));
    });
    server.serve(router).await;
    match manager.shutdown().await {
        Ok(()) => eprintln!("salvo-demo: stopped; every live session persisted"),
        Err(e) => {
            eprintln!("salvo-demo: could not persist every session at shutdown: {e}");
            std::process::exit(1);
        }
    }
}
