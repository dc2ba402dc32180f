//! Command-line flags: cookie attributes, path scope, bad flags.

use std::time::Duration;

use reqwest::Method;

use crate::common::httpdate::epoch_secs;
use crate::common::*;
use crate::cookies::assert_expires_near;
use crate::routes::assert_clearing_cookie;

/// The session cookie of a fresh `/counter`.
async fn first_cookie(srv: &Server, headers: &[(&str, &str)]) -> SetCookie {
    let r = srv.send(Method::GET, "/counter", None, None, headers).await;
    r.expect_body(200, "1");
    r.must_cookie().clone()
}

/// `--cookie-name`, `--cookie-path`, `--cookie-domain`, `--http-only false`,
/// `--same-site strict`, `--partitioned`.
async fn attribute_flags(demo: Demo) {
    let srv = demo
        .memory(&[
            "--cookie-name",
            "sid",
            "--cookie-domain",
            "example.test",
            "--http-only",
            "false",
            "--same-site",
            "strict",
            "--partitioned",
        ])
        .await;
    let c = first_cookie(&srv, &[]).await;
    assert_eq!(c.name, "sid", "{}", c.raw);
    assert_eq!(c.attr("Domain"), Some("example.test"), "{}", c.raw);
    assert!(!c.has("HttpOnly"), "--http-only false: {}", c.raw);
    assert_eq!(
        c.attr("SameSite").map(|s| s.to_ascii_lowercase()),
        Some("strict".into()),
        "{}",
        c.raw
    );
    assert!(c.has("Partitioned"), "--partitioned: {}", c.raw);
    assert_eq!(c.attr("Path"), Some("/"), "{}", c.raw);

    // the default name is not read any more; the configured one is
    let mut a = srv.agent_with(&c.value);
    assert_eq!(a.counter().await, 2);
    let r = srv
        .get_with_cookie_header("/read", &format!("sessionId={}", c.value))
        .await;
    r.expect_body(200, "0");

    // logout clears with the same name, path and domain
    let r = a.post("/logout").await;
    r.expect(204);
    assert_clearing_cookie(&r, "/", Some("example.test"));
}

/// `--same-site none` (with Secure, which browsers require for None) and
/// `--same-site lax` spelled out.
async fn same_site_none_and_lax(demo: Demo) {
    let srv = demo
        .memory(&["--same-site", "none", "--cookie-secure", "true"])
        .await;
    let c = first_cookie(&srv, &[]).await;
    assert_eq!(
        c.attr("SameSite").map(|s| s.to_ascii_lowercase()),
        Some("none".into()),
        "{}",
        c.raw
    );
    assert!(c.has("Secure"), "{}", c.raw);
    drop(srv);
    let srv = demo.memory(&["--same-site", "lax"]).await;
    let c = first_cookie(&srv, &[]).await;
    assert_eq!(
        c.attr("SameSite").map(|s| s.to_ascii_lowercase()),
        Some("lax".into()),
        "{}",
        c.raw
    );
}

/// `--cookie-secure auto` (default): Secure only with `--trust-proxy` and
/// `X-Forwarded-Proto: https`; `true`: always; `false`: never.
async fn secure_flag(demo: Demo) {
    let https = [("x-forwarded-proto", "https")];
    let http = [("x-forwarded-proto", "http")];

    let srv = demo.memory(&["--trust-proxy"]).await;
    let c = first_cookie(&srv, &[]).await;
    assert!(!c.has("Secure"), "auto, plain http: {}", c.raw);
    let c = first_cookie(&srv, &https).await;
    assert!(c.has("Secure"), "auto + trust-proxy + XFP https: {}", c.raw);
    let c = first_cookie(&srv, &http).await;
    assert!(!c.has("Secure"), "auto + trust-proxy + XFP http: {}", c.raw);
    drop(srv);

    let srv = demo.memory(&[]).await;
    let c = first_cookie(&srv, &https).await;
    assert!(
        !c.has("Secure"),
        "XFP https must be ignored without --trust-proxy: {}",
        c.raw
    );
    drop(srv);

    let srv = demo.memory(&["--cookie-secure", "auto"]).await;
    let c = first_cookie(&srv, &https).await;
    assert!(!c.has("Secure"), "explicit auto, no trust-proxy: {}", c.raw);
    drop(srv);

    let srv = demo.memory(&["--cookie-secure", "true"]).await;
    let c = first_cookie(&srv, &[]).await;
    assert!(c.has("Secure"), "--cookie-secure true over http: {}", c.raw);
    drop(srv);

    let srv = demo
        .memory(&["--cookie-secure", "false", "--trust-proxy"])
        .await;
    let c = first_cookie(&srv, &https).await;
    assert!(!c.has("Secure"), "--cookie-secure false: {}", c.raw);
}

