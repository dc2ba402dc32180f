//! Reads and writes of session data: `/counter` (alone and in concurrent
//! bursts), `/read`, `PUT` and `DELETE /session/{key}`.

use super::{VClient, KEYS};
use crate::books::{KeyExp, Sess};
use crate::http::Ck;
use crate::stats::Stats;
use reqwest::Method;
use std::time::Instant;

impl VClient {
    /// `GET /counter`: increments `n` and answers it.
    pub(super) async fn counter(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        s.n_hi += 1;
        let Some(r) = ctl
            .req_on(
                &mut s,
                Method::GET,
                "/counter",
                "GET /counter",
                None,
                &[200],
            )
            .await
        else {
            return Some(s);
        };
        let Ok(v) = r.body.trim().parse::<i64>() else {
            ctl.unexpected_on(&mut s, &r, "GET /counter (not an integer)");
            return Some(s);
        };
        match r.ck(&s.id) {
            Ck::Other(c) => {
                s.n_hi -= 1;
                let mut n = ctl.successor(&mut s, c, &r, "GET /counter");
                n.n_lo = v;
                n.n_hi = v;
                n.n_acked = true;
                Some(n)
            }
            Ck::Cleared => {
                ctl.unexpected(&r, "GET /counter (cleared the cookie)", Some(&s));
                None
            }
            ck => {
                let mut st = ctl.stats();
                if matches!(ck, Ck::Nothing) {
                    st.missing_cookie += 1;
                }
                check_increment(&mut st, v, s.n_lo, &s, "GET /counter");
                drop(st);
                s.n_lo = v;
                s.n_hi = v;
                s.n_acked = true;
                s.last_write = Some(r.sent);
                s.touch(&r);
                Some(s)
            }
        }
    }

    /// `GET /read`: answers `n` without writing.
    pub(super) async fn read(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let Some(r) = ctl
            .req_on(&mut s, Method::GET, "/read", "GET /read", None, &[200])
            .await
        else {
            return Some(s);
        };
        let v = r.body.trim().parse::<i64>().ok();
        match (r.ck(&s.id), v) {
            (Ck::Same, Some(v)) if (s.n_lo..=s.n_hi).contains(&v) => {
                if s.n_acked && s.n_lo > 0 {
                    ctl.stats().acked_checked += 1;
                }
                s.n_lo = v;
                s.n_hi = v;
                s.touch(&r);
                Some(s)
            }
            // Anything else (a value out of range, no cookie: maybe gone)
            // is settled by the full view.
            _ => ctl.resolve(s, "GET /read then GET /session").await,
        }
    }

    /// `PUT /session/{key}` with a fresh value.
    pub(super) async fn put(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let key = KEYS[self.rng.below(4) as usize];
        let val = self.value();
        let Some(r) = ctl
            .req_on(
                &mut s,
                Method::PUT,
                &format!("/session/{key}"),
                "PUT /session/{key}",
                Some(val.to_string()),
                &[204],
            )
            .await
        else {
            // It may have been applied: the old value or the new one.
            s.keys
                .entry(key.to_string())
                .or_insert(KeyExp {
                    ok: vec![None],
                    acked: false,
                })
                .ok
                .push(Some(val));
            return Some(s);
        };
        match r.ck(&s.id) {
            Ck::Other(c) => {
                let mut n = ctl.successor(&mut s, c, &r, "PUT /session/{key}");
                n.keys.insert(
                    key.to_string(),
                    KeyExp {
                        ok: vec![Some(val)],
                        acked: true,
                    },
                );
                Some(n)
            }
            Ck::Cleared => {
                ctl.unexpected(&r, "PUT /session/{key} (cleared the cookie)", Some(&s));
                None
            }
            ck => {
                if matches!(ck, Ck::Nothing) {
                    ctl.stats().missing_cookie += 1;
                }
                s.keys.insert(
                    key.to_string(),
                    KeyExp {
                        ok: vec![Some(val)],
                        acked: true,
                    },
                );
                s.last_write = Some(r.sent);
                s.touch(&r);
                Some(s)
            }
        }
    }

