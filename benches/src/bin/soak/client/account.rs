//! Requests that bind, end or replace a session: `/me`, `/login`,
//! `/logout`, `/regenerate` and revoking a user's sessions.

use super::VClient;
use crate::books::{short_id, KeyExp, Sess};
use crate::clock::since_start;
use crate::http::{Ck, SetCk};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

impl VClient {
    /// `GET /me`: the user bound at login, or 401.
    pub(super) async fn me(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let Some(r) = ctl
            .req_on(&mut s, Method::GET, "/me", "GET /me", None, &[200, 401])
            .await
        else {
            return Some(s);
        };
        let seen = match r.status {
            200 => r.json().and_then(|v| v["user"].as_str().map(String::from)),
            _ => None, // 401: not bound
        };
        if seen == s.user && matches!(r.ck(&s.id), Ck::Same) {
            if s.user.is_some() {
                ctl.stats().acked_checked += 1;
            }
            s.touch(&r);
            return Some(s);
        }
        // Gone, or the binding is wrong: the full view tells which.
        let expected = s.user.clone();
        let s = ctl.resolve(s, "GET /me then GET /session").await?;
        if seen != expected {
            let mut st = ctl.stats();
            if expected.is_some() {
                st.lost_writes += 1;
                st.fail(format!(
                    "LOST BINDING: /me answered {} {:?} for a live session bound to {expected:?} ({})",
                    r.status,
                    r.body,
                    s.describe()
                ));
            } else {
                st.mismatches += 1;
                st.fail(format!(
                    "UNEXPECTED BINDING: /me answered {:?} for an unbound session ({})",
                    r.body,
                    s.describe()
                ));
            }
        }
        Some(s)
    }

