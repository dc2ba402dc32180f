//! The cookie wire format: value shape, signature, prefix, percent-decoding,
//! duplicate names, default attributes, and never adopting a client id.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;

use crate::common::httpdate::epoch_secs;
use crate::common::*;

/// Default name `sessionId`; value `<id>.<sig>` with a 32+ char base64url id
/// and a 43 char base64 signature that verifies with the independent signer;
/// default attributes Path=/, HttpOnly, SameSite=Lax, no Secure (plain
/// http, auto), no Domain, no Partitioned, Expires = now + 24 h.
async fn wire_format_and_default_attributes(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    let r = a.get("/counter").await;
    r.expect_body(200, "1");
    let named = r.named();
    assert_eq!(named.len(), 1, "one session Set-Cookie expected: {r:?}");
    let c = named[0];
    assert_eq!(c.name, "sessionId");
    let signed = check_shape(&c.value, "").unwrap_or_else(|e| panic!("{e}: {}", c.raw));
    assert!(
        verify(SECRET, &signed.id, &signed.sig),
        "signature does not verify with the independent signer: {}",
        c.raw
    );
    assert_eq!(c.decoded(), sign(SECRET, &signed.id));
    assert_eq!(c.attr("Path"), Some("/"), "{}", c.raw);
    assert!(c.has("HttpOnly"), "{}", c.raw);
    assert!(
        c.attr("SameSite").map(|v| v.eq_ignore_ascii_case("lax")) == Some(true),
        "SameSite=Lax expected: {}",
        c.raw
    );
    assert!(
        !c.has("Secure"),
        "Secure over plain http with auto: {}",
        c.raw
    );
    assert!(!c.has("Domain"), "{}", c.raw);
    assert!(!c.has("Partitioned"), "{}", c.raw);
    // The contract lists the attributes; Max-Age is only for clearing (as in
    // @fastify/session, whose session cookies never carry Max-Age).
    assert!(!c.has("Max-Age"), "session cookie with Max-Age: {}", c.raw);
    for attr in ["Path", "HttpOnly", "SameSite", "Expires"] {
        assert_eq!(c.count(attr), 1, "{attr} not exactly once: {}", c.raw);
    }
    assert_expires_near(&r, 86_400_000);

    // ids are unique per session
    let mut ids = HashSet::new();
    ids.insert(signed.id.clone());
    for _ in 0..20 {
        let mut b = srv.agent();
        b.counter().await;
        assert!(ids.insert(b.id()), "duplicate session id {}", b.id());
    }
}

/// Assert the session cookie's Expires is now + `ms` (second precision,
/// a few seconds of slack).
pub fn assert_expires_near(r: &Resp, ms: u64) {
    let c = r.must_cookie();
    let exp = c
        .expires()
        .unwrap_or_else(|| panic!("no Expires on the session cookie: {}", c.raw));
    let lo = epoch_secs(r.sent_wall) + ms as f64 / 1000.0 - 2.0;
    let hi = epoch_secs(r.received_wall) + ms as f64 / 1000.0 + 2.0;
    let e = epoch_secs(exp);
    assert!(
        lo <= e && e <= hi,
        "Expires {e} not within [{lo}, {hi}] (now + {ms} ms): {}",
        c.raw
    );
}

/// The cookie value sent back as received keeps the session; the same value
/// fully percent-encoded also works (values are percent-decoded first).
async fn percent_encoded_values_are_decoded(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.counter().await;
    let value = percent_decode(a.cookie.as_ref().unwrap());
    let id = a.id();

    for encoded in [encode_uri_component(&value), encode_every_byte(&value)] {
        let mut b = srv.agent_with(&encoded);
        let r = b.get("/session").await;
        r.expect(200);
        assert_eq!(
            r.json()["id"],
            json!(id),
            "percent-encoded cookie {encoded:?} was not decoded: {r:?}"
        );
    }
    assert_eq!(a.read().await, 1);
}

