//! A user's devices: `GET /users/{user}/sessions` lists the sessions bound
//! to a user, newest first; `DELETE /users/{user}/sessions/{handle}` ends one
//! (204, or 404 when the user has no such session). Neither touches the
//! caller's session or sets a cookie.

use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

use crate::common::*;

/// `GET /users/{user}/sessions`, sent with `cookie` (a caller's own session
/// must stay untouched): expects 200 and no cookie; the `sessions` array.
async fn list(srv: &Server, user: &str, cookie: Option<&str>) -> Vec<Value> {
    let r = srv
        .send(
            Method::GET,
            format!("/users/{user}/sessions"),
            cookie,
            None,
            &[],
        )
        .await;
    r.expect(200).expect_no_cookie();
    let body = r.json();
    let sessions = body["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions array: {r:?}"))
        .clone();
    for s in &sessions {
        let (created, last_seen) = (ms(s, "created_at"), ms(s, "last_seen_at"));
        assert!(created <= last_seen, "{s}");
        assert!(
            s["handle"].as_str().is_some_and(|h| !h.is_empty()),
            "handle: {s}"
        );
        // The demos run with the default 24 h idle timeout.
        assert!(ms(s, "expires_at") >= last_seen + 86_400_000 - 1000, "{s}");
    }
    sessions
}

fn ms(session: &Value, field: &str) -> u64 {
    session[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a number of ms: {session}"))
}

fn handle(session: &Value) -> String {
    session["handle"].as_str().unwrap().to_string()
}

/// `DELETE /users/{user}/sessions/{handle}`: its status (never a cookie).
async fn end(srv: &Server, user: &str, handle: &str, cookie: Option<&str>) -> u16 {
    let r = srv
        .send(
            Method::DELETE,
            format!("/users/{user}/sessions/{handle}"),
            cookie,
            None,
            &[],
        )
        .await;
    r.expect_no_cookie();
    r.status
}

/// The handle says nothing of the cookie it names.
fn assert_not_the_cookie(handle: &str, cookie: &str, prefix: &str) {
    let signed = split_value(cookie, prefix).expect("a signed cookie");
    for secret in [&signed.id, &signed.sig] {
        assert!(
            !secret.contains(handle) && !handle.contains(secret.as_str()),
            "handle {handle} overlaps {secret}"
        );
    }
}

/// Two logins of alice and one of bob: list, end one by handle, refuse a
/// second end and another user's handle.
async fn list_and_end_one_session(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut first = srv.agent();
    first.login("alice").await;
    // Distinct creation times, so "newest first" is one order.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut second = srv.agent();
    second.login("alice").await;
    let mut bob = srv.agent();
    bob.login("bob").await;
    let first_cookie = first.cookie.clone().unwrap();
    let caller = first.cookie_header();

    let alice = list(&srv, "alice", caller.as_deref()).await;
    assert_eq!(alice.len(), 2, "{alice:?}");
    assert!(
        ms(&alice[0], "created_at") > ms(&alice[1], "created_at"),
        "newest first: {alice:?}"
    );
    let (newest, oldest) = (handle(&alice[0]), handle(&alice[1]));
    assert_ne!(newest, oldest);
    assert_not_the_cookie(&oldest, &first_cookie, &srv.prefix);
    assert_not_the_cookie(&newest, second.cookie.as_deref().unwrap(), &srv.prefix);
    let bobs = list(&srv, "bob", None).await;
    assert_eq!(bobs.len(), 1, "{bobs:?}");
    let bob_handle = handle(&bobs[0]);
    assert!(bob_handle != newest && bob_handle != oldest);
    assert_eq!(list(&srv, "nobody", None).await, Vec::<Value>::new());

    // Another user's session, or an unknown handle: 404, nothing ends.
    assert_eq!(end(&srv, "alice", &bob_handle, None).await, 404);
    assert_eq!(
        end(&srv, "alice", "AAAAAAAAAAAAAAAAAAAAAA", None).await,
        404
    );
    assert_eq!(end(&srv, "bob", &oldest, None).await, 404);
    assert_eq!(bob.me().await.as_deref(), Some("bob"));

    // Ending the first device, asked from the second: 204.
    let caller = second.cookie_header();
    assert_eq!(end(&srv, "alice", &oldest, caller.as_deref()).await, 204);
    assert_eq!(
        first.me().await,
        None,
        "an ended session is still logged in"
    );
    assert_eq!(second.me().await.as_deref(), Some("alice"));
    assert_eq!(end(&srv, "alice", &oldest, None).await, 404, "ended twice");
    let left = list(&srv, "alice", None).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(handle(&left[0]), newest);
    assert_eq!(bob.me().await.as_deref(), Some("bob"));
}

/// With the sled store: the sessions and their handles are the same after a
/// restart, and a session only on disk is ended by its handle.
async fn handles_survive_a_restart_on_sled(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo.start(Cfg::durable(dir.path())).await;
    let mut first = srv.agent();
    first.login("alice").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut second = srv.agent();
    second.login("alice").await;
    let cookies = [
        first.cookie.clone().unwrap(),
        second.cookie.clone().unwrap(),
    ];
    let before = list(&srv, "alice", None).await;
    assert_eq!(before.len(), 2, "{before:?}");
    drop((first, second));
    srv.stop().await;

    let srv = srv.restart().await;
    let after = list(&srv, "alice", None).await;
    let fields = |l: &[Value]| {
        l.iter()
            .map(|s| (handle(s), ms(s, "created_at")))
            .collect::<Vec<_>>()
    };
    assert_eq!(fields(&after), fields(&before), "{before:?} / {after:?}");
    assert_eq!(end(&srv, "alice", &handle(&after[1]), None).await, 204);
    assert_eq!(srv.agent_with(&cookies[0]).me().await, None);
    assert_eq!(
        srv.agent_with(&cookies[1]).me().await.as_deref(),
        Some("alice")
    );
    assert_eq!(end(&srv, "alice", &handle(&after[1]), None).await, 404);
    assert_eq!(list(&srv, "alice", None).await.len(), 1);
    let r = srv.get("/users/alice/sessions").await;
    assert_eq!(r.json()["sessions"][0]["handle"], json!(handle(&after[0])));
}

scenarios!(list_and_end_one_session, handles_survive_a_restart_on_sled);
