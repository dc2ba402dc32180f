//! Graceful restarts: SIGTERM/SIGINT exit 0 and keep every session; secret
//! rotation across a restart; the generated secret is kept in the data dir.

use serde_json::json;

use crate::common::*;

/// SIGTERM -> exit 0 -> start again with the same dir and secret: data,
/// counters and logins are there.
async fn sigterm_restart_keeps_data(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo.start(Cfg::durable(dir.path())).await;
    let mut a = srv.agent();
    for _ in 0..3 {
        a.counter().await;
    }
    a.put("obj", r#"{"x": [1, 2, 3]}"#).await;
    let ca = a.cookie.clone().unwrap();
    let ida = a.id();
    let mut b = srv.agent();
    b.login("bob").await;
    let cb = b.cookie.clone().unwrap();
    let mut c = srv.agent();
    c.put("k", r#""v""#).await;
    let cc = c.cookie.clone().unwrap();
    c.post("/logout").await.expect(204);
    let mut d = srv.agent();
    d.put("k", "1").await;
    let cd_old = d.cookie.clone().unwrap();
    d.post("/regenerate?keep=k").await.expect(204);
    let cd_new = d.cookie.clone().unwrap();
    let forged = srv.forge(SECRET, &random_id());
    let mut e = srv.agent();
    e.login("eve").await;
    let ce = e.cookie.clone().unwrap();
    let r = srv
        .send(reqwest::Method::POST, "/users/eve/revoke", None, None, &[])
        .await;
    assert_eq!(r.json(), json!({"revoked": 1}), "{r:?}");
    drop((a, b, c, d, e));
    srv.stop().await;

    let srv = srv.restart().await;
    let mut a = srv.agent_with(&ca);
    assert_eq!(
        a.session().await,
        json!({"id": ida, "data": {"n": 3, "obj": {"x": [1, 2, 3]}}})
    );
    assert_eq!(a.counter().await, 4);
    let mut b = srv.agent_with(&cb);
    assert_eq!(b.me().await.as_deref(), Some("bob"));
    let mut c = srv.agent_with(&cc);
    assert_eq!(
        c.session().await,
        json!({"id": null, "data": {}}),
        "logged-out id came back"
    );
    let mut f = srv.agent_with(&forged);
    assert_eq!(f.read().await, 0);
    let mut d_old = srv.agent_with(&cd_old);
    assert_eq!(d_old.session().await, json!({"id": null, "data": {}}));
    let mut d = srv.agent_with(&cd_new);
    assert_eq!(d.session().await["data"], json!({"k": 1}));
    let mut e = srv.agent_with(&ce);
    assert_eq!(
        e.me().await,
        None,
        "a revoked session came back after SIGTERM"
    );
}

/// SIGINT behaves like SIGTERM.
async fn sigint_restart_keeps_data(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo.start(Cfg::durable(dir.path())).await;
    let mut a = srv.agent();
    a.counter().await;
    a.counter().await;
    let cookie = a.cookie.clone().unwrap();
    drop(a);
    srv.stop_with(libc::SIGINT).await;
    let srv = srv.restart().await;
    let mut a = srv.agent_with(&cookie);
    assert_eq!(a.read().await, 2);
}

/// `--durability periodic`: a graceful stop still persists everything.
async fn periodic_durability_graceful_stop(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo
        .start(Cfg::durable(dir.path()).args(&["--durability", "periodic"]))
        .await;
    let mut agents = Vec::new();
    for i in 0..10 {
        let mut a = srv.agent();
        for _ in 0..=i {
            a.counter().await;
        }
        agents.push(a.cookie.clone().unwrap());
    }
    srv.stop().await;
    let srv = srv.restart().await;
    for (i, c) in agents.iter().enumerate() {
        let mut a = srv.agent_with(c);
        assert_eq!(
            a.read().await,
            i as i64 + 1,
            "session {i} lost on graceful stop"
        );
    }
}

/// Start with `--secret A`; restart with `--secret B --secret A`: the
/// A-signed cookie works and is re-signed with B; restart with only B: the
/// re-signed cookie works, the A-signed one is a fresh session.
async fn secret_rotation_across_restart(demo: Demo) {
    let (a_secret, b_secret) = (OLD_SECRET, SECRET);
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo
        .start(Cfg::durable(dir.path()).secrets(&[a_secret]))
        .await;
    let mut ag = srv.agent();
    ag.counter().await;
    let id = ag.id();
    let signed_a = ag.cookie.clone().unwrap();
    assert_eq!(percent_decode(&signed_a), sign(a_secret, &id));
    srv.stop().await;

    let mut cfg = srv.cfg.clone();
    cfg.secrets = vec![b_secret.into(), a_secret.into()];
    drop(srv);
    let mut srv = demo.start(cfg.clone()).await;
    let mut ag = srv.agent_with(&signed_a);
    let r = ag.get("/read").await;
    r.expect_body(200, "1");
    let re = r
        .session_cookie()
        .unwrap_or_else(|| panic!("A-signed cookie not re-signed after rotation: {r:?}"));
    assert_eq!(
        re.decoded(),
        sign(b_secret, &id),
        "not re-signed with the first secret"
    );
    assert_eq!(ag.counter().await, 2);
    let signed_b = ag.cookie.clone().unwrap();
    srv.stop().await;

    cfg.secrets = vec![b_secret.into()];
    let srv = demo.start(cfg).await;
    let mut ag = srv.agent_with(&signed_b);
    assert_eq!(ag.read().await, 2);
    let mut old = srv.agent_with(&signed_a);
    assert_eq!(
        old.session().await,
        json!({"id": null, "data": {}}),
        "a retired secret still verifies"
    );
}

/// With neither `--secret` nor `LIVESESSION_SECRET`, the demo makes a random
/// secret, keeps it in the data dir and says so on stderr: cookies survive
/// a restart.
async fn generated_secret_is_kept(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo.start(Cfg::durable(dir.path()).secrets(&[])).await;
    assert!(
        srv.log().to_ascii_lowercase().contains("secret"),
        "no word about the generated secret on stderr:\n{}",
        srv.log()
    );
    let mut a = srv.agent();
    a.counter().await;
    let c = a.cookie.clone().unwrap();
    check_shape(&c, "").unwrap();
    assert!(
        !verify(SECRET, &a.id(), &split_value(&c, "").unwrap().sig),
        "the generated secret is the suite's secret?"
    );
    srv.stop().await;
    let srv = srv.restart().await;
    let mut a = srv.agent_with(&c);
    assert_eq!(a.read().await, 1, "the generated secret was not kept");
    let r = a.get("/counter").await;
    r.expect_body(200, "2");
    assert_eq!(r.must_cookie().value, c, "signature changed across restart");
}

scenarios!(
    sigterm_restart_keeps_data,
    sigint_restart_keeps_data,
    periodic_durability_graceful_stop,
    secret_rotation_across_restart,
    generated_secret_is_kept,
);
