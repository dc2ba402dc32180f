//! What a client sees when a session operation fails, in process through
//! `poem::test::TestClient`: a backend failure answers 500 with a fixed body
//! (the detail goes to the log), never the error's own text; errors caused by
//! the client's data keep their status and message.

use livesession::store::MemoryStore;
use livesession::testing::{FaultyStore, Op};
use livesession::{SessionConfig, SessionManager};
use livesession_poem::{into_poem_error, Session, SessionMiddleware};
use poem::http::header::{COOKIE, SET_COOKIE};
use poem::http::StatusCode;
use poem::test::{TestClient, TestResponse};
use poem::{get, handler, put, Endpoint, EndpointExt, Route};
use std::sync::Arc;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

#[handler]
async fn counter(session: &Session) -> poem::Result<String> {
    let n = session
        .update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
        .await
        .map_err(into_poem_error)?;
    Ok(n.to_string())
}

/// Makes a new session durable inside the handler (the store's `create`
/// runs here rather than after the handler).
#[handler]
async fn save_now(session: &Session) -> poem::Result<()> {
    session.insert("n", 1).await.map_err(into_poem_error)?;
    session.save().await.map_err(into_poem_error)
}

/// Stores a string under `n`, so that `/counter` cannot decode it as a number.
#[handler]
async fn set_text(session: &Session) -> poem::Result<()> {
    session
        .insert("n", "not a number")
        .await
        .map_err(into_poem_error)
}

fn app(store: &FaultyStore<MemoryStore>) -> impl Endpoint {
    let manager = SessionManager::new(
        SessionConfig::builder()
            .secret(SECRET)
            .store(Arc::new(store.clone()))
            .build()
            .unwrap(),
    );
    Route::new()
        .at("/counter", get(counter))
        .at("/save", put(save_now))
        .at("/text", put(set_text))
        .with(SessionMiddleware::new(manager))
}

/// `name=value` of the response's session cookie.
fn cookie_pair(resp: &TestResponse) -> String {
    let set = resp.0.headers().get(SET_COOKIE).expect("a Set-Cookie");
    let set = set.to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

async fn body(resp: TestResponse) -> String {
    resp.0.into_body().into_string().await.unwrap()
}

fn assert_generic_500(status: StatusCode, body: &str) {
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "body {body:?}");
    for leak in ["injected", "failure:", "Create", "Save"] {
        assert!(
            !body.contains(leak),
            "the 500 body echoes the internal error ({leak:?}): {body:?}"
        );
    }
}

#[tokio::test]
async fn store_create_failure_answers_500_without_the_error_text() {
    let store = FaultyStore::new(MemoryStore::new());
    let cli = TestClient::new(app(&store));
    // in the handler (Session::save), through into_poem_error; only once,
    // so that the middleware's own create after the handler succeeds and the
    // handler's answer is the one sent
    store.fail_next(Op::Create, 1);
    let resp = cli.put("/save").send().await;
    let status = resp.0.status();
    assert_generic_500(status, &body(resp).await);
    // after the handler (RequestSession::finish creates the new session), in the
    // middleware
    store.fail(Op::Create, true);
    let resp = cli.get("/counter").send().await;
    let status = resp.0.status();
    assert_generic_500(status, &body(resp).await);
    assert!(store.calls(Op::Create) >= 2, "the store was not reached");
}

#[tokio::test]
async fn store_save_failure_answers_500_without_the_error_text() {
    let store = FaultyStore::new(MemoryStore::new());
    let cli = TestClient::new(app(&store));
    let first = cli.get("/counter").send().await;
    first.assert_status_is_ok();
    let cookie = cookie_pair(&first);
    assert_eq!(body(first).await, "1");

    store.fail(Op::Save, true);
    let resp = cli.get("/counter").header(COOKIE, &cookie).send().await;
    let status = resp.0.status();
    assert_generic_500(status, &body(resp).await);
    assert!(store.calls(Op::Save) > 0, "the store was not reached");

    store.heal();
    let resp = cli.get("/counter").header(COOKIE, &cookie).send().await;
    resp.assert_status_is_ok();
    assert_eq!(body(resp).await, "2", "the failed update was not applied");
}

#[tokio::test]
async fn client_data_errors_keep_their_status_and_message() {
    let store = FaultyStore::new(MemoryStore::new());
    let cli = TestClient::new(app(&store));
    let first = cli.put("/text").send().await;
    first.assert_status_is_ok();
    let cookie = cookie_pair(&first);
    let resp = cli.get("/counter").header(COOKIE, &cookie).send().await;
    resp.assert_status(StatusCode::CONFLICT);
    let text = body(resp).await;
    assert!(
        text.contains("does not have the requested type"),
        "409 body: {text:?}"
    );
}
