//! Secrets: rotation (first signs, all verify, old signatures re-signed),
//! unknown secrets, `LIVESESSION_SECRET`.

use serde_json::json;

use crate::common::*;

/// `--secret NEW --secret OLD`: cookies are signed with NEW; a server-made
/// id signed with OLD (by the independent signer) still works and the
/// response re-signs it with NEW; the same id signed with a secret the
/// server does not know gets a fresh session.
async fn rotation_old_secret_still_verifies(demo: Demo) {
    let srv = demo
        .start(Cfg::memory().secrets(&[SECRET, OLD_SECRET]))
        .await;
    let mut a = srv.agent();
    a.counter().await;
    let c = a.cookie.clone().unwrap();
    let id = a.id();
    assert_eq!(
        percent_decode(&c),
        sign(SECRET, &id),
        "not signed with the first secret"
    );

    // old-secret cookie: works, and is re-signed with the first secret
    let mut old = srv.agent_with(&sign(OLD_SECRET, &id));
    let r = old.get("/read").await;
    r.expect_body(200, "1");
    let re = r
        .session_cookie()
        .unwrap_or_else(|| panic!("old-secret cookie was not re-signed: {r:?}"));
    assert_eq!(
        re.decoded(),
        sign(SECRET, &id),
        "re-signed with the wrong secret"
    );
    let mut old = srv.agent_with(&sign(OLD_SECRET, &id));
    assert_eq!(old.counter().await, 2);
    assert_eq!(
        percent_decode(old.cookie.as_ref().unwrap()),
        sign(SECRET, &id)
    );

    // unknown secret: fresh session
    let mut bad = srv.agent_with(&sign(UNKNOWN_SECRET, &id));
    assert_eq!(bad.session().await, json!({"id": null, "data": {}}));
    let mut bad = srv.agent_with(&sign(UNKNOWN_SECRET, &id));
    assert_eq!(bad.counter().await, 1);
    assert_ne!(bad.id(), id);
    assert_eq!(a.read().await, 2);
}

/// With `--rolling false` an old-secret cookie is still re-sent (it must be
/// re-signed), even on a read. (@fastify/session would *clear* it under
/// saveUninitialized false; the contract says re-sign.)
async fn rotation_resigns_even_without_rolling(demo: Demo) {
    let srv = demo
        .start(
            Cfg::memory()
                .secrets(&[SECRET, OLD_SECRET])
                .args(&["--rolling", "false"]),
        )
        .await;
    let mut a = srv.agent();
    a.counter().await;
    let id = a.id();
    let mut old = srv.agent_with(&sign(OLD_SECRET, &id));
    let r = old.get("/read").await;
    r.expect_body(200, "1");
    assert!(
        r.clear_cookie().is_none(),
        "old-secret cookie was cleared: {r:?}"
    );
    let re = r
        .session_cookie()
        .unwrap_or_else(|| panic!("--rolling false: old-secret cookie not re-signed: {r:?}"));
    assert_eq!(re.decoded(), sign(SECRET, &id));
    // the current-secret cookie on a read: nothing sent
    a.get("/read")
        .await
        .expect_body(200, "1")
        .expect_no_cookie();
}

/// `LIVESESSION_SECRET` (comma-separated) without `--secret`: the first
/// signs, the others verify.
async fn secret_from_environment(demo: Demo) {
    let env = format!("{SECRET},{OLD_SECRET}");
    let mut cfg = Cfg::memory().env("LIVESESSION_SECRET", &env);
    cfg.secrets.clear();
    let srv = demo.start(cfg).await;
    let mut a = srv.agent();
    a.counter().await;
    let id = a.id();
    assert_eq!(
        percent_decode(a.cookie.as_ref().unwrap()),
        sign(SECRET, &id),
        "not signed with the first secret of LIVESESSION_SECRET"
    );
    let mut old = srv.agent_with(&sign(OLD_SECRET, &id));
    assert_eq!(old.counter().await, 2, "second env secret does not verify");
    assert_eq!(
        percent_decode(old.cookie.as_ref().unwrap()),
        sign(SECRET, &id)
    );
    let mut bad = srv.agent_with(&sign(UNKNOWN_SECRET, &id));
    assert_eq!(bad.read().await, 0);
    drop(srv);

    // --secret wins over the environment for signing
    let cfg = Cfg::memory()
        .secrets(&[OLD_SECRET])
        .env("LIVESESSION_SECRET", UNKNOWN_SECRET);
    let srv = demo.start(cfg).await;
    let mut a = srv.agent();
    a.counter().await;
    let id = a.id();
    assert_eq!(
        percent_decode(a.cookie.as_ref().unwrap()),
        sign(OLD_SECRET, &id),
        "--secret must be used when given"
    );
}

scenarios!(
    rotation_old_secret_still_verifies,
    rotation_resigns_even_without_rolling,
    secret_from_environment,
);
