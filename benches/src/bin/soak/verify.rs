//! Checking what the server answers against the books: lost writes and
//! sessions, resurrected ids, expired data served.

use crate::books::{short_id, show, Dead, KeyExp, Sess};
use crate::clock::secs;
use crate::ctl::Ctl;
use crate::http::Resp;
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// Slack for request latency and clock granularity in the expiry rules.
const MARGIN: Duration = Duration::from_secs(2);

impl Ctl {
    /// Must this session still exist at `t` (whatever the server did)?
    pub fn certainly_alive(&self, s: &Sess, t: Instant) -> bool {
        let m = self.max_age;
        s.last_write.is_some_and(|w| t + MARGIN < w + m)
            || (self.kills() == s.kills_at_last_ok && t + MARGIN < s.last_ok + m)
    }

    /// Must this session have expired by `t` (sent time of a request)?
    pub fn certainly_dead(&self, s: &Sess, t: Instant) -> bool {
        t > s.last_any + self.max_age + MARGIN
    }

    /// Books `s` as ended (it must never serve data again).
    pub fn push_dead(&self, s: &Sess, reason: &'static str, at: Instant) -> Dead {
        let d = Dead {
            cookie: s.cookie.clone(),
            id: s.id.clone(),
            reason,
            died: at,
            bound: s.user.is_some(),
        };
        self.dead.lock().unwrap().push(d.clone());
        d
    }

    /// The server no longer knows `s` (observed by a request sent at `sent`
    /// and answered at `done`).
    pub fn gone(&self, s: &Sess, sent: Instant, done: Instant, via: &str) {
        let now_kills = self.kills();
        let mut st = self.stats();
        if self.certainly_alive(s, done) {
            st.lost_sessions += 1;
            st.lost_writes += s.acked_count() as u64;
            let msg = format!(
                "LOST SESSION (seen by {via}): last answered request sent {:.1}s before, \
                 kills since then {}, last acknowledged write {:?}s before; expected {}",
                secs(done - s.last_ok),
                now_kills - s.kills_at_last_ok,
                s.last_write.map(|w| (secs(done - w) * 10.0).round() / 10.0),
                s.describe()
            );
            st.fail(msg);
            return;
        }
        drop(st);
        let dead = self.certainly_dead(s, sent);
        self.push_dead(s, if dead { "expired" } else { "gone" }, done);
        let mut st = self.stats();
        if dead {
            st.expired_ok += 1;
        } else {
            st.gone_ambiguous += 1;
            st.gone_ambiguous_idle.push(secs(done - s.last_ok));
        }
        if now_kills == s.kills_at_last_ok {
            // No kill since it was last used: the server's own idle clock
            // ended it, which takes the whole max age.
            st.gone_no_kill_idle.push(secs(done - s.last_ok));
        }
    }

    /// The answer `r` to a request on `s` set a new id (cookie `c`): the
    /// server no longer knew `s`. Books it as [`Ctl::gone`] and returns the
    /// new session, which takes over its history.
    pub fn successor(&self, s: &mut Sess, c: String, r: &Resp, via: &str) -> Sess {
        self.gone(s, r.sent, r.done, via);
        let mut n = Sess::new(c, r);
        n.hist = std::mem::take(&mut s.hist);
        n.note_str(format!(
            "          (now {}: the old id was gone)",
            short_id(&n.id)
        ));
        self.stats().sessions_created += 1;
        n
    }