/// `--cookie-path /counter`: the cookie has Path=/counter and works there;
/// requests outside the path get no session and no cookie.
async fn cookie_path_scope(demo: Demo) {
    let srv = demo.memory(&["--cookie-path", "/counter"]).await;
    let mut a = srv.agent();
    let r = a.get("/counter").await;
    r.expect_body(200, "1");
    assert_eq!(r.must_cookie().attr("Path"), Some("/counter"), "{r:?}");
    assert_eq!(a.counter().await, 2);
    let cookie = a.cookie_header().unwrap();
    // outside the path: no cookie, and the session is not loaded
    for p in ["/read", "/session", "/me"] {
        let r = srv.get_with_cookie_header(p, &cookie).await;
        assert!(r.status < 500, "{p} outside the cookie path: {r:?}");
        r.expect_no_cookie();
        if p == "/read" && r.status == 200 {
            assert_eq!(
                r.body, "0",
                "{p} outside the cookie path loaded the session"
            );
        }
    }
    let r = srv
        .send(
            Method::PUT,
            "/session/k",
            Some(&cookie),
            Some(Body::Json("1".into())),
            &[],
        )
        .await;
    assert!(r.status < 500, "{r:?}");
    r.expect_no_cookie();
    assert_eq!(a.counter().await, 3);

    // --cookie-path /app: every route is outside
    let srv = demo.memory(&["--cookie-path", "/app"]).await;
    for _ in 0..2 {
        let r = srv.get("/counter").await;
        assert!(r.status < 500, "{r:?}");
        r.expect_no_cookie();
    }
    srv.get("/health").await.expect_body(200, "ok");
}

/// `--max-age-ms`: Expires = now + MS; with a smaller
/// `--absolute-timeout-ms`, Expires is the absolute end and does not move.
async fn expires_follows_max_age_and_absolute_end(demo: Demo) {
    let srv = demo.memory(&["--max-age-ms", "7200000"]).await;
    let r = srv.get("/counter").await;
    assert_expires_near(&r, 7_200_000);
    drop(srv);

    let srv = demo
        .memory(&["--max-age-ms", "7200000", "--absolute-timeout-ms", "600000"])
        .await;
    let mut a = srv.agent();
    let r = a.get("/counter").await;
    assert_expires_near(&r, 600_000);
    let e1 = epoch_secs(r.must_cookie().expires().unwrap());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = a.get("/counter").await;
    r.expect_body(200, "2");
    let e2 = epoch_secs(r.must_cookie().expires().unwrap());
    assert!(
        (e2 - e1).abs() <= 1.0,
        "the absolute end moved: {e1} -> {e2} ({r:?})"
    );
}

/// Bad flags or values: an error on stderr and exit code 2, by itself.
async fn bad_flags_exit_2(demo: Demo) {
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let base = ["--memory", "--secret", SECRET, "--addr", addr.as_str()];
    let cases: &[&[&str]] = &[
        &["--no-such-flag"],
        &["--cookie-secure", "maybe"],
        &["--same-site", "foo"],
        &["--max-age-ms", "abc"],
        &["--max-age-ms", "-5"],
        &["--rolling", "yes"],
        &["--http-only", "maybe"],
        &["--save-uninitialized", "2"],
        &["--durability", "never"],
        &["--passivate-after-ms", "soon"],
        &["--absolute-timeout-ms", "x"],
        &["--max-age-ms"],
        &["stray-positional"],
    ];
    let mut failures = Vec::new();
    for case in cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(case);
        let (code, stderr, exited) = run_to_exit(demo, &args, Duration::from_secs(5)).await;
        if !exited {
            failures.push(format!("{case:?}: still running after 5 s (killed)"));
        } else if code != Some(2) {
            failures.push(format!("{case:?}: exit code {code:?}, stderr {stderr:?}"));
        } else if stderr.trim().is_empty() {
            failures.push(format!("{case:?}: exit 2 but nothing on stderr"));
        }
    }
    // a bad --addr value
    let (code, stderr, exited) = run_to_exit(
        demo,
        &["--memory", "--secret", SECRET, "--addr", "not-an-address"],
        Duration::from_secs(5),
    )
    .await;
    if !exited || code != Some(2) || stderr.trim().is_empty() {
        failures.push(format!(
            "[\"--addr\", \"not-an-address\"]: exited {exited}, code {code:?}, stderr {stderr:?}"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} bad-flag cases misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

scenarios!(
    attribute_flags,
    same_site_none_and_lax,
    secure_flag,
    cookie_path_scope,
    expires_follows_max_age_and_absolute_end,
    bad_flags_exit_2,
);