    /// POST /login, on `s` (its id is regenerated away) or on no session.
    pub(super) async fn login(&mut self, s: Option<Sess>) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let user = self.users[self.rng.below(2) as usize].clone();
        let res = ctl
            .req(
                Method::POST,
                "/login",
                "POST /login",
                s.as_ref().map(|s| s.cookie.as_str()),
                Some(json!({ "user": user }).to_string()),
            )
            .await;
        let Some(r) = ctl.expect(res, 204, "POST /login", s.as_ref()).await else {
            // Did it happen? Unknown: stop tracking this session.
            ctl.stats().abandoned += u64::from(s.is_some());
            return None;
        };
        let ck = match &s {
            Some(s) => r.ck(&s.id),
            None => match &r.set {
                Some(SetCk::Value(v)) => Ck::Other(v.clone()),
                _ => Ck::Nothing,
            },
        };
        let Ck::Other(c) = ck else {
            ctl.unexpected(&r, "POST /login (no new id)", s.as_ref());
            return None;
        };
        if let Some(old) = &s {
            let d = ctl.push_dead(old, "login", r.done);
            ctl.check_dead(&d, "right after login").await;
        }
        let mut n = Sess::new(c, &r);
        if let Some(old) = &s {
            n.hist = old.hist.clone();
        }
        n.note_str(format!(
            "{:>8.3}s..{:.3}s kills={} POST /login as {user} on {} -> 204 (now {})",
            since_start(r.sent),
            since_start(r.done),
            r.kills_at_sent,
            s.as_ref().map_or("no session", |o| short_id(&o.id)),
            short_id(&n.id)
        ));
        n.keys.insert(
            "user".into(),
            KeyExp {
                ok: vec![Some(Value::String(user.clone()))],
                acked: true,
            },
        );
        n.user = Some(user);
        let mut st = ctl.stats();
        st.logins += 1;
        st.sessions_created += 1;
        Some(n)
    }

    /// `POST /logout` (retried while the server restarts): the id ends.
    pub(super) async fn logout(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        for attempt in 0..10 {
            match ctl
                .req(
                    Method::POST,
                    "/logout",
                    "POST /logout",
                    Some(&s.cookie),
                    None,
                )
                .await
            {
                Ok(r) if r.status == 204 => {
                    if !matches!(r.set, Some(SetCk::Clear)) {
                        let mut st = ctl.stats();
                        st.mismatches += 1;
                        st.fail(format!("POST /logout did not clear the cookie of {}", s.id));
                    }
                    let d = ctl.push_dead(&s, "logout", r.done);
                    ctl.stats().logouts += 1;
                    ctl.check_dead(&d, "right after logout").await;
                    return None;
                }
                Ok(r) => {
                    ctl.unexpected(&r, "POST /logout", Some(&s));
                    if r.status < 500 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(f) => {
                    s.last_any = s.last_any.max(f.done);
                    // Retried: a logout that happened makes the retry a no-op.
                    if attempt == 9 || !ctl.wait_up().await {
                        break;
                    }
                }
            }
        }
        ctl.stats().abandoned += 1;
        None
    }

    /// `POST /regenerate?keep=...`: a new id with some of the keys.
    pub(super) async fn regenerate(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let mut keep: Vec<&str> = ["n", "k0", "k1", "k2", "k3", "user"]
            .into_iter()
            .filter(|_| self.rng.chance(0.4))
            .collect();
        if keep.is_empty() && self.rng.chance(0.5) {
            keep.push("k0");
        }
        let path = format!("/regenerate?keep={}", keep.join(","));
        let res = ctl
            .req(
                Method::POST,
                &path,
                "POST /regenerate",
                Some(&s.cookie),
                None,
            )
            .await;
        s.note("POST /regenerate", &res);
        let Some(r) = ctl.expect(res, 204, "POST /regenerate", Some(&s)).await else {
            ctl.stats().abandoned += 1;
            return None;
        };
        let Ck::Other(c) = r.ck(&s.id) else {
            ctl.unexpected(&r, "POST /regenerate (no new id)", Some(&s));
            let d = ctl.push_dead(&s, "regenerate", r.done);
            ctl.check_dead(&d, "right after regenerate").await;
            return None;
        };
        let d = ctl.push_dead(&s, "regenerate", r.done);
        ctl.check_dead(&d, "right after regenerate").await;
        let mut n = Sess::new(c, &r);
        n.hist = std::mem::take(&mut s.hist);
        n.note_str(format!(
            "          (now {}: regenerated from {} keeping {keep:?})",
            short_id(&n.id),
            short_id(&s.id)
        ));
        n.user = s.user.clone();
        if keep.contains(&"n") {
            n.n_lo = s.n_lo;
            n.n_hi = s.n_hi;
            n.n_acked = s.n_acked;
        }
        for (k, e) in &s.keys {
            if keep.contains(&k.as_str()) {
                n.keys.insert(k.clone(), e.clone());
            }
        }
        ctl.stats().regenerated += 1;
        if ctl.certainly_alive(&s, r.done) {
            return Some(n);
        }
        // The old session may have expired before the regenerate: then the
        // new one starts empty and unbound. Widen the books, then settle
        // them by reading the new session back.
        n.n_lo = 0;
        n.n_acked = false;
        for e in n.keys.values_mut() {
            if !e.ok.contains(&None) {
                e.ok.push(None);
            }
            e.acked = false;
        }
        let mut n = ctl
            .resolve(n, "GET /session after regenerating a maybe expired session")
            .await?;
        let res = ctl
            .req(Method::GET, "/me", "GET /me", Some(&n.cookie), None)
            .await;
        n.note("GET /me", &res);
        match res {
            Ok(r) if r.status == 200 => {
                n.user = r.json().and_then(|v| v["user"].as_str().map(String::from));
                n.touch(&r);
                Some(n)
            }
            Ok(r) if r.status == 401 => {
                n.user = None;
                n.touch(&r);
                Some(n)
            }
            _ => {
                ctl.stats().abandoned += 1;
                None
            }
        }
    }

    /// `POST /users/{user}/revoke`: every session bound to `user` ends.
    pub(super) async fn revoke(&mut self, user: &str) {
        let ctl = self.ctl.clone();
        let path = format!("/users/{user}/revoke");
        let mut answer = None;
        for _ in 0..10 {
            match ctl
                .req(Method::POST, &path, "POST /users/{u}/revoke", None, None)
                .await
            {
                Ok(r) if r.status == 200 => {
                    answer = Some(r);
                    break;
                }
                Ok(r) => {
                    ctl.unexpected(&r, "POST /users/{u}/revoke", None);
                    if r.status < 500 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(_) => {
                    if !ctl.wait_up().await {
                        break;
                    }
                }
            }
        }
        let (bound, rest): (Vec<Sess>, Vec<Sess>) = std::mem::take(&mut self.sessions)
            .into_iter()
            .partition(|s| s.user.as_deref() == Some(user));
        self.sessions = rest;
        let Some(r) = answer else {
            // Unknown outcome: those sessions are no longer tracked.
            ctl.stats().abandoned += bound.len() as u64;
            return;
        };
        let n = r.json().and_then(|v| v["revoked"].as_i64());
        let must = bound
            .iter()
            .filter(|s| ctl.certainly_alive(s, r.done))
            .count() as i64;
        {
            let mut st = ctl.stats();
            st.revoked_sessions += bound.len() as u64;
            match n {
                Some(n) if n >= must => {}
                _ => {
                    st.revoke_short += 1;
                    st.fail(format!(
                        "POST {path} answered {:?} but {must} sessions bound to {user} were certainly live",
                        r.body
                    ));
                }
            }
        }
        let mut dead = Vec::new();
        for s in &bound {
            dead.push(ctl.push_dead(s, "revoke", r.done));
        }
        for d in dead.iter().take(3) {
            ctl.check_dead(d, "right after revoke").await;
        }
    }
}
