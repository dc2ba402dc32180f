//! Bad input never gets a 5xx and the server keeps serving: garbage, forged
//! or oversized cookies get a fresh session; bad bodies get a 4xx.

use reqwest::Method;
use serde_json::json;

use crate::common::*;

/// Bad cookie values, each on `/counter` (-> 200 "1", a fresh server-made
/// id) and on `/read` (-> 200 "0", no live cookie with save-uninitialized
/// false), and the real session is unharmed.
async fn bad_cookie_values_get_fresh_sessions(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut real = srv.agent();
    assert_eq!(real.counter().await, 1);
    let good = percent_decode(real.cookie.as_ref().unwrap());
    let id = real.id();
    let sig = signature(SECRET, &id);

    let mut tampered_sig = sig.clone().into_bytes();
    tampered_sig[5] = if tampered_sig[5] == b'A' { b'B' } else { b'A' };
    let tampered_sig = String::from_utf8(tampered_sig).unwrap();
    let mut tampered_id = id.clone().into_bytes();
    tampered_id[0] = if tampered_id[0] == b'A' { b'B' } else { b'A' };
    let tampered_id = String::from_utf8(tampered_id).unwrap();

    let mut garbage = vec![0u8; 64];
    fill_random(&mut garbage);
    let garbage_printable: String = garbage
        .iter()
        .map(|b| {
            let c = b'!' + (b % 94);
            if c == b';' || c == b'"' || c == b'\\' || c == b',' {
                'x'
            } else {
                c as char
            }
        })
        .collect();

    let cases: Vec<(&str, String)> = vec![
        ("tampered signature", format!("{id}.{tampered_sig}")),
        ("tampered id", format!("{tampered_id}.{sig}")),
        ("unsigned id", id.clone()),
        ("id and empty signature", format!("{id}.")),
        ("signature only", format!(".{sig}")),
        ("signature of another secret", sign(UNKNOWN_SECRET, &id)),
        ("truncated signature", good[..good.len() - 1].to_string()),
        ("extra dot", format!("{id}.x.{sig}")),
        ("sig with padding", format!("{good}=")),
        ("lowercased", good.to_lowercase()),
        ("garbage", garbage_printable),
        ("8 KiB value", "A".repeat(8 * 1024)),
        (
            "8 KiB signed-looking value",
            format!("{}.{sig}", "A".repeat(8 * 1024)),
        ),
        // a quoted value reads unquoted (cookies::quoted_session_cookie_...),
        // but only a matching pair of double quotes is stripped
        ("unbalanced quote", format!("\"{good}")),
        ("single-quoted value", format!("'{good}'")),
        ("bad percent escape", "%ZZ%4".to_string()),
        ("percent-encoded NUL", "%00".to_string()),
        ("percent-encoded non-UTF-8", "%FF%FE%FD.%C3%28".to_string()),
        ("only dots", "....".to_string()),
        ("spaces inside", format!("{id} .{sig}")),
    ];
    for (what, value) in &cases {
        let header = format!("sessionId={value}");
        let r = srv.get_with_cookie_header("/counter", &header).await;
        assert_eq!((r.status, r.body.as_str()), (200, "1"), "{what}: {r:?}");
        let new_id = r
            .cookie_id()
            .unwrap_or_else(|| panic!("{what}: no cookie for the fresh session: {r:?}"));
        assert_ne!(new_id, id, "{what}: got the real session");
        check_shape(&r.must_cookie().value, "")
            .unwrap_or_else(|e| panic!("{what}: fresh cookie malformed: {e}"));
        let r = srv.get_with_cookie_header("/read", &header).await;
        assert_eq!((r.status, r.body.as_str()), (200, "0"), "{what}: {r:?}");
        assert!(
            r.session_cookie().is_none(),
            "{what}: a live cookie for an unmodified new session: {r:?}"
        );
    }

    // an empty value is no cookie
    let r = srv.get_with_cookie_header("/read", "sessionId=").await;
    r.expect_body(200, "0");
    assert!(r.session_cookie().is_none(), "{r:?}");
    let r = srv.get_with_cookie_header("/counter", "sessionId=").await;
    r.expect_body(200, "1");
    assert_ne!(r.cookie_id().expect("cookie"), id);
    // a header with no name=value pairs at all
    for header in [";", "=", "sessionId", "; ; ;", "=sessionId"] {
        let r = srv.get_with_cookie_header("/counter", header).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, "1"),
            "Cookie: {header:?}: {r:?}"
        );
    }

    srv.assert_healthy().await;
    assert_eq!(real.read().await, 1, "the real session was harmed");
}