    /// Compares the server's data for `s` with the books, then narrows the
    /// books to what was seen. False on any difference.
    pub fn check_data(&self, s: &mut Sess, data: &Map<String, Value>, r: &Resp, via: &str) -> bool {
        let mut st = self.stats();
        let mut ok = true;
        if self.certainly_dead(s, r.sent) {
            st.expired_served += 1;
            st.fail(format!(
                "EXPIRED SESSION SERVED ({via}): last request on it ended {:.1}s before \
                 (max age {:.0}s): {}",
                secs(r.sent - s.last_any),
                secs(self.max_age),
                s.describe()
            ));
            ok = false;
        }
        match data.get("n").map_or(Some(0), |v| v.as_i64()) {
            None => {
                st.mismatches += 1;
                st.fail(format!(
                    "{via}: n is not an integer: {data:?} ({})",
                    s.describe()
                ));
                ok = false;
            }
            Some(v) => {
                if s.n_acked && s.n_lo > 0 {
                    st.acked_checked += 1;
                }
                if v < s.n_lo {
                    st.lost_writes += 1;
                    st.fail(format!(
                        "LOST WRITE ({via}): n = {v}, acknowledged {} ({})",
                        s.n_lo,
                        s.describe()
                    ));
                    ok = false;
                } else if v > s.n_hi {
                    st.phantom += 1;
                    st.fail(format!(
                        "PHANTOM INCREMENT ({via}): n = {v} > at most {} ({})",
                        s.n_hi,
                        s.describe()
                    ));
                    ok = false;
                }
                s.n_lo = v;
                s.n_hi = v;
            }
        }
        let mut bad = Vec::new();
        for (k, e) in s.keys.iter_mut() {
            let seen = data.get(k).cloned();
            if e.acked {
                st.acked_checked += 1;
            }
            if !e.ok.contains(&seen) {
                bad.push((k.clone(), e.clone(), seen.clone()));
            }
            e.ok = vec![seen];
        }
        for (k, e, seen) in bad {
            ok = false;
            if e.acked {
                st.lost_writes += 1;
                st.fail(format!(
                    "LOST WRITE ({via}): session {} key {k} = {}, expected one of {}",
                    s.id,
                    show(&[seen]),
                    show(&e.ok)
                ));
            } else {
                st.mismatches += 1;
                st.fail(format!(
                    "DATA MISMATCH ({via}): session {} key {k} = {}, expected one of {}",
                    s.id,
                    show(&[seen]),
                    show(&e.ok)
                ));
            }
        }
        for (k, v) in data {
            if k != "n" && !s.keys.contains_key(k) {
                st.mismatches += 1;
                st.fail(format!(
                    "UNEXPECTED KEY ({via}): session {} has {k} = {v}",
                    s.id
                ));
                ok = false;
                s.keys.insert(
                    k.clone(),
                    KeyExp {
                        ok: vec![Some(v.clone())],
                        acked: false,
                    },
                );
            }
        }
        ok
    }

    /// GET /session for `s`: checks its data when present; None when it is
    /// gone (classified) — Some(s) otherwise (also on errors).
    pub async fn resolve(&self, mut s: Sess, via: &str) -> Option<Sess> {
        let Some(r) = self
            .req_on(
                &mut s,
                Method::GET,
                "/session",
                "GET /session",
                None,
                &[200],
            )
            .await
        else {
            return Some(s);
        };
        let Some(v) = r.json() else {
            self.unexpected_on(&mut s, &r, "GET /session (not JSON)");
            return Some(s);
        };
        let empty = Map::new();
        let data = v["data"].as_object().unwrap_or(&empty);
        if v["id"].as_str() == Some(s.id.as_str()) {
            self.check_data(&mut s, data, &r, via);
            s.touch(&r);
            Some(s)
        } else {
            if !data.is_empty() {
                let mut st = self.stats();
                st.mismatches += 1;
                st.fail(format!(
                    "GET /session for {} answered id {} with data {data:?}",
                    s.id, v["id"]
                ));
            }
            self.gone(&s, r.sent, r.done, via);
            None
        }
    }

    /// An ended id must get a fresh session: `/session` id null or another
    /// id with no data, and (when it was bound) `/me` 401.
    pub async fn check_dead(&self, d: &Dead, when: &str) {
        let Ok(r) = self
            .req(
                Method::GET,
                "/session",
                "GET /session (ended id)",
                Some(&d.cookie),
                None,
            )
            .await
        else {
            return;
        };
        if r.status != 200 {
            self.unexpected(&r, "GET /session (ended id)", None);
            return;
        }
        let v = r.json().unwrap_or(Value::Null);
        let back = v["id"].as_str() == Some(d.id.as_str())
            || v["data"].as_object().is_none_or(|m| !m.is_empty());
        let mut me_back = false;
        if d.bound {
            if let Ok(m) = self
                .req(
                    Method::GET,
                    "/me",
                    "GET /me (ended id)",
                    Some(&d.cookie),
                    None,
                )
                .await
            {
                me_back = m.status != 401;
            }
        }
        let mut st = self.stats();
        st.dead_checks += 1;
        if back || me_back {
            st.resurrections += 1;
            st.fail(format!(
                "RESURRECTION ({when}): id {} ended ({}) {:.1}s before came back: /session {} {}{}",
                d.id,
                d.reason,
                secs(r.done - d.died),
                r.status,
                r.body,
                if me_back { " and /me answered" } else { "" }
            ));
        }
    }

    /// [`Ctl::check_dead`] on each, 16 at a time.
    pub async fn check_dead_many(&self, list: Vec<Dead>, when: &str) {
        stream::iter(list)
            .for_each_concurrent(16, |d| async move { self.check_dead(&d, when).await })
            .await;
    }
}
