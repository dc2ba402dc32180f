//! The state every task of the run shares, and the one place requests are
//! sent from (which counts them, and tells a 5xx or a transport error during
//! a kill/restart from one outside it).

use crate::books::{Dead, Sess};
use crate::clock::secs;
use crate::http::{parse_set_cookie, Fail, Resp, COOKIE};
use crate::server::Incarnation;
use crate::stats::Stats;
use reqwest::Method;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The run's shared state: where the server is and whether it is up, the
/// kill count, the HTTP client (renewed on each restart), the counters, the
/// ended ids and the server incarnations.
pub struct Ctl {
    pub base: String,
    pub max_age: Duration,
    pub think_ms: u64,
    pub up: watch::Sender<bool>,
    pub kills: AtomicU64,
    pub pid: AtomicU64,
    pub fatal: AtomicBool,
    pub seq: AtomicU64,
    pub client: RwLock<reqwest::Client>,
    pub st: Mutex<Stats>,
    pub dead: Mutex<Vec<Dead>>,
    pub incarnations: Mutex<Vec<Incarnation>>,
}

impl Ctl {
    /// Is the server up (not being killed or restarted)?
    pub fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// SIGKILLs so far.
    pub fn kills(&self) -> u64 {
        self.kills.load(SeqCst)
    }

    /// A number no other write uses.
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, SeqCst)
    }

    /// The counters (locked).
    pub fn stats(&self) -> MutexGuard<'_, Stats> {
        self.st.lock().unwrap()
    }

    /// Waits (at most 90 s) for the server to be up; false if it is not.
    pub async fn wait_up(&self) -> bool {
        if self.fatal.load(SeqCst) {
            return false;
        }
        if self.is_up() {
            return true;
        }
        let mut rx = self.up.subscribe();
        let ok = tokio::time::timeout(Duration::from_secs(90), rx.wait_for(|u| *u))
            .await
            .is_ok();
        ok && !self.fatal.load(SeqCst)
    }

    /// One request to the server. A request that was sent while the server
    /// was down, or during which it was killed, is "in the window".
    pub async fn req(
        &self,
        method: Method,
        path: &str,
        route: &'static str,
        cookie: Option<&str>,
        body: Option<String>,
    ) -> Result<Resp, Fail> {
        // Order matters (see kill_and_restart): kills first, then up.
        let kills0 = self.kills();
        let up0 = self.is_up();
        let client = self.client.read().unwrap().clone();
        let sent = Instant::now();
        let mut rb = client.request(method.clone(), format!("{}{}", self.base, path));
        if let Some(c) = cookie {
            rb = rb.header("cookie", format!("{COOKIE}={c}"));
        }
        if let Some(b) = body {
            rb = rb.header("content-type", "application/json").body(b);
        }
        let res = async {
            let r = rb.send().await?;
            let status = r.status().as_u16();
            let set = parse_set_cookie(r.headers());
            let body = r.text().await?;
            Ok::<_, reqwest::Error>((status, set, body))
        }
        .await;
        let done = Instant::now();
        let in_window = !up0 || self.kills() != kills0;
        let mut st = self.stats();
        match res {
            Ok((status, set, body)) => {
                *st.by_route
                    .entry(route)
                    .or_default()
                    .entry(status.to_string())
                    .or_default() += 1;
                if status >= 500 {
                    if in_window {
                        st.five_xx_window += 1;
                    } else {
                        st.five_xx_outside += 1;
                        st.fail(format!(
                            "5xx outside a restart window: {method} {path} -> {status} {body:?} \
                             (cookie {cookie:?}, {:.3}s after sending)",
                            secs(done - sent)
                        ));
                    }
                }
                Ok(Resp {
                    status,
                    body,
                    set,
                    sent,
                    done,
                    kills_at_sent: kills0,
                })
            }
            Err(e) => {
                *st.by_route
                    .entry(route)
                    .or_default()
                    .entry("ERR".into())
                    .or_default() += 1;
                if in_window {
                    st.transport_window += 1;
                } else {
                    st.transport_outside += 1;
                    st.fail(format!(
                        "transport error outside a restart window: {method} {path}: {e} \
                         (after {:.3}s)",
                        secs(done - sent)
                    ));
                }
                Err(Fail { sent, done })
            }
        }
    }

    /// After a transport error: wait for the server if it is down.
    pub async fn after_err(&self) {
        if !self.is_up() {
            self.wait_up().await;
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `res` when it is an answer with status `want`; otherwise None, once
    /// the answer is counted as unexpected (as `what`, for `s`) or the
    /// transport error is waited out.
    pub async fn expect(
        &self,
        res: Result<Resp, Fail>,
        want: u16,
        what: &str,
        s: Option<&Sess>,
    ) -> Option<Resp> {
        match res {
            Ok(r) if r.status == want => Some(r),
            Ok(r) => {
                self.unexpected(&r, what, s);
                None
            }
            Err(_) => {
                self.after_err().await;
                None
            }
        }
    }

    /// A request with `s`'s cookie, noted in its history as `route`: the
    /// answer when its status is one of `want`. Otherwise None, with
    /// `s.last_any` moved to the request's end and the answer counted as
    /// unexpected (or the transport error waited out); the caller hands `s`
    /// back, after widening its books if the request was a write whose
    /// outcome is now unknown.
    pub async fn req_on(
        &self,
        s: &mut Sess,
        method: Method,
        path: &str,
        route: &'static str,
        body: Option<String>,
        want: &[u16],
    ) -> Option<Resp> {
        let res = self.req(method, path, route, Some(&s.cookie), body).await;
        s.note(route, &res);
        match res {
            Ok(r) if want.contains(&r.status) => Some(r),
            Ok(r) => {
                self.unexpected_on(s, &r, route);
                None
            }
            Err(f) => {
                s.last_any = s.last_any.max(f.done);
                self.after_err().await;
                None
            }
        }
    }

    /// An answer `r` on `s` it cannot use: moves `s.last_any` to the
    /// request's end and counts the answer as unexpected (as `what`).
    pub fn unexpected_on(&self, s: &mut Sess, r: &Resp, what: &str) {
        s.last_any = s.last_any.max(r.done);
        self.unexpected(r, what, Some(s));
    }

    /// Counts an answer the driver did not expect as a failure.
    pub fn unexpected(&self, r: &Resp, what: &str, s: Option<&Sess>) {
        if r.status >= 500 {
            return; // counted in req()
        }
        let mut st = self.stats();
        st.other_unexpected += 1;
        st.fail(format!(
            "unexpected answer to {what}: {} {:?} (session {})",
            r.status,
            r.body,
            s.map(|s| s.describe()).unwrap_or_else(|| "-".into())
        ));
    }
}

/// Reads a `/stats` answer (live, stored) into the maxima.
pub fn record_stats(ctl: &Ctl, r: &Resp) -> Option<(i64, i64)> {
    if r.status != 200 {
        ctl.unexpected(r, "GET /stats", None);
        return None;
    }
    let v = r.json().unwrap_or(Value::Null);
    match (v["live"].as_i64(), v["stored"].as_i64()) {
        (Some(l), Some(s)) => {
            let mut st = ctl.stats();
            st.max_live = st.max_live.max(l);
            st.max_stored = st.max_stored.max(s);
            Some((l, s))
        }
        _ => {
            ctl.unexpected(r, "GET /stats (not {live, stored})", None);
            None
        }
    }
}
