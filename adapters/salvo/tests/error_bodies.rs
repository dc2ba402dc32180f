//! What a client sees when a session operation fails, in process through
//! `salvo::test::TestClient`: a backend failure answers 500 without the
//! error's own text (the detail goes to the log), whether the handler maps
//! it with `status_for` or the hoop fails to finish the session.

use livesession::store::MemoryStore;
use livesession::testing::{FaultyStore, Op};
use livesession::{SessionConfig, SessionManager};
use livesession_salvo::{status_for, SessionDepotExt, SessionHoop};
use salvo::http::header::{COOKIE, SET_COOKIE};
use salvo::prelude::*;
use salvo::test::{ResponseExt, TestClient};
use std::sync::Arc;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const BASE: &str = "http://127.0.0.1:5800";

#[handler]
async fn counter(depot: &mut Depot, res: &mut Response) {
    let session = depot.session().expect("SessionHoop is installed").clone();
    match session
        .update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
        .await
    {
        Ok(n) => res.render(n.to_string()),
        Err(e) => {
            res.status_code(status_for(&e));
        }
    }
}

/// Makes a new session durable inside the handler (the store's `create`
/// runs here rather than in the hoop after the handler).
#[handler]
async fn save_now(depot: &mut Depot, res: &mut Response) {
    let session = depot.session().expect("SessionHoop is installed").clone();
    let saved = async {
        session.insert("n", 1).await?;
        session.save().await
    };
    if let Err(e) = saved.await {
        res.status_code(status_for(&e));
    }
}

fn service(store: &FaultyStore<MemoryStore>) -> Service {
    let manager = SessionManager::new(
        SessionConfig::builder()
            .secret(SECRET)
            .store(Arc::new(store.clone()))
            .build()
            .unwrap(),
    );
    Service::new(
        Router::new()
            .hoop(SessionHoop::new(manager))
            .push(Router::with_path("counter").get(counter))
            .push(Router::with_path("save").put(save_now)),
    )
}

/// `name=value` of the response's session cookie.
fn cookie_pair(res: &Response) -> String {
    let set = res.headers().get(SET_COOKIE).expect("a Set-Cookie");
    let set = set.to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

async fn assert_generic_500(mut res: Response) {
    let status = res.status_code;
    let body = res.take_string().await.unwrap();
    assert_eq!(
        status,
        Some(StatusCode::INTERNAL_SERVER_ERROR),
        "body {body:?}"
    );
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
    let service = service(&store);
    // in the handler (Session::save), once, so that the hoop's own create
    // after the handler succeeds and the handler's answer is the one sent
    store.fail_next(Op::Create, 1);
    let res = TestClient::put(format!("{BASE}/save")).send(&service).await;
    assert_generic_500(res).await;
    // after the handler (RequestSession::finish creates the new session), in the hoop
    store.fail(Op::Create, true);
    let res = TestClient::get(format!("{BASE}/counter"))
        .send(&service)
        .await;
    assert_generic_500(res).await;
    assert!(store.calls(Op::Create) >= 2, "the store was not reached");
}

#[tokio::test]
async fn store_save_failure_answers_500_without_the_error_text() {
    let store = FaultyStore::new(MemoryStore::new());
    let service = service(&store);
    let mut first = TestClient::get(format!("{BASE}/counter"))
        .send(&service)
        .await;
    let cookie = cookie_pair(&first);
    assert_eq!(first.take_string().await.unwrap(), "1");

    store.fail(Op::Save, true);
    let res = TestClient::get(format!("{BASE}/counter"))
        .add_header(COOKIE, &cookie, true)
        .send(&service)
        .await;
    assert_generic_500(res).await;
    assert!(store.calls(Op::Save) > 0, "the store was not reached");

    store.heal();
    let mut res = TestClient::get(format!("{BASE}/counter"))
        .add_header(COOKIE, &cookie, true)
        .send(&service)
        .await;
    assert_eq!(
        res.take_string().await.unwrap(),
        "2",
        "the failed update was not applied"
    );
}
