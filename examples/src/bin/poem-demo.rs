//! The Poem demo server (examples/README.md): sessions through
//! `livesession_poem::SessionMiddleware`, handlers taking `session: &Session`.

use livesession::SessionManager;
use livesession_demos::routes::{self, MAX_BODY};
use livesession_demos::setup::{self, Demo};
use livesession_poem::{into_poem_error, Session, SessionMiddleware};
use metrics_exporter_prometheus::PrometheusHandle;
use poem::http::StatusCode;
use poem::listener::TcpListener;
use poem::web::{Data, Json, Path, Query};
use poem::{
    delete, get, handler, post, Body, EndpointExt, IntoResponse, Response, Result, Route, Server,
};
use serde::Deserialize;
use serde_json::{json, Value};

#[handler]
fn health() -> &'static str {
    "ok"
}

#[handler]
async fn counter(session: &Session) -> Result<String> {
    let n = session
        .update("n", routes::increment)
        .await
        .map_err(into_poem_error)?;
    Ok(n.to_string())
}

#[handler]
async fn read(session: &Session) -> Result<String> {
    let n = session.get::<Value>("n").await.map_err(into_poem_error)?;
    Ok(routes::read_body(n))
}

#[handler]
async fn show_session(session: &Session) -> Result<Json<Value>> {
    let id = session.id().await.map_err(into_poem_error)?;
    let data = session.data().await.map_err(into_poem_error)?;
    Ok(Json(routes::session_json(id, data)))
}

#[handler]
async fn put_key(session: &Session, Path(key): Path<String>, body: Body) -> Result<StatusCode> {
    let bytes = match body.into_bytes_limit(MAX_BODY).await {
        Ok(b) => b,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => {
            return Ok(StatusCode::PAYLOAD_TOO_LARGE)
        }
        Err(_) => return Ok(StatusCode::BAD_REQUEST),
    };
    let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(StatusCode::BAD_REQUEST);
    };
    session.insert(&key, value).await.map_err(into_poem_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
async fn delete_key(session: &Session, Path(key): Path<String>) -> Result<StatusCode> {
    session.remove(&key).await.map_err(into_poem_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Keep {
    keep: Option<String>,
}

#[handler]
async fn regenerate(session: &Session, Query(q): Query<Keep>) -> Result<StatusCode> {
    let keep = routes::keep_list(q.keep.as_deref());
    session.regenerate(&keep).await.map_err(into_poem_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
async fn login(session: &Session, body: Body) -> Result<Response> {
    let Ok(bytes) = body.into_bytes_limit(MAX_BODY).await else {
        return Ok(StatusCode::BAD_REQUEST.into_response());
    };
    let user = match routes::login_user(&bytes) {
        Ok(u) => u,
        Err(e) => return Ok((StatusCode::BAD_REQUEST, e).into_response()),
    };
    session.regenerate(&[]).await.map_err(into_poem_error)?;
    session
        .insert("user", &user)
        .await
        .map_err(into_poem_error)?;
    session.bind_user(&user).await.map_err(into_poem_error)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[handler]
async fn me(session: &Session) -> Result<Response> {
    Ok(match session.user().await.map_err(into_poem_error)? {
        Some(user) => Json(json!({ "user": user })).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    })
}

#[handler]
async fn logout(session: &Session) -> Result<StatusCode> {
    session.destroy().await.map_err(into_poem_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[handler]
async fn revoke(manager: Data<&SessionManager>, Path(user): Path<String>) -> Result<Json<Value>> {
    let revoked = manager.revoke_user(&user).await.map_err(into_poem_error)?;
    Ok(Json(json!({ "revoked": revoked })))
}

#[handler]
async fn user_sessions(
    manager: Data<&SessionManager>,
    Path(user): Path<String>,
) -> Result<Json<Value>> {
    let sessions = manager
        .sessions_of_user(&user)
        .await
        .map_err(into_poem_error)?;
    Ok(Json(routes::user_sessions_json(&sessions)))
}

#[handler]
async fn end_user_session(
    manager: Data<&SessionManager>,
    Path((user, handle)): Path<(String, String)>,
) -> Result<StatusCode> {
    let ended = manager
        .end_session_of_user(&user, &handle)
        .await
        .map_err(into_poem_error)?;
    Ok(if ended {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    })
}

#[handler]
async fn stats(manager: Data<&SessionManager>) -> Result<Json<Value>> {
    let stats = manager.stats().await.map_err(into_poem_error)?;
    Ok(Json(json!(stats)))
}

#[handler]
fn metrics_text(handle: Data<&PrometheusHandle>) -> poem::Response {
    poem::Response::builder()
        .content_type(routes::METRICS_CONTENT_TYPE)
        .body(routes::render_metrics(&handle))
}

#[tokio::main]
async fn main() {
    let Demo {
        args,
        manager,
        metrics,
    } = setup::start("poem-demo").await;
    let app = Route::new()
        .at("/health", get(health))
        .at("/counter", get(counter))
        .at("/read", get(read))
        .at("/session", get(show_session))
        .at("/session/:key", delete(delete_key).put(put_key))
        .at("/regenerate", post(regenerate))
        .at("/login", post(login))
        .at("/me", get(me))
        .at("/logout", post(logout))
        .at("/users/:user/revoke", post(revoke))
        .at("/users/:user/sessions", get(user_sessions))
        .at("/users/:user/sessions/:handle", delete(end_user_session))
        .at("/stats", get(stats))
        .at("/metrics", get(metrics_text))
        .with(SessionMiddleware::new(manager.clone()))
        .data(manager.clone())
        .data(metrics);
    let listener = TcpListener::bind(args.addr);
    let served = Server::new(listener)
        .run_with_graceful_shutdown(
            app,
            routes::shutdown_signal(),
            Some(std::time::Duration::from_secs(10)),
        )
        .await;
    if let Err(e) = served {
        eprintln!("poem-demo: cannot serve on {}: {e}", args.addr);
        std::process::exit(1);
    }
    setup::stop("poem-demo", &manager).await;
}