/// `--cookie-prefix s:`: the value is `s:<id>.<sig>`; the express form
/// `s%3A...` is accepted; a value without the prefix is not a session.
async fn cookie_prefix_express_compatible(demo: Demo) {
    let srv = demo
        .memory(&["--cookie-prefix", "s:", "--cookie-name", "connect.sid"])
        .await;
    let mut a = srv.agent();
    let r = a.get("/counter").await;
    r.expect_body(200, "1");
    let c = r.must_cookie();
    assert_eq!(c.name, "connect.sid");
    let decoded = c.decoded();
    assert!(decoded.starts_with("s:"), "no s: prefix: {}", c.raw);
    let signed = check_shape(&c.value, "s:").unwrap_or_else(|e| panic!("{e}: {}", c.raw));
    assert!(verify(SECRET, &signed.id, &signed.sig), "{}", c.raw);
    assert_eq!(a.counter().await, 2);

    // express-session sends the whole value through encodeURIComponent
    let express = encode_uri_component(&decoded);
    assert!(express.starts_with("s%3A"));
    let mut e = srv.agent_with(&express);
    assert_eq!(
        e.counter().await,
        3,
        "the express form s%3A... was not accepted"
    );
    assert_eq!(e.id(), signed.id);

    // Without the prefix the value is not a session cookie of this server
    // (as in @fastify/session: a value lacking cookiePrefix is "no cookie").
    let bare = decoded.strip_prefix("s:").unwrap().to_string();
    let mut b = srv.agent_with(&bare);
    let s = b.session().await;
    assert_eq!(
        s["id"],
        json!(null),
        "a prefix-less value was accepted: {s}"
    );
    assert_eq!(a.read().await, 3);
}

/// When the cookie name appears twice the first wins; other cookies around
/// it are ignored.
async fn duplicate_cookie_name_first_wins(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    let mut b = srv.agent();
    assert_eq!(a.counter().await, 1);
    assert_eq!(b.counter().await, 1);
    assert_eq!(b.counter().await, 2);
    let (va, vb) = (a.cookie.clone().unwrap(), b.cookie.clone().unwrap());
    let (ida, idb) = (a.id(), b.id());

    let r = srv
        .get_with_cookie_header("/session", &format!("sessionId={va}; sessionId={vb}"))
        .await;
    assert_eq!(r.json()["id"], json!(ida), "first cookie must win: {r:?}");
    let r = srv
        .get_with_cookie_header("/session", &format!("sessionId={vb}; sessionId={va}"))
        .await;
    assert_eq!(r.json()["id"], json!(idb), "first cookie must win: {r:?}");
    // a garbage first occurrence still wins (and gives a fresh session)
    let r = srv
        .get_with_cookie_header("/session", &format!("sessionId=garbage; sessionId={va}"))
        .await;
    assert_eq!(
        r.json()["id"],
        json!(null),
        "first (garbage) cookie must win: {r:?}"
    );
    // unrelated cookies around it
    let r = srv
        .get_with_cookie_header(
            "/read",
            &format!("theme=dark; sessionIdX=nope; sessionId={vb}; other=1"),
        )
        .await;
    r.expect_body(200, "2");
    // a cookie of another name only: no session, no cookie
    srv.get_with_cookie_header("/read", "someOtherCookie=foobar")
        .await
        .expect_body(200, "0")
        .expect_no_cookie();
}

/// Another app on the domain may set a cookie whose value is not ASCII
/// (UTF-8, or a latin1 byte). The Cookie header is read as bytes, as
/// @fastify/session does, so such a cookie beside the session cookie (before
/// or after it, or in a second Cookie header) does not hide the session.
async fn non_ascii_cookie_of_another_app_keeps_the_session(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    assert_eq!(a.counter().await, 1);
    assert_eq!(a.counter().await, 2);
    let session = a.cookie_header().unwrap().into_bytes();
    let others: [&[u8]; 3] = [
        b"other=caf\xc3\xa9",        // UTF-8 "café"
        b"other=caf\xe9",            // latin1 "café": not UTF-8
        b"other=\xf0\x9f\x8d\xaa x", // UTF-8 emoji, and a space
    ];
    for other in others {
        let before = [other, b"; ", &session].concat();
        let after = [&session, b"; " as &[u8], other, b"; more=1"].concat();
        let split = [other, b"\r\nCookie: ", &session].concat();
        for cookie in [before, after, split] {
            let mut head = format!(
                "GET /read HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: ",
                srv.port
            )
            .into_bytes();
            head.extend_from_slice(&cookie);
            let r = crate::common::raw::request(srv.port, &head, b"")
                .await
                .unwrap_or_else(|e| panic!("no response: {e}"));
            assert_eq!(
                (r.status, r.body_str().as_str()),
                (200, "2"),
                "the session was lost beside a non-ASCII cookie: Cookie: {:?}: {r:?}",
                String::from_utf8_lossy(&cookie)
            );
        }
    }
    assert_eq!(a.counter().await, 3);
}

