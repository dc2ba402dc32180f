//! Virtual clients: each owns a few sessions and sends a random mix of
//! requests on them until the load's deadline.

mod account;
mod data;

use crate::books::{KeyExp, Sess};
use crate::ctl::{record_stats, Ctl};
use crate::http::SetCk;
use crate::rng::Rng;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sessions one virtual client keeps at most (awake and parked).
const SESSION_CAP: usize = 24;
/// Upper bound on operations per virtual client (the deadline ends it first).
const MAX_OPS: u64 = 10_000_000;
/// The keys `PUT` and `DELETE /session/{key}` use.
const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];

/// One virtual client: owns its sessions and two user names; requests on a
/// session are serial except for deliberate `/counter` bursts.
pub struct VClient {
    pub ctl: Arc<Ctl>,
    /// Its number (in the values it writes and its user names).
    pub idx: usize,
    pub rng: Rng,
    pub sessions: Vec<Sess>,
    pub users: [String; 2],
    pub deadline: Instant,
}

impl VClient {
    /// Sends requests until the deadline; returns the sessions still tracked.
    pub async fn run(mut self) -> Vec<Sess> {
        let mut ops = 0u64;
        while Instant::now() < self.deadline && ops < MAX_OPS && !self.ctl.fatal.load(SeqCst) {
            ops += 1;
            let think = self.rng.below(2 * self.ctl.think_ms + 1);
            if think > 0 {
                tokio::time::sleep(Duration::from_millis(think)).await;
            }
            if !self.ctl.is_up() {
                if !self.ctl.wait_up().await {
                    break;
                }
                continue;
            }
            self.step().await;
        }
        self.sessions
    }

    /// One operation: revoke, `/stats`, a new session, or one on an awake
    /// session.
    async fn step(&mut self) {
        let r = self.rng.below(1000);
        if r < 3 {
            let u = self.users[self.rng.below(2) as usize].clone();
            return self.revoke(&u).await;
        }
        if r < 10 {
            return self.stats().await;
        }
        let now = Instant::now();
        let awake: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| self.sessions[i].wake_at <= now)
            .collect();
        if awake.is_empty() || (awake.len() < 4 && self.rng.chance(0.2)) {
            if self.sessions.len() < SESSION_CAP {
                return self.new_session().await;
            }
            if awake.is_empty() {
                let next = self.sessions.iter().map(|s| s.wake_at).min().unwrap();
                let until = next.min(self.deadline).min(now + Duration::from_secs(1));
                tokio::time::sleep_until(until.into()).await;
                return;
            }
        }
        let i = awake[self.rng.below(awake.len() as u64) as usize];
        let s = self.sessions.swap_remove(i);
        let kept = if s.expiry_park {
            self.expiry_probe(s).await
        } else {
            self.session_op(s).await
        };
        if let Some(s) = kept {
            self.sessions.push(s);
        }
    }

    /// A random operation on `s`; returns it while it is still tracked.
    async fn session_op(&mut self, mut s: Sess) -> Option<Sess> {
        // Weights out of 100.
        let w = self.rng.below(100);
        match w {
            0..=25 => self.counter(s).await,
            26..=36 => self.read(s).await,
            37..=45 => self.ctl.resolve(s, "GET /session").await,
            46..=59 => self.put(s).await,
            60..=62 => self.delete(s).await,
            63..=66 => self.burst(s).await,
            67..=72 => self.me(s).await,
            73..=75 => self.login(Some(s)).await,
            76..=78 => self.logout(s).await,
            79..=83 => self.regenerate(s).await,
            84..=91 => {
                // Idle past --passivate-after-ms: the next request reactivates it.
                s.wake_at = Instant::now() + self.rng.ms(3_000, 8_000);
                self.ctl.stats().parks_passivate += 1;
                Some(s)
            }
            92..=93 => {
                // Idle past --max-age-ms: it must be gone when we come back.
                let m = self.ctl.max_age.as_millis() as u64;
                s.wake_at = Instant::now() + self.rng.ms(m + 3_000, m + 8_000);
                s.expiry_park = true;
                self.ctl.stats().parks_expire += 1;
                Some(s)
            }
            _ => self.counter(s).await,
        }
    }

    /// Creates a session by a login, a `/counter` or a `PUT` without a cookie.
    async fn new_session(&mut self) {
        let w = self.rng.below(10);
        if w < 2 {
            if let Some(s) = self.login(None).await {
                self.sessions.push(s);
            }
            return;
        }
        let created = if w < 6 {
            self.new_by_counter().await
        } else {
            self.new_by_put().await
        };
        if let Some(s) = created {
            self.ctl.stats().sessions_created += 1;
            self.sessions.push(s);
        }
    }

    /// A new session by `GET /counter` without a cookie: it must answer 1.
    async fn new_by_counter(&mut self) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let res = ctl
            .req(Method::GET, "/counter", "GET /counter", None, None)
            .await;
        let r = ctl
            .expect(res, 200, "GET /counter (new session)", None)
            .await?;
        let (Some(SetCk::Value(c)), Ok(v)) = (&r.set, r.body.trim().parse::<i64>()) else {
            ctl.unexpected(&r, "GET /counter (new session, no cookie)", None);
            return None;
        };
        if v != 1 {
            let mut st = ctl.stats();
            st.mismatches += 1;
            st.fail(format!("a new session's first /counter gave {v}"));
        }
        let mut s = Sess::new(c.clone(), &r);
        s.note("GET /counter (no cookie)", &Ok(r.clone_meta()));
        s.n_lo = v;
        s.n_hi = v;
        s.n_acked = true;
        Some(s)
    }

    /// A new session by `PUT /session/{key}` of a fresh value without a
    /// cookie.
    async fn new_by_put(&mut self) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let key = KEYS[self.rng.below(4) as usize];
        let val = self.value();
        let res = ctl
            .req(
                Method::PUT,
                &format!("/session/{key}"),
                "PUT /session/{key}",
                None,
                Some(val.to_string()),
            )
            .await;
        let r = ctl
            .expect(res, 204, "PUT /session/{key} (new session)", None)
            .await?;
        let Some(SetCk::Value(c)) = &r.set else {
            ctl.unexpected(&r, "PUT /session/{key} (new session, no cookie)", None);
            return None;
        };
        let mut s = Sess::new(c.clone(), &r);
        s.note("PUT /session/{key} (no cookie)", &Ok(r.clone_meta()));
        s.keys.insert(
            key.to_string(),
            KeyExp {
                ok: vec![Some(val)],
                acked: true,
            },
        );
        Some(s)
    }

    /// A fresh value to write (unique `v`, sometimes a large pad).
    fn value(&mut self) -> Value {
        let seq = self.ctl.next_seq();
        let pad = if self.rng.chance(0.02) {
            self.rng.below(32 * 1024) as usize
        } else {
            self.rng.below(200) as usize
        };
        json!({ "v": seq, "c": self.idx, "pad": "x".repeat(pad) })
    }

    /// Back from idling past the max age: the full view must show it gone.
    async fn expiry_probe(&mut self, s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let mut s = ctl
            .resolve(s, "GET /session after idling past max age")
            .await?;
        s.expiry_park = false;
        Some(s)
    }

    /// `GET /stats`, for the maximum live and stored counts.
    async fn stats(&mut self) {
        if let Ok(r) = self
            .ctl
            .req(Method::GET, "/stats", "GET /stats", None, None)
            .await
        {
            record_stats(&self.ctl, &r);
        }
    }
}