/// Raw bytes the HTTP client library would refuse: non-ASCII (obs-text)
/// bytes in the cookie value, and a huge Cookie header. Never a 5xx.
async fn raw_byte_cookies_never_5xx(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut rnd = vec![0u8; 256];
    fill_random(&mut rnd);
    // keep it a header value: no CR/LF/NUL and no other controls
    let bytes: Vec<u8> = rnd
        .iter()
        .map(|b| if *b < 0x20 || *b == 0x7f { b'z' } else { *b })
        .collect();
    let mut with_high: Vec<u8> = b"sessionId=".to_vec();
    with_high.extend_from_slice(&bytes);
    let utf8 = "sessionId=ünïcødé.✓✓✓".as_bytes().to_vec();
    for cookie in [with_high, utf8] {
        let mut head = format!(
            "GET /counter HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: ",
            srv.port
        )
        .into_bytes();
        head.extend_from_slice(&cookie);
        let r = crate::common::raw::request(srv.port, &head, b"")
            .await
            .unwrap_or_else(|e| panic!("no response to a raw-byte cookie: {e}"));
        assert_eq!(
            (r.status, r.body_str().as_str()),
            (200, "1"),
            "raw-byte cookie {:?}: {r:?}",
            String::from_utf8_lossy(&cookie)
        );
    }
    // a very large Cookie header (64 KiB): 4xx (too large) or a fresh
    // session, never 5xx
    let big = format!("sessionId={}", "B".repeat(64 * 1024));
    let head = format!(
        "GET /counter HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {big}",
        srv.port
    );
    match crate::common::raw::request(srv.port, head.as_bytes(), b"").await {
        Ok(r) => assert!(
            r.status < 500 && (r.status != 200 || r.body_str() == "1"),
            "64 KiB cookie: {r:?}"
        ),
        Err(e) => eprintln!("64 KiB cookie: connection closed without a response ({e})"),
    }
    // many cookie pairs
    let many: Vec<String> = (0..500).map(|i| format!("c{i}=v{i}")).collect();
    let r = srv.get_with_cookie_header("/read", &many.join("; ")).await;
    r.expect_body(200, "0");
    srv.assert_healthy().await;
    let mut a = srv.agent();
    assert_eq!(a.counter().await, 1);
}

/// Bad bodies on `/login` and `/session/{key}`: 4xx, never 5xx, nothing
/// changed.
async fn bad_bodies_are_4xx(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("a", "1").await;
    let before = a.session().await;
    for body in [
        "{not json",
        "",
        "[]",
        "{}",
        r#"{"user": 42}"#,
        r#"{"user": null}"#,
        "\"alice\"",
    ] {
        let r = a
            .peek(Method::POST, "/login", Some(Body::Json(body.to_string())))
            .await;
        assert!(
            (400..500).contains(&r.status),
            "POST /login {body:?}: expected 4xx: {r:?}"
        );
        assert!(r.cookie_id().map(|i| i == a.id()).unwrap_or(true), "{r:?}");
    }
    assert_eq!(
        a.session().await,
        before,
        "a rejected login changed the session"
    );
    assert_eq!(a.me().await, None);

    // odd keys: never 5xx; a key that is stored is readable
    for key in ["%F0%9F%8D%AA", "with%20space", "dots.in.key", "%FF"] {
        let r = a
            .peek(
                Method::PUT,
                &format!("/session/{key}"),
                Some(Body::Json("1".into())),
            )
            .await;
        assert!(r.status < 500, "PUT /session/{key}: {r:?}");
        let r = a
            .peek(Method::DELETE, &format!("/session/{key}"), None)
            .await;
        assert!(r.status < 500, "DELETE /session/{key}: {r:?}");
    }
    // a huge key
    let key = "k".repeat(10_000);
    let r = a
        .peek(
            Method::PUT,
            &format!("/session/{key}"),
            Some(Body::Json("1".into())),
        )
        .await;
    assert!(r.status < 500, "PUT with a 10 000 char key: {r:?}");
    assert_eq!(a.session().await["data"]["a"], json!(1));
    // regenerate with odd keep lists
    let mut b = srv.agent();
    b.put("a", "1").await;
    for q in [
        "keep=a,",
        "keep=,,,a",
        "keep=a,a,a",
        "keep=a,%FF",
        "keep=a&x=%ZZ",
    ] {
        let r = b.post(&format!("/regenerate?{q}")).await;
        assert!(r.status < 500, "POST /regenerate?{q}: {r:?}");
        assert_eq!(
            b.session().await["data"]["a"],
            json!(1),
            "after /regenerate?{q}"
        );
    }
    for q in ["keep=", "keep"] {
        let r = b.post(&format!("/regenerate?{q}")).await;
        assert!(r.status < 500, "POST /regenerate?{q}: {r:?}");
    }
    // revoke of odd user names
    for u in ["%FF", "a%2Fb", "%20"] {
        let r = srv
            .send(Method::POST, &format!("/users/{u}/revoke"), None, None, &[])
            .await;
        assert!(r.status < 500, "revoke {u}: {r:?}");
        r.expect_no_cookie();
    }
    srv.assert_healthy().await;
}

/// A chunked body over 1 MiB (no Content-Length) is also 413.
async fn chunked_oversized_body_is_413(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let mut a = srv.agent();
    a.put("a", "1").await;
    let before = a.session().await;
    let payload = crate::routes::json_string_of_len((1 << 20) + 1024);
    let mut body = Vec::new();
    for chunk in payload.as_bytes().chunks(32 * 1024) {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "PUT /session/big HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nCookie: {}",
        srv.port,
        a.cookie_header().unwrap()
    );
    let mut last = String::new();
    let mut status = None;
    for _ in 0..3 {
        match crate::common::raw::request(srv.port, head.as_bytes(), &body).await {
            Ok(r) => {
                status = Some(r.status);
                break;
            }
            Err(e) => last = e,
        }
    }
    let status = status.unwrap_or_else(|| panic!("no answer to the chunked PUT: {last}"));
    assert_eq!(status, 413, "chunked body over 1 MiB");
    assert_eq!(a.session().await, before);
    srv.assert_healthy().await;
}

scenarios!(
    bad_cookie_values_get_fresh_sessions,
    raw_byte_cookies_never_5xx,
    bad_bodies_are_4xx,
    chunked_oversized_body_is_413,
);