/// A double-quoted cookie value (`sessionId="<id>.<sig>"`) reads as the value
/// inside the quotes, as with fastify's cookie parser.
async fn quoted_session_cookie_value_is_unquoted(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    assert_eq!(a.counter().await, 1);
    let value = a.cookie.clone().unwrap();
    let id = a.id();
    let quoted = format!("\"{value}\"");
    let mut q = srv.agent_with(&quoted);
    let s = q.session().await;
    assert_eq!(
        s["id"],
        json!(id),
        "quoted cookie {quoted:?} was not read: {s}"
    );
    let mut q = srv.agent_with(&quoted);
    assert_eq!(q.counter().await, 2, "quoted cookie {quoted:?}");
    assert_eq!(q.id(), id, "the quoted cookie got a new session");
    assert_eq!(a.read().await, 2);
}

/// A cookie for an id the server never made, validly signed with the
/// server's own secret, starts a fresh session with a different id.
async fn never_adopts_a_client_id(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let forged_id = random_id();
    let forged = srv.forge(SECRET, &forged_id);
    let mut a = srv.agent_with(&forged);
    let s = a.session().await;
    assert_eq!(s, json!({"id": null, "data": {}}), "forged id was loaded");
    let mut a = srv.agent_with(&forged);
    let r = a.get("/counter").await;
    r.expect_body(200, "1");
    let id = r
        .cookie_id()
        .unwrap_or_else(|| panic!("no cookie for the new session: {r:?}"));
    assert_ne!(id, forged_id, "the server adopted the client's id");
    check_shape(&r.must_cookie().value, "").unwrap();
    // the forged cookie still names nothing
    let mut again = srv.agent_with(&forged);
    assert_eq!(again.read().await, 0);
    // a known-looking id of another shape (the KAT id)
    let kat = srv.forge(SECRET, "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN");
    let mut k = srv.agent_with(&kat);
    assert_eq!(k.counter().await, 1);
    assert_ne!(k.id(), "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN");
}

/// Rolling (default): a `/read` with a cookie re-sends the same value with a
/// later Expires.
async fn rolling_true_resends_with_later_expires(demo: Demo) {
    let srv = demo.memory(&["--max-age-ms", "3600000"]).await;
    let mut a = srv.agent();
    let r1 = a.get("/counter").await;
    let e1 = r1.must_cookie().expires().expect("Expires");
    let v1 = a.cookie.clone().unwrap();
    // Expires has second precision
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r2 = a.get("/read").await;
    r2.expect_body(200, "1");
    let c2 = r2
        .session_cookie()
        .unwrap_or_else(|| panic!("rolling: /read did not re-send the cookie: {r2:?}"));
    assert_eq!(c2.value, v1, "rolling re-send changed the value");
    let e2 = c2.expires().expect("Expires");
    assert!(
        e2 > e1,
        "Expires did not move forward: {:?} -> {:?}",
        e1,
        e2
    );
    assert_expires_near(&r2, 3_600_000);
    // /session and /me are reads that load the session too
    let r = a.get("/session").await;
    assert!(
        r.session_cookie().is_some(),
        "rolling: /session did not re-send: {r:?}"
    );
}

/// `--rolling false`: reads send no cookie; a modification does.
async fn rolling_false_sends_cookie_only_when_needed(demo: Demo) {
    let srv = demo.memory(&["--rolling", "false"]).await;
    let mut a = srv.agent();
    let r = a.get("/counter").await;
    r.expect_body(200, "1");
    assert!(
        r.session_cookie().is_some(),
        "new saved session without cookie: {r:?}"
    );
    let v = a.cookie.clone().unwrap();
    a.get("/read")
        .await
        .expect_body(200, "1")
        .expect_no_cookie();
    a.get("/session").await.expect(200).expect_no_cookie();
    let r = a.get("/counter").await;
    r.expect_body(200, "2");
    assert_eq!(
        r.session_cookie().map(|c| c.value.clone()),
        Some(v.clone()),
        "modified session must re-send its cookie: {r:?}"
    );
    let r = a.put_json("/session/k", "1").await;
    r.expect(204);
    assert!(r.session_cookie().is_some(), "PUT did not re-send: {r:?}");
    // id change sends the new cookie
    let r = a.post("/regenerate?keep=n").await;
    r.expect(204);
    let id = r.cookie_id().expect("regenerate must send the new id");
    assert_ne!(id, id_of(&v, ""));
    a.get("/read")
        .await
        .expect_body(200, "2")
        .expect_no_cookie();
}

scenarios!(
    wire_format_and_default_attributes,
    percent_encoded_values_are_decoded,
    cookie_prefix_express_compatible,
    duplicate_cookie_name_first_wins,
    non_ascii_cookie_of_another_app_keeps_the_session,
    quoted_session_cookie_value_is_unquoted,
    never_adopts_a_client_id,
    rolling_true_resends_with_later_expires,
    rolling_false_sends_cookie_only_when_needed,
);
