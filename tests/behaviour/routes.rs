//! The routes of the contract, one by one.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

/// `/health`: 200 "ok", never a Set-Cookie, not even with a valid cookie.
/// `/stats` and `/users/{u}/revoke` never set a cookie either.
async fn health_stats_revoke_set_no_cookie(demo: Demo) {
    let srv = demo.memory(&[]).await;
    srv.get("/health")
        .await
        .expect_body(200, "ok")
        .expect_no_cookie();

    let mut a = srv.agent();
    assert_eq!(a.counter().await, 1);
    let cookie = a.cookie_header().unwrap();

    let r = srv.get_with_cookie_header("/health", &cookie).await;
    r.expect_body(200, "ok").expect_no_cookie();
    let r = srv.get_with_cookie_header("/stats", &cookie).await;
    r.expect(200).expect_no_cookie();
    let r = srv
        .send(
            Method::POST,
            "/users/nobody/revoke",
            Some(&cookie),
            None,
            &[],
        )
        .await;
    r.expect(200).expect_no_cookie();
    assert_eq!(r.json(), json!({"revoked": 0}), "{r:?}");
    // None of these touched the session.
    assert_eq!(a.read().await, 1);
}

/// `/counter` counts 1, 2, 3 on one cookie; `/read` returns n and does not
/// change it; a fresh client reads 0.
async fn counter_and_read(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.get("/counter").await.expect_body(200, "1");
    let first = a.cookie.clone().expect("/counter set a cookie");
    a.get("/counter").await.expect_body(200, "2");
    a.get("/counter").await.expect_body(200, "3");
    assert_eq!(a.id(), id_of(&first, &srv.prefix), "the id changed");
    a.get("/read").await.expect_body(200, "3");
    a.get("/read").await.expect_body(200, "3");
    a.get("/counter").await.expect_body(200, "4");

    let mut b = srv.agent();
    b.get("/read").await.expect_body(200, "0");
    // a's session is not b's
    b.get("/counter").await.expect_body(200, "1");
    a.get("/read").await.expect_body(200, "4");
}

/// Default `--save-uninitialized false`: an unmodified new session sends no
/// cookie (`/read`, `/session`, `/me`).
async fn no_cookie_for_uninitialized_session(demo: Demo) {
    let srv = demo.memory(&[]).await;
    srv.get("/read")
        .await
        .expect_body(200, "0")
        .expect_no_cookie();
    srv.get("/session").await.expect(200).expect_no_cookie();
    srv.get("/me").await.expect(401).expect_no_cookie();
}

/// `--save-uninitialized true`: `/read` without a cookie stores the session
/// and sends a cookie; that cookie then names a known session.
async fn save_uninitialized_true(demo: Demo) {
    let srv = demo.memory(&["--save-uninitialized", "true"]).await;
    let mut a = srv.agent();
    let r = a.get("/read").await;
    r.expect_body(200, "0");
    let c = r.must_cookie();
    check_shape(&c.value, &srv.prefix).unwrap();
    let id = a.id();
    let s = a.session().await;
    assert_eq!(
        s["id"],
        json!(id),
        "the saved uninitialized session is not known: {s}"
    );
    assert_eq!(a.counter().await, 1);
    assert_eq!(a.id(), id);
}

/// `--save-uninitialized true --rolling false`: the new saved session gets
/// its cookie once; later reads of it send none.
async fn save_uninitialized_without_rolling(demo: Demo) {
    let srv = demo
        .memory(&["--save-uninitialized", "true", "--rolling", "false"])
        .await;
    let mut a = srv.agent();
    let r = a.get("/read").await;
    r.expect_body(200, "0");
    r.must_cookie();
    a.get("/read")
        .await
        .expect_body(200, "0")
        .expect_no_cookie();
    a.get("/session").await.expect(200).expect_no_cookie();
    let r = a.get("/counter").await;
    r.expect_body(200, "1");
    r.must_cookie();
}