    /// `DELETE /session/{key}`.
    pub(super) async fn delete(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let key = KEYS[self.rng.below(4) as usize];
        // Deleting an absent key changes nothing, so it is no write.
        let is_write = s.keys.get(key).is_some_and(|e| !e.ok.contains(&None));
        // It may have been applied: the key may be absent.
        let uncertain = |s: &mut Sess| {
            if let Some(e) = s.keys.get_mut(key) {
                if !e.ok.contains(&None) {
                    e.ok.push(None);
                }
            }
        };
        let Some(r) = ctl
            .req_on(
                &mut s,
                Method::DELETE,
                &format!("/session/{key}"),
                "DELETE /session/{key}",
                None,
                &[204],
            )
            .await
        else {
            uncertain(&mut s);
            return Some(s);
        };
        match r.ck(&s.id) {
            Ck::Same => {
                if let Some(e) = s.keys.get_mut(key) {
                    e.ok = vec![None];
                    e.acked = true;
                }
                if is_write {
                    s.last_write = Some(r.sent);
                }
                s.touch(&r);
                Some(s)
            }
            // Rolling sends the cookie; when ours is gone the answer has none
            // or clears it: settle that by the full view.
            Ck::Nothing | Ck::Cleared => {
                uncertain(&mut s);
                ctl.resolve(s, "DELETE then GET /session").await
            }
            Ck::Other(_) => {
                ctl.unexpected(&r, "DELETE /session/{key} (new cookie)", Some(&s));
                None
            }
        }
    }

    /// Two to five concurrent `GET /counter` on one session: no increment
    /// may be lost or answered twice.
    pub(super) async fn burst(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let k = 2 + self.rng.below(4) as i64;
        let lo0 = s.n_lo;
        s.n_hi += k;
        let started = Instant::now();
        let kills0 = ctl.kills();
        let reqs = (0..k).map(|_| {
            ctl.req(
                Method::GET,
                "/counter",
                "GET /counter",
                Some(&s.cookie),
                None,
            )
        });
        let results = futures::future::join_all(reqs).await;
        for res in &results {
            s.note("GET /counter (burst)", res);
        }
        let mut acks = Vec::new();
        let mut gone_at = None;
        let mut last_done = started;
        for res in &results {
            match res {
                Ok(r) => {
                    last_done = last_done.max(r.done);
                    if r.status != 200 {
                        ctl.unexpected(r, "GET /counter (burst)", Some(&s));
                        continue;
                    }
                    match (r.ck(&s.id), r.body.trim().parse::<i64>()) {
                        (Ck::Same | Ck::Nothing, Ok(v)) => acks.push(v),
                        (Ck::Other(_), _) => gone_at = Some((r.sent, r.done)),
                        _ => ctl.unexpected(r, "GET /counter (burst)", Some(&s)),
                    }
                }
                Err(f) => last_done = last_done.max(f.done),
            }
        }
        if let Some((sent, done)) = gone_at {
            ctl.gone(&s, sent, done, "GET /counter (burst)");
            return None;
        }
        s.last_any = s.last_any.max(last_done);
        if results.iter().any(|r| r.is_err()) {
            ctl.after_err().await;
        }
        let mut sorted = acks.clone();
        sorted.sort();
        sorted.dedup();
        {
            let mut st = ctl.stats();
            if sorted.len() != acks.len() {
                st.lost_writes += 1;
                st.fail(format!(
                    "LOST UPDATE (concurrent /counter on {}): two 200 answers carried the same value: {acks:?}",
                    s.id
                ));
            }
            for &v in &acks {
                check_increment(&mut st, v, lo0, &s, "concurrent /counter");
            }
        }
        if let Some(&max) = sorted.last() {
            s.n_lo = s.n_lo.max(max);
            s.n_acked = true;
            s.last_write = Some(started);
            if ctl.kills() == kills0 {
                s.last_ok = started;
                s.kills_at_last_ok = kills0;
            }
        }
        if acks.len() as i64 == k {
            // All k acknowledged: the largest answer is the state after them
            // (an earlier unacknowledged increment, if applied, is in it).
            s.n_hi = s.n_lo;
        }
        Some(s)
    }
}

/// Checks `v`, an answer of `GET /counter` (`via`) on `s`: above `lo` (the
/// value acknowledged before it was sent: lower is a lost write) and at most
/// `s.n_hi` (higher is a phantom increment).
fn check_increment(st: &mut Stats, v: i64, lo: i64, s: &Sess, via: &str) {
    if v <= lo {
        st.lost_writes += 1;
        st.fail(format!(
            "LOST WRITE ({via}): answered {v}, acknowledged {lo} before ({})",
            s.describe()
        ));
    } else if v > s.n_hi {
        st.phantom += 1;
        st.fail(format!(
            "PHANTOM INCREMENT ({via}): answered {v} > at most {} ({})",
            s.n_hi,
            s.describe()
        ));
    }
}