/// `/session`: `{"id": null, "data": {}}` for a new unsaved session; after
/// a write the id is the cookie's id, and the data is there.
async fn session_json_shape(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    let r = a.get("/session").await;
    r.expect(200);
    assert_eq!(r.json(), json!({"id": null, "data": {}}), "{r:?}");

    assert_eq!(a.counter().await, 1);
    let id = a.id();
    let s = a.session().await;
    assert_eq!(s, json!({"id": id, "data": {"n": 1}}));
    // /session did not modify anything
    let s2 = a.session().await;
    assert_eq!(s2, s);
    assert_eq!(a.read().await, 1);
}

/// PUT any JSON value -> 204 and visible under its key.
async fn put_any_json_value(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    let values = [
        ("obj", r#"{"a": 1, "b": [true, {"c": "d"}]}"#),
        ("arr", r#"[1, "two", null, 3.5]"#),
        ("str", r#""hello wörld""#),
        ("num", "42"),
        ("float", "-1.25e3"),
        ("nul", "null"),
        ("bool", "false"),
    ];
    for (k, v) in values {
        let r = a.put_json(&format!("/session/{k}"), v).await;
        r.expect(204);
        assert!(r.body.is_empty(), "204 with a body: {r:?}");
    }
    let s = a.session().await;
    assert_eq!(s["id"], json!(a.id()));
    let mut expected = serde_json::Map::new();
    for (k, v) in values {
        expected.insert(k.to_string(), serde_json::from_str(v).unwrap());
    }
    assert_eq!(s["data"], serde_json::Value::Object(expected));

    // overwrite
    a.put("num", r#"{"now": "an object"}"#).await;
    assert_eq!(
        a.session().await["data"]["num"],
        json!({"now": "an object"})
    );
}

/// Invalid JSON -> 400, the session unchanged (and a new visitor gets no
/// session out of it).
async fn put_invalid_json_is_400(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("a", "1").await;
    let before = a.session().await;
    for bad in [
        "{not json",
        r#"{"x":"#,
        "",
        "nul",
        "[1,]",
        "'single'",
        "1 2",
    ] {
        let r = a
            .peek(Method::PUT, "/session/a", Some(Body::Json(bad.to_string())))
            .await;
        assert_eq!(r.status, 400, "PUT invalid JSON {bad:?}: {r:?}");
        let r = a
            .peek(Method::PUT, "/session/b", Some(Body::Json(bad.to_string())))
            .await;
        assert_eq!(r.status, 400, "PUT invalid JSON {bad:?}: {r:?}");
    }
    // invalid UTF-8 is not JSON either
    let r = a
        .peek(
            Method::PUT,
            "/session/b",
            Some(Body::Raw(
                Some("application/json"),
                vec![b'"', 0xff, 0xfe, b'"'],
            )),
        )
        .await;
    assert_eq!(r.status, 400, "PUT non-UTF-8 body: {r:?}");
    assert_eq!(a.session().await, before, "a 400 changed the session");

    // a new visitor with invalid JSON gets no session
    let r = srv
        .send(
            Method::PUT,
            "/session/x",
            None,
            Some(Body::Json("{oops".into())),
            &[],
        )
        .await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.session_cookie().is_none(),
        "a rejected PUT created a session: {r:?}"
    );
}

/// A body over 1 MiB -> 413 and the session unchanged; exactly 1 MiB is not
/// "over" and is accepted.
async fn put_body_over_1mib_is_413(demo: Demo) {
    const MIB: usize = 1 << 20;
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("a", "1").await;
    let before = a.session().await;

    // 1 MiB + 1 byte: a JSON string of that exact length. Sent raw so that
    // an early 413 (from Content-Length) cannot be lost to a reset while the
    // body is still being written.
    let big = json_string_of_len(MIB + 1);
    let status = raw_put(&srv, a.cookie_header().as_deref(), "/session/big", &big).await;
    assert_eq!(status, 413, "PUT of 1 MiB + 1 byte");
    let status = raw_put(
        &srv,
        a.cookie_header().as_deref(),
        "/session/big",
        &json_string_of_len(4 * MIB),
    )
    .await;
    assert_eq!(status, 413, "PUT of 4 MiB");
    assert_eq!(a.session().await, before, "a 413 changed the session");

    // exactly 1 MiB is allowed
    let exact = json_string_of_len(MIB);
    let r = a
        .peek(Method::PUT, "/session/big", Some(Body::Json(exact.clone())))
        .await;
    assert_eq!(
        r.status, 204,
        "PUT of exactly 1 MiB (not over the limit): {r:?}"
    );
    let s = a.session().await;
    assert_eq!(
        s["data"]["big"].as_str().map(|s| s.len()),
        Some(MIB - 2),
        "the 1 MiB value was not stored"
    );
    assert_eq!(s["data"]["a"], json!(1));
}

/// A JSON string literal whose encoding is exactly `len` bytes.
pub fn json_string_of_len(len: usize) -> String {
    assert!(len >= 2);
    format!("\"{}\"", "x".repeat(len - 2))
}

/// PUT over a raw socket; retried on a transport error (a reset is not an
/// answer). Returns the status.
pub async fn raw_put(srv: &Server, cookie: Option<&str>, path: &str, body: &str) -> u16 {
    let mut head = format!(
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}",
        srv.port,
        body.len()
    );
    if let Some(c) = cookie {
        head.push_str(&format!("\r\nCookie: {c}"));
    }
    let mut last = String::new();
    for _ in 0..3 {
        match crate::common::raw::request(srv.port, head.as_bytes(), body.as_bytes()).await {
            Ok(r) => return r.status,
            Err(e) => last = e,
        }
    }
    panic!("raw PUT {path} failed three times: {last}");
}

/// DELETE /session/{key} -> 204 and the key is gone; deleting a missing key
/// is also 204.
async fn delete_key(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("a", "1").await;
    a.put("b", "2").await;
    let r = a.delete("/session/a").await;
    r.expect(204);
    assert_eq!(a.session().await["data"], json!({"b": 2}));
    a.delete("/session/missing").await.expect(204);
    assert_eq!(a.session().await["data"], json!({"b": 2}));
    a.delete("/session/b").await.expect(204);
    assert_eq!(a.session().await["data"], json!({}));
}

/// `/counter` when `n` is not an integer -> 409, n unchanged; when n is an
/// integer that was PUT, /counter continues from it.
async fn counter_conflict_when_not_integer(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("n", r#""seven""#).await;
    let r = a.get("/counter").await;
    r.expect(409);
    assert_eq!(a.session().await["data"]["n"], json!("seven"));
    let r = a.get("/read").await;
    assert!(r.status < 500, "/read with a string n: {r:?}");
    for bad in ["1.5", r#"{"v": 1}"#, "[1]", "true"] {
        a.put("n", bad).await;
        let r = a.get("/counter").await;
        assert_eq!(r.status, 409, "n = {bad}: {r:?}");
        assert_eq!(
            a.session().await["data"]["n"],
            serde_json::from_str::<serde_json::Value>(bad).unwrap()
        );
    }
    a.put("n", "41").await;
    a.get("/counter").await.expect_body(200, "42");
    a.get("/read").await.expect_body(200, "42");
}

/// `/regenerate?keep=a,b`: a new id, a and b kept, c dropped; the old cookie
/// now starts a fresh session.
async fn regenerate_keeps_listed_keys(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("a", "1").await;
    a.put("b", r#""two""#).await;
    a.put("c", "[3]").await;
    let old_cookie = a.cookie.clone().unwrap();
    let old_id = a.id();

    let r = a.post("/regenerate?keep=a,b").await;
    r.expect(204);
    let new_id = r
        .cookie_id()
        .unwrap_or_else(|| panic!("/regenerate sent no new cookie: {r:?}"));
    assert_ne!(new_id, old_id, "regenerate kept the id");
    check_shape(&r.must_cookie().value, &srv.prefix).unwrap();
    let s = a.session().await;
    assert_eq!(s, json!({"id": new_id, "data": {"a": 1, "b": "two"}}));

    // the old id is gone at once
    let mut old = srv.agent_with(&old_cookie);
    let s = old.session().await;
    assert_eq!(
        s,
        json!({"id": null, "data": {}}),
        "old id still serves data"
    );
    let mut old = srv.agent_with(&old_cookie);
    assert_eq!(old.counter().await, 1);
    assert_ne!(old.id(), old_id, "the old id came back");
    assert_ne!(old.id(), new_id);

    // regenerate without keep drops everything but still moves to a new,
    // known id (the cookie is sent because the id changed)
    let before = a.id();
    let r = a.post("/regenerate").await;
    r.expect(204);
    let id3 = r
        .cookie_id()
        .unwrap_or_else(|| panic!("/regenerate without keep sent no cookie: {r:?}"));
    assert_ne!(id3, before);
    let s = a.session().await;
    assert_eq!(s["data"], json!({}), "{s}");
    assert_eq!(
        s["id"],
        json!(id3),
        "the regenerated session is not known: {s}"
    );

    // keep naming absent keys is fine
    a.put("x", "1").await;
    let r = a.post("/regenerate?keep=x,nope").await;
    r.expect(204);
    assert_eq!(a.session().await["data"], json!({"x": 1}));
}

/// `/login`: new id, data dropped, `/me` is the user; `/me` without login
/// is 401.
async fn login_and_me(demo: Demo) {
    let srv = demo.memory(&[]).await;
    srv.get("/me").await.expect(401);

    let mut a = srv.agent();
    a.put("x", "1").await;
    assert_eq!(a.me().await, None);
    let old_cookie = a.cookie.clone().unwrap();
    let old_id = a.id();

    let r = a.post_json("/login", r#"{"user":"alice"}"#).await;
    r.expect(204);
    let new_id = r
        .cookie_id()
        .unwrap_or_else(|| panic!("/login sent no cookie: {r:?}"));
    assert_ne!(new_id, old_id, "login kept the id (session fixation)");
    let r = a.get("/me").await;
    r.expect(200);
    assert_eq!(r.json(), json!({"user": "alice"}));
    let s = a.session().await;
    assert_eq!(s, json!({"id": new_id, "data": {"user": "alice"}}));

    // the pre-login id is gone
    let mut old = srv.agent_with(&old_cookie);
    assert_eq!(old.me().await, None);
    assert_eq!(old.session().await, json!({"id": null, "data": {}}));

    // login from a fresh client, then as someone else on the same client
    let mut b = srv.agent();
    b.login("bob").await;
    assert_eq!(b.me().await.as_deref(), Some("bob"));
    let bob_id = b.id();
    b.login("carol").await;
    assert_ne!(b.id(), bob_id);
    assert_eq!(b.me().await.as_deref(), Some("carol"));
    assert_eq!(a.me().await.as_deref(), Some("alice"));
}

/// `/logout`: 204 and a clearing cookie (same name and path, empty value,
/// Max-Age=0, Expires in 1970); the old cookie then gets a fresh session.
async fn logout_clears_cookie_and_session(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.login("alice").await;
    assert_eq!(a.counter().await, 1);
    let old_cookie = a.cookie.clone().unwrap();
    let old_id = a.id();

    let r = a.post("/logout").await;
    r.expect(204);
    assert_clearing_cookie(&r, "/", None);
    assert!(
        r.session_cookie().is_none(),
        "logout set a live cookie: {r:?}"
    );

    let mut old = srv.agent_with(&old_cookie);
    old.get("/read").await.expect_body(200, "0");
    assert_eq!(old.me().await, None);
    assert_eq!(old.session().await, json!({"id": null, "data": {}}));
    assert_eq!(old.counter().await, 1);
    assert_ne!(old.id(), old_id);

    // logout without a session is harmless
    let r = srv.send(Method::POST, "/logout", None, None, &[]).await;
    r.expect(204);
    assert!(r.session_cookie().is_none(), "{r:?}");
}

/// Assert the response clears the session cookie as the contract says.
pub fn assert_clearing_cookie(r: &Resp, path: &str, domain: Option<&str>) {
    let clear = r
        .clear_cookie()
        .unwrap_or_else(|| panic!("no clearing cookie: {r:?}"));
    assert_eq!(
        clear.value, "",
        "clearing cookie value not empty: {}",
        clear.raw
    );
    assert_eq!(
        clear.attr("Max-Age").map(str::trim),
        Some("0"),
        "clearing cookie without Max-Age=0: {}",
        clear.raw
    );
    let exp = clear
        .expires()
        .unwrap_or_else(|| panic!("clearing cookie without Expires: {}", clear.raw));
    assert_eq!(
        crate::common::httpdate::year_of(exp),
        1970,
        "clearing cookie Expires not in 1970: {}",
        clear.raw
    );
    assert_eq!(
        clear.attr("Path"),
        Some(path),
        "clearing cookie path: {}",
        clear.raw
    );
    assert_eq!(
        clear.attr("Domain"),
        domain,
        "clearing cookie domain: {}",
        clear.raw
    );
}

/// `/users/{u}/revoke` destroys every session bound to u, and only those.
async fn revoke_user_sessions(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut bobs = Vec::new();
    for _ in 0..3 {
        let mut b = srv.agent();
        b.put("pre", "1").await;
        b.login("bob").await;
        b.put("after", "2").await;
        bobs.push(b);
    }
    let mut carol = srv.agent();
    carol.login("carol").await;
    // a bob session that logged out does not count
    let mut gone = srv.agent();
    gone.login("bob").await;
    gone.post("/logout").await.expect(204);
    // a session that was bob and then logged in as dave is dave's
    let mut switched = srv.agent();
    switched.login("bob").await;
    switched.login("dave").await;
    // an anonymous session with user-like data is not bound
    let mut anon = srv.agent();
    anon.put("user", r#""bob""#).await;

    let bob_cookies: Vec<String> = bobs.iter().map(|b| b.cookie.clone().unwrap()).collect();
    let r = srv
        .send(Method::POST, "/users/bob/revoke", None, None, &[])
        .await;
    r.expect(200).expect_no_cookie();
    assert_eq!(r.json(), json!({"revoked": 3}), "{r:?}");

    for c in &bob_cookies {
        let mut b = srv.agent_with(c);
        assert_eq!(b.me().await, None, "a revoked bob session still logged in");
        assert_eq!(b.session().await, json!({"id": null, "data": {}}));
    }
    assert_eq!(carol.me().await.as_deref(), Some("carol"));
    assert_eq!(switched.me().await.as_deref(), Some("dave"));
    assert_eq!(anon.session().await["data"], json!({"user": "bob"}));
    // data named `user` is not a login: /me reports only the login binding
    assert_eq!(anon.me().await, None, "PUT /session/user acted as a login");

    let r = srv
        .send(Method::POST, "/users/bob/revoke", None, None, &[])
        .await;
    assert_eq!(r.json(), json!({"revoked": 0}), "{r:?}");
    let r = srv
        .send(Method::POST, "/users/nobody/revoke", None, None, &[])
        .await;
    assert_eq!(r.json(), json!({"revoked": 0}), "{r:?}");

    // bob can log in again afterwards
    let mut b = srv.agent_with(&bob_cookies[0]);
    b.login("bob").await;
    assert_eq!(b.me().await.as_deref(), Some("bob"));
    let r = srv
        .send(Method::POST, "/users/carol/revoke", None, None, &[])
        .await;
    assert_eq!(r.json(), json!({"revoked": 1}), "{r:?}");
    assert_eq!(carol.me().await, None);
    assert_eq!(b.me().await.as_deref(), Some("bob"));
}

/// Unknown routes and wrong methods are 4xx, never 5xx, and the session of
/// the caller is unharmed.
async fn unknown_routes_are_4xx(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.counter().await;
    for (m, p) in [
        (Method::GET, "/nope"),
        (Method::GET, "/counter/extra"),
        (Method::POST, "/health/x"),
        (Method::GET, "/users/bob/revoke"),
        (Method::DELETE, "/session"),
    ] {
        let r = a.peek(m.clone(), p, None).await;
        assert!(
            (400..500).contains(&r.status),
            "{m} {p}: expected 4xx: {r:?}"
        );
    }
    assert_eq!(a.read().await, 1);
}

scenarios!(
    health_stats_revoke_set_no_cookie,
    counter_and_read,
    no_cookie_for_uninitialized_session,
    save_uninitialized_true,
    save_uninitialized_without_rolling,
    session_json_shape,
    put_any_json_value,
    put_invalid_json_is_400,
    put_body_over_1mib_is_413,
    delete_key,
    counter_conflict_when_not_integer,
    regenerate_keeps_listed_keys,
    login_and_me,
    logout_clears_cookie_and_session,
    revoke_user_sessions,
    unknown_routes_are_4xx,
);
