//! A bounded soak test of one demo server (`poem-demo` or `salvo-demo`, see
//! examples/README.md): many virtual clients send mixed loopback load for a fixed
//! time while passivation and expiry churn, and the server is killed with
//! SIGKILL and restarted on the same data dir and port every `--kill-every`
//! seconds. The driver keeps the books on every acknowledged write and every
//! id it ended, and checks them continuously and at the end.
//!
//! Normally run through `scripts/soak.sh`; directly:
//!
//! ```text
//! soak --bin target/release/poem-demo [--seconds 300] [--clients 64]
//!      [--kill-every 30] [--seed N] [--think-ms 10] [--max-age-ms 20000]
//!      [--passivate-after-ms 2000] [--keep-dir]
//! ```
//!
//! Checks (any failure makes the exit code 1; bad flags give 2):
//! 1. no acknowledged write lost: a `/counter` value acknowledged with 200,
//!    a `PUT`/`DELETE` acknowledged with 204, a login binding, is there when
//!    the session is read back, and a session the driver used recently enough
//!    that it cannot have expired is never gone;
//! 2. no resurrection: an id the driver logged out, regenerated away, had
//!    revoked, or saw expire never returns data (`/session` shows id null or
//!    another id with no data, `/me` 401);
//! 3. RSS and 4. open fds of the server, sampled from /proc every 2 s, do not
//!    grow without bound (per incarnation start/peak/end are printed);
//! 5. no 5xx (and no transport error) outside the kill/restart windows.
//!
//! At the end: one more verification on the running server (which also
//! writes a marker to every session), a final SIGKILL + restart, the same
//! verification again, the ids ended since the previous kill re-checked (with
//! a sample of older ones; each id is also checked when it ends, and the ones
//! ended shortly before a kill again after it), an idle drain until every
//! session has expired (`/stats` must reach live 0 and stored 0), and a
//! SIGTERM that must exit 0. Only 127.0.0.1 is ever contacted; every loop is
//! bounded in time and count.
//!
//! Expiry bookkeeping: a session is *certainly alive* (so finding it gone is
//! a lost session) while less than max age minus 2 s has passed since its
//! last acknowledged write (writes store the exact expiry), or since its last
//! answered request when no kill happened since (a read extends the idle
//! timeout in memory, but the server stores that extension lazily, so after a
//! kill only writes count). It is *certainly expired* (so seeing its data is
//! a failure) once max age plus 2 s has passed since the end of the last
//! request that carried its cookie. In between, finding it gone is counted
//! but not a failure. Operations whose outcome is unknown (a transport error
//! during a kill) widen the books: either outcome is then accepted.
//!
//! A failure report carries the session's recent request history (times in
//! seconds since the start, kill count when sent) for reproduction.

use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

const COOKIE: &str = "sessionId";
const SECRET: &str = "soak-secret-0123456789abcdef0123456789abcdef";
/// Slack for request latency and clock granularity in the expiry rules.
const MARGIN: Duration = Duration::from_secs(2);
const REQ_TIMEOUT: Duration = Duration::from_secs(20);
/// Sessions one virtual client keeps at most (awake and parked).
const SESSION_CAP: usize = 24;
/// Upper bound on operations per virtual client (the deadline ends it first).
const MAX_OPS: u64 = 10_000_000;
/// Failure details printed and kept at most.
const MAX_DETAILS: usize = 200;
const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];

// ---------------------------------------------------------------- options

struct Opts {
    bin: PathBuf,
    seconds: u64,
    clients: usize,
    kill_every: f64,
    seed: u64,
    think_ms: u64,
    max_age_ms: u64,
    passivate_ms: u64,
    keep_dir: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("soak: {msg}");
    eprintln!(
        "usage: soak --bin PATH [--seconds 300] [--clients 64] [--kill-every 30] [--seed N]\n\
         \x20           [--think-ms 10] [--max-age-ms 20000] [--passivate-after-ms 2000] [--keep-dir]"
    );
    std::process::exit(2);
}

fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        bin: PathBuf::new(),
        seconds: 300,
        clients: 64,
        kill_every: 30.0,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        think_ms: 10,
        max_age_ms: 20_000,
        passivate_ms: 2_000,
        keep_dir: false,
    };
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--keep-dir" {
            o.keep_dir = true;
            i += 1;
            continue;
        }
        let Some(v) = args.get(i + 1) else {
            usage(&format!("{flag} needs a value"))
        };
        let num = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
        };
        match flag {
            "--bin" => o.bin = PathBuf::from(v),
            "--seconds" => o.seconds = num(v),
            "--clients" => o.clients = num(v) as usize,
            "--kill-every" => {
                o.kill_every = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--kill-every: not a number: {v}")))
            }
            "--seed" => o.seed = num(v),
            "--think-ms" => o.think_ms = num(v),
            "--max-age-ms" => o.max_age_ms = num(v),
            "--passivate-after-ms" => o.passivate_ms = num(v),
            _ => usage(&format!("unknown flag {flag}")),
        }
        i += 2;
    }
    if o.bin.as_os_str().is_empty() {
        usage("--bin is required");
    }
    if o.seconds == 0 || o.clients == 0 || o.kill_every < 5.0 || o.max_age_ms < 5_000 {
        usage("need --seconds > 0, --clients > 0, --kill-every >= 5, --max-age-ms >= 5000");
    }
    o
}

// ---------------------------------------------------------------- rng

/// SplitMix64: small, seedable, good enough for a workload mix.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo + 1))
    }
}

// ---------------------------------------------------------------- books

/// What a key of a session may hold: any of `ok` (`None`: absent).
/// `acked`: some write to it was acknowledged, so a value outside `ok` is a
/// lost write.
#[derive(Clone, Debug)]
struct KeyExp {
    ok: Vec<Option<Value>>,
    acked: bool,
}

/// One session the driver owns, with what the server must hold for it.
#[derive(Clone)]
struct Sess {
    cookie: String,
    id: String,
    /// The counter `n` is in `n_lo..=n_hi` (absent = 0).
    n_lo: i64,
    n_hi: i64,
    n_acked: bool,
    keys: BTreeMap<String, KeyExp>,
    /// The user bound at login (survives regenerate).
    user: Option<String>,
    /// Sent time of the last request answered on this session.
    last_ok: Instant,
    /// Kills so far when that request was sent.
    kills_at_last_ok: u64,
    /// Sent time of the last acknowledged write (the stored expiry is exact
    /// after a write: at least this + max age).
    last_write: Option<Instant>,
    /// End of the last request of any outcome that carried the cookie.
    last_any: Instant,
    wake_at: Instant,
    expiry_park: bool,
    /// The last requests on it (and its ancestors), for failure reports.
    hist: Vec<String>,
}

impl Sess {
    fn new(cookie: String, r: &Resp) -> Sess {
        Sess {
            id: id_of(&cookie),
            cookie,
            n_lo: 0,
            n_hi: 0,
            n_acked: false,
            keys: BTreeMap::new(),
            user: None,
            last_ok: r.sent,
            kills_at_last_ok: r.kills_at_sent,
            last_write: Some(r.sent),
            last_any: r.done,
            wake_at: r.done,
            expiry_park: false,
            hist: Vec::new(),
        }
    }

    fn note_str(&mut self, msg: String) {
        if self.hist.len() >= HIST {
            self.hist.remove(0);
        }
        self.hist.push(msg);
    }

    /// Records one request on this session in its history.
    fn note(&mut self, route: &str, res: &Result<Resp, Fail>) {
        let msg = match res {
            Ok(r) => {
                let ck = match &r.set {
                    None => "no cookie".to_string(),
                    Some(SetCk::Clear) => "cookie cleared".to_string(),
                    Some(SetCk::Value(v)) if id_of(v) == self.id => "same id".to_string(),
                    Some(SetCk::Value(v)) => format!("NEW id {}", id_of(v)),
                };
                let body: String = r.body.chars().take(60).collect();
                format!(
                    "{:>8.3}s..{:.3}s kills={} {route} on {} -> {} {body:?} ({ck})",
                    since_start(r.sent),
                    since_start(r.done),
                    r.kills_at_sent,
                    short_id(&self.id),
                    r.status
                )
            }
            Err(f) => format!(
                "{:>8.3}s..{:.3}s {route} on {} -> transport error",
                since_start(f.sent),
                since_start(f.done),
                short_id(&self.id)
            ),
        };
        self.note_str(msg);
    }

    fn history(&self) -> String {
        format!(
            "\n      history (oldest first):\n        {}",
            self.hist.join("\n        ")
        )
    }

    fn touch(&mut self, r: &Resp) {
        self.last_ok = r.sent;
        self.kills_at_last_ok = r.kills_at_sent;
        self.last_any = self.last_any.max(r.done);
    }

    fn acked_count(&self) -> usize {
        self.keys
            .values()
            .filter(|k| k.acked && k.ok.iter().any(|v| v.is_some()))
            .count()
            + usize::from(self.n_acked && self.n_lo > 0)
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|(k, e)| {
                format!(
                    "{k}∈{}{}",
                    show(&e.ok),
                    if e.acked { "(acked)" } else { "" }
                )
            })
            .collect();
        format!(
            "id {} user {:?} n∈[{},{}] keys {{{}}}{}",
            self.id,
            self.user,
            self.n_lo,
            self.n_hi,
            keys.join(", "),
            self.history()
        )
    }
}

/// The values a key may hold, short: `{"v": 7, ...}` shows as `v7`.
fn show(ok: &[Option<Value>]) -> String {
    let parts: Vec<String> = ok
        .iter()
        .map(|v| match v {
            None => "absent".into(),
            Some(Value::Object(m)) if m.contains_key("v") => format!("v{}", m["v"]),
            Some(Value::Object(m)) if m.contains_key("fin") => format!("fin{}", m["fin"]),
            Some(v) => v.to_string(),
        })
        .collect();
    format!("[{}]", parts.join("|"))
}

/// Requests kept in a session's history.
const HIST: usize = 40;

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn since_start(t: Instant) -> f64 {
    START
        .get()
        .map_or(0.0, |s| t.saturating_duration_since(*s).as_secs_f64())
}

fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn id_of(cookie: &str) -> String {
    cookie
        .rsplit_once('.')
        .map(|(id, _)| id)
        .unwrap_or(cookie)
        .to_string()
}

/// An id the driver ended (or saw end): it must never serve data again.
#[derive(Clone)]
struct Dead {
    cookie: String,
    id: String,
    reason: &'static str,
    died: Instant,
    bound: bool,
}

#[derive(Default)]
struct Stats {
    by_route: BTreeMap<&'static str, BTreeMap<String, u64>>,
    five_xx_outside: u64,
    five_xx_window: u64,
    transport_outside: u64,
    transport_window: u64,
    other_unexpected: u64,
    acked_checked: u64,
    lost_writes: u64,
    lost_sessions: u64,
    resurrections: u64,
    expired_served: u64,
    phantom: u64,
    mismatches: u64,
    revoke_short: u64,
    gone_ambiguous: u64,
    gone_ambiguous_idle: Vec<f64>,
    gone_no_kill_idle: Vec<f64>,
    expired_ok: u64,
    dead_checks: u64,
    abandoned: u64,
    sessions_created: u64,
    regenerated: u64,
    logins: u64,
    logouts: u64,
    revoked_sessions: u64,
    parks_passivate: u64,
    parks_expire: u64,
    missing_cookie: u64,
    other_failures: u64,
    max_live: i64,
    max_stored: i64,
    failures: Vec<String>,
    failure_count: u64,
}

impl Stats {
    fn fail(&mut self, msg: String) {
        self.failure_count += 1;
        if self.failures.len() < MAX_DETAILS {
            eprintln!("soak: FAIL: {msg}");
            self.failures.push(msg);
        }
    }
}

#[derive(Clone, Default)]
struct Incarnation {
    pid: u32,
    started: Option<Instant>,
    healthy_after: Duration,
    ended: Option<Instant>,
    under_load: bool,
    rss_kb: Vec<u64>,
    fds: Vec<u64>,
    /// Samples taken while the load ran (the rest: final checks).
    load_samples: Option<usize>,
    disk_end: u64,
}

// ---------------------------------------------------------------- control

enum SetCk {
    Value(String),
    Clear,
}

struct Resp {
    status: u16,
    body: String,
    set: Option<SetCk>,
    sent: Instant,
    done: Instant,
    kills_at_sent: u64,
}

struct Fail {
    sent: Instant,
    done: Instant,
}

/// How a response's Set-Cookie relates to the session it was sent for.
enum Ck {
    Same,
    Other(String),
    Cleared,
    Nothing,
}

impl Resp {
    fn ck(&self, id: &str) -> Ck {
        match &self.set {
            None => Ck::Nothing,
            Some(SetCk::Clear) => Ck::Cleared,
            Some(SetCk::Value(v)) if id_of(v) == id => Ck::Same,
            Some(SetCk::Value(v)) => Ck::Other(v.clone()),
        }
    }
    /// A copy for a history note (the cookie, times and a short body).
    fn clone_meta(&self) -> Resp {
        Resp {
            status: self.status,
            body: self.body.chars().take(60).collect(),
            set: self.set.as_ref().map(|c| match c {
                SetCk::Value(v) => SetCk::Value(v.clone()),
                SetCk::Clear => SetCk::Clear,
            }),
            sent: self.sent,
            done: self.done,
            kills_at_sent: self.kills_at_sent,
        }
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

struct Ctl {
    base: String,
    max_age: Duration,
    think_ms: u64,
    up: watch::Sender<bool>,
    kills: AtomicU64,
    pid: AtomicU64,
    fatal: AtomicBool,
    seq: AtomicU64,
    client: RwLock<reqwest::Client>,
    st: Mutex<Stats>,
    dead: Mutex<Vec<Dead>>,
    incarnations: Mutex<Vec<Incarnation>>,
}

fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQ_TIMEOUT)
        .pool_max_idle_per_host(512)
        .pool_idle_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()
        .expect("reqwest client")
}

fn parse_set_cookie(headers: &reqwest::header::HeaderMap) -> Option<SetCk> {
    let mut out = None;
    for h in headers.get_all("set-cookie") {
        let s = String::from_utf8_lossy(h.as_bytes());
        let first = s.split(';').next().unwrap_or("");
        let Some((name, value)) = first.split_once('=') else {
            continue;
        };
        if name.trim() != COOKIE {
            continue;
        }
        let lower = s.to_ascii_lowercase();
        let value = value.trim();
        out = Some(if value.is_empty() || lower.contains("max-age=0") {
            SetCk::Clear
        } else {
            SetCk::Value(value.to_string())
        });
    }
    out
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

impl Ctl {
    fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    fn kills(&self) -> u64 {
        self.kills.load(SeqCst)
    }

    fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, SeqCst)
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        self.st.lock().unwrap()
    }

    /// Waits (at most 90 s) for the server to be up; false if it is not.
    async fn wait_up(&self) -> bool {
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
    async fn req(
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
    async fn after_err(&self) {
        if !self.is_up() {
            self.wait_up().await;
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn unexpected(&self, r: &Resp, what: &str, s: Option<&Sess>) {
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

    /// Must this session still exist at `t` (whatever the server did)?
    fn certainly_alive(&self, s: &Sess, t: Instant) -> bool {
        let m = self.max_age;
        s.last_write.is_some_and(|w| t + MARGIN < w + m)
            || (self.kills() == s.kills_at_last_ok && t + MARGIN < s.last_ok + m)
    }

    /// Must this session have expired by `t` (sent time of a request)?
    fn certainly_dead(&self, s: &Sess, t: Instant) -> bool {
        t > s.last_any + self.max_age + MARGIN
    }

    fn push_dead(&self, s: &Sess, reason: &'static str, at: Instant) -> Dead {
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
    fn gone(&self, s: &Sess, sent: Instant, done: Instant, via: &str) {
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

    /// Compares the server's data for `s` with the books, then narrows the
    /// books to what was seen. False on any difference.
    fn check_data(&self, s: &mut Sess, data: &Map<String, Value>, r: &Resp, via: &str) -> bool {
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
    async fn resolve(&self, mut s: Sess, via: &str) -> Option<Sess> {
        let res = self
            .req(
                Method::GET,
                "/session",
                "GET /session",
                Some(&s.cookie),
                None,
            )
            .await;
        s.note("GET /session", &res);
        let r = match res {
            Ok(r) => r,
            Err(f) => {
                s.last_any = s.last_any.max(f.done);
                self.after_err().await;
                return Some(s);
            }
        };
        if r.status != 200 {
            s.last_any = s.last_any.max(r.done);
            self.unexpected(&r, "GET /session", Some(&s));
            return Some(s);
        }
        let Some(v) = r.json() else {
            s.last_any = s.last_any.max(r.done);
            self.unexpected(&r, "GET /session (not JSON)", Some(&s));
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
    async fn check_dead(&self, d: &Dead, when: &str) {
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

    async fn check_dead_many(&self, list: Vec<Dead>, when: &str) {
        stream::iter(list)
            .for_each_concurrent(16, |d| async move { self.check_dead(&d, when).await })
            .await;
    }
}

// ---------------------------------------------------------------- clients

/// One virtual client: owns its sessions and two user names; requests on a
/// session are serial except for deliberate `/counter` bursts.
struct VClient {
    ctl: Arc<Ctl>,
    idx: usize,
    rng: Rng,
    sessions: Vec<Sess>,
    users: [String; 2],
    deadline: Instant,
}

impl VClient {
    async fn run(mut self) -> Vec<Sess> {
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

    async fn new_session(&mut self) {
        let w = self.rng.below(10);
        let ctl = self.ctl.clone();
        if w < 2 {
            if let Some(s) = self.login(None).await {
                self.sessions.push(s);
            }
            return;
        }
        let created = if w < 6 {
            match ctl
                .req(Method::GET, "/counter", "GET /counter", None, None)
                .await
            {
                Ok(r) if r.status == 200 => match (&r.set, r.body.trim().parse::<i64>()) {
                    (Some(SetCk::Value(c)), Ok(v)) => {
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
                    _ => {
                        ctl.unexpected(&r, "GET /counter (new session, no cookie)", None);
                        None
                    }
                },
                Ok(r) => {
                    ctl.unexpected(&r, "GET /counter (new session)", None);
                    None
                }
                Err(_) => {
                    ctl.after_err().await;
                    None
                }
            }
        } else {
            let key = KEYS[self.rng.below(4) as usize];
            let val = self.value();
            match ctl
                .req(
                    Method::PUT,
                    &format!("/session/{key}"),
                    "PUT /session/{key}",
                    None,
                    Some(val.to_string()),
                )
                .await
            {
                Ok(r) if r.status == 204 => match &r.set {
                    Some(SetCk::Value(c)) => {
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
                    _ => {
                        ctl.unexpected(&r, "PUT /session/{key} (new session, no cookie)", None);
                        None
                    }
                },
                Ok(r) => {
                    ctl.unexpected(&r, "PUT /session/{key} (new session)", None);
                    None
                }
                Err(_) => {
                    ctl.after_err().await;
                    None
                }
            }
        };
        if let Some(s) = created {
            ctl.stats().sessions_created += 1;
            self.sessions.push(s);
        }
    }

    fn value(&mut self) -> Value {
        let seq = self.ctl.next_seq();
        let pad = if self.rng.chance(0.02) {
            self.rng.below(32 * 1024) as usize
        } else {
            self.rng.below(200) as usize
        };
        json!({ "v": seq, "c": self.idx, "pad": "x".repeat(pad) })
    }

    async fn counter(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        s.n_hi += 1;
        let res = ctl
            .req(
                Method::GET,
                "/counter",
                "GET /counter",
                Some(&s.cookie),
                None,
            )
            .await;
        s.note("GET /counter", &res);
        let r = match res {
            Ok(r) => r,
            Err(f) => {
                s.last_any = s.last_any.max(f.done);
                ctl.after_err().await;
                return Some(s);
            }
        };
        if r.status != 200 {
            s.last_any = s.last_any.max(r.done);
            ctl.unexpected(&r, "GET /counter", Some(&s));
            return Some(s);
        }
        let Ok(v) = r.body.trim().parse::<i64>() else {
            s.last_any = s.last_any.max(r.done);
            ctl.unexpected(&r, "GET /counter (not an integer)", Some(&s));
            return Some(s);
        };
        match r.ck(&s.id) {
            Ck::Other(c) => {
                s.n_hi -= 1;
                ctl.gone(&s, r.sent, r.done, "GET /counter");
                let mut n = Sess::new(c, &r);
                n.hist = std::mem::take(&mut s.hist);
                n.note_str(format!(
                    "          (now {}: the old id was gone)",
                    short_id(&n.id)
                ));
                n.n_lo = v;
                n.n_hi = v;
                n.n_acked = true;
                ctl.stats().sessions_created += 1;
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
                if v <= s.n_lo {
                    st.lost_writes += 1;
                    st.fail(format!(
                        "LOST WRITE (GET /counter): answered {v}, acknowledged {} before ({})",
                        s.n_lo,
                        s.describe()
                    ));
                } else if v > s.n_hi {
                    st.phantom += 1;
                    st.fail(format!(
                        "PHANTOM INCREMENT (GET /counter): answered {v} > at most {} ({})",
                        s.n_hi,
                        s.describe()
                    ));
                }
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

    async fn read(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let res = ctl
            .req(Method::GET, "/read", "GET /read", Some(&s.cookie), None)
            .await;
        s.note("GET /read", &res);
        let r = match res {
            Ok(r) => r,
            Err(f) => {
                s.last_any = s.last_any.max(f.done);
                ctl.after_err().await;
                return Some(s);
            }
        };
        if r.status != 200 {
            s.last_any = s.last_any.max(r.done);
            ctl.unexpected(&r, "GET /read", Some(&s));
            return Some(s);
        }
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

    async fn put(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let key = KEYS[self.rng.below(4) as usize];
        let val = self.value();
        let res = ctl
            .req(
                Method::PUT,
                &format!("/session/{key}"),
                "PUT /session/{key}",
                Some(&s.cookie),
                Some(val.to_string()),
            )
            .await;
        s.note("PUT /session/{key}", &res);
        let uncertain = |s: &mut Sess| {
            s.keys
                .entry(key.to_string())
                .or_insert(KeyExp {
                    ok: vec![None],
                    acked: false,
                })
                .ok
                .push(Some(val.clone()));
        };
        let r = match res {
            Ok(r) => r,
            Err(f) => {
                s.last_any = s.last_any.max(f.done);
                uncertain(&mut s);
                ctl.after_err().await;
                return Some(s);
            }
        };
        if r.status != 204 {
            s.last_any = s.last_any.max(r.done);
            ctl.unexpected(&r, "PUT /session/{key}", Some(&s));
            uncertain(&mut s);
            return Some(s);
        }
        match r.ck(&s.id) {
            Ck::Other(c) => {
                ctl.gone(&s, r.sent, r.done, "PUT /session/{key}");
                let mut n = Sess::new(c, &r);
                n.hist = std::mem::take(&mut s.hist);
                n.note_str(format!(
                    "          (now {}: the old id was gone)",
                    short_id(&n.id)
                ));
                n.keys.insert(
                    key.to_string(),
                    KeyExp {
                        ok: vec![Some(val)],
                        acked: true,
                    },
                );
                ctl.stats().sessions_created += 1;
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

    async fn delete(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let key = KEYS[self.rng.below(4) as usize];
        // Deleting an absent key changes nothing, so it is no write.
        let is_write = s.keys.get(key).is_some_and(|e| !e.ok.contains(&None));
        let res = ctl
            .req(
                Method::DELETE,
                &format!("/session/{key}"),
                "DELETE /session/{key}",
                Some(&s.cookie),
                None,
            )
            .await;
        s.note("DELETE /session/{key}", &res);
        let uncertain = |s: &mut Sess| {
            if let Some(e) = s.keys.get_mut(key) {
                if !e.ok.contains(&None) {
                    e.ok.push(None);
                }
            }
        };
        let r = match res {
            Ok(r) => r,
            Err(f) => {
                s.last_any = s.last_any.max(f.done);
                uncertain(&mut s);
                ctl.after_err().await;
                return Some(s);
            }
        };
        if r.status != 204 {
            s.last_any = s.last_any.max(r.done);
            ctl.unexpected(&r, "DELETE /session/{key}", Some(&s));
            uncertain(&mut s);
            return Some(s);
        }
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

    async fn burst(&mut self, mut s: Sess) -> Option<Sess> {
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
                if v <= lo0 {
                    st.lost_writes += 1;
                    st.fail(format!(
                        "LOST WRITE (concurrent /counter): answered {v}, acknowledged {lo0} before ({})",
                        s.describe()
                    ));
                } else if v > s.n_hi {
                    st.phantom += 1;
                    st.fail(format!(
                        "PHANTOM INCREMENT (concurrent /counter): answered {v} > at most {} ({})",
                        s.n_hi,
                        s.describe()
                    ));
                }
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

    async fn me(&mut self, mut s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let res = ctl
            .req(Method::GET, "/me", "GET /me", Some(&s.cookie), None)
            .await;
        s.note("GET /me", &res);
        let r = match res {
            Ok(r) => r,
            Err(f) => {
                s.last_any = s.last_any.max(f.done);
                ctl.after_err().await;
                return Some(s);
            }
        };
        let seen = match r.status {
            200 => r.json().and_then(|v| v["user"].as_str().map(String::from)),
            401 => None,
            _ => {
                s.last_any = s.last_any.max(r.done);
                ctl.unexpected(&r, "GET /me", Some(&s));
                return Some(s);
            }
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
    async fn login(&mut self, s: Option<Sess>) -> Option<Sess> {
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
        let r = match res {
            Ok(r) if r.status == 204 => r,
            Ok(r) => {
                ctl.unexpected(&r, "POST /login", s.as_ref());
                ctl.stats().abandoned += u64::from(s.is_some());
                return None;
            }
            Err(_) => {
                // Did it happen? Unknown: stop tracking this session.
                ctl.stats().abandoned += u64::from(s.is_some());
                ctl.after_err().await;
                return None;
            }
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

    async fn logout(&mut self, mut s: Sess) -> Option<Sess> {
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

    async fn regenerate(&mut self, mut s: Sess) -> Option<Sess> {
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
        let r = match res {
            Ok(r) if r.status == 204 => r,
            Ok(r) => {
                ctl.unexpected(&r, "POST /regenerate", Some(&s));
                ctl.stats().abandoned += 1;
                return None;
            }
            Err(_) => {
                ctl.stats().abandoned += 1;
                ctl.after_err().await;
                return None;
            }
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

    async fn expiry_probe(&mut self, s: Sess) -> Option<Sess> {
        let ctl = self.ctl.clone();
        let mut s = ctl
            .resolve(s, "GET /session after idling past max age")
            .await?;
        s.expiry_park = false;
        Some(s)
    }

    async fn revoke(&mut self, user: &str) {
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

fn record_stats(ctl: &Ctl, r: &Resp) -> Option<(i64, i64)> {
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

// ---------------------------------------------------------------- server

struct Server {
    bin: PathBuf,
    port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    passivate_ms: u64,
    max_age_ms: u64,
    child: Option<Child>,
}

impl Server {
    fn args(&self) -> Vec<String> {
        vec![
            "--addr".into(),
            format!("127.0.0.1:{}", self.port),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--secret".into(),
            SECRET.into(),
            "--passivate-after-ms".into(),
            self.passivate_ms.to_string(),
            "--max-age-ms".into(),
            self.max_age_ms.to_string(),
        ]
    }

    fn log_tail(&self, n: usize) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Starts the binary and waits for `/health`; retries a lost port race.
    async fn start(&mut self) -> Result<(u32, Duration), String> {
        let t0 = Instant::now();
        let probe = new_client();
        let mut last = String::new();
        for attempt in 0..40 {
            let mut log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log)
                .map_err(|e| format!("log {}: {e}", self.log.display()))?;
            let _ = writeln!(log, "=== soak: starting (attempt {attempt}) ===");
            let mut cmd = Command::new(&self.bin);
            cmd.args(self.args())
                .env_remove("LIVESESSION_SECRET")
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
                .stderr(Stdio::from(log));
            // SAFETY: prctl(2) is async-signal-safe. The server dies with the
            // driver (however the driver ends), so no server outlives a soak.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let mut child = cmd
                .spawn()
                .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
            let deadline = Instant::now() + Duration::from_secs(30);
            let url = format!("http://127.0.0.1:{}/health", self.port);
            loop {
                if let Ok(Some(st)) = child.try_wait() {
                    last = format!("exited with {st}");
                    break;
                }
                if let Ok(r) = probe
                    .get(&url)
                    .timeout(Duration::from_millis(500))
                    .send()
                    .await
                {
                    if r.status().as_u16() == 200 {
                        let pid = child.id();
                        self.child = Some(child);
                        return Ok((pid, t0.elapsed()));
                    }
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "no 200 from /health within 30 s; log tail:\n{}",
                        self.log_tail(30)
                    ));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let tail = self.log_tail(10).to_ascii_lowercase();
            if !(tail.contains("in use") || tail.contains("addrinuse")) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(format!("{last}; log tail:\n{}", self.log_tail(30)))
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; the exit status within `timeout` (None: still running, then killed).
    async fn term(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take()?;
        // SAFETY: kill(2) on the pid of our own child, which has not been reaped.
        unsafe {
            libc::kill(c.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn proc_rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn proc_fds(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Samples RSS and fds of the running server every 2 s.
async fn sampler(ctl: Arc<Ctl>, stop: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    // Bounded: the whole run is far shorter than this many samples.
    for _ in 0..1_000_000u32 {
        tick.tick().await;
        if stop.load(SeqCst) {
            return;
        }
        sample_now(&ctl);
    }
}

fn sample_now(ctl: &Ctl) {
    let pid = ctl.pid.load(SeqCst) as u32;
    if pid == 0 {
        return;
    }
    if let (Some(rss), Some(fds)) = (proc_rss_kb(pid), proc_fds(pid)) {
        let mut inc = ctl.incarnations.lock().unwrap();
        if let Some(i) = inc.last_mut() {
            if i.pid == pid && i.ended.is_none() {
                i.rss_kb.push(rss);
                i.fds.push(fds);
            }
        }
    }
}

/// SIGKILL the server and start it again on the same data dir and port.
async fn kill_and_restart(ctl: &Ctl, srv: &mut Server, under_load: bool) -> Result<(), String> {
    sample_now(ctl);
    // Order matters (see Ctl::req): down first, then the kill count.
    ctl.up.send_replace(false);
    ctl.kills.fetch_add(1, SeqCst);
    ctl.pid.store(0, SeqCst);
    let killed_at = Instant::now();
    srv.kill9();
    {
        let mut inc = ctl.incarnations.lock().unwrap();
        if let Some(i) = inc.last_mut() {
            i.ended = Some(killed_at);
            i.disk_end = dir_size(&srv.data_dir);
        }
    }
    start_incarnation(ctl, srv, under_load).await
}

async fn start_incarnation(ctl: &Ctl, srv: &mut Server, under_load: bool) -> Result<(), String> {
    let t0 = Instant::now();
    let (pid, took) = srv.start().await?;
    ctl.incarnations.lock().unwrap().push(Incarnation {
        pid,
        started: Some(t0),
        healthy_after: took,
        under_load,
        ..Incarnation::default()
    });
    ctl.pid.store(pid as u64, SeqCst);
    *ctl.client.write().unwrap() = new_client();
    sample_now(ctl);
    ctl.up.send_replace(true);
    Ok(())
}

// ---------------------------------------------------------------- phases

/// Reads back every tracked session (and `/me` for bound ones); with
/// `marker`, also writes a marker key (an acknowledged write to verify
/// after the next kill).
async fn verify_all(
    ctl: &Arc<Ctl>,
    sessions: Vec<Sess>,
    phase: &'static str,
    marker: bool,
) -> (Vec<Sess>, usize, usize) {
    let total = sessions.len();
    let out: Vec<Option<Sess>> = stream::iter(sessions)
        .map(|s| {
            let ctl = ctl.clone();
            async move {
                let s = ctl.resolve(s, phase).await?;
                let mut s = s;
                if let Some(u) = s.user.clone() {
                    if let Ok(r) = ctl
                        .req(Method::GET, "/me", "GET /me", Some(&s.cookie), None)
                        .await
                    {
                        let seen = r.json().and_then(|v| v["user"].as_str().map(String::from));
                        let mut st = ctl.stats();
                        st.acked_checked += 1;
                        if r.status != 200 || seen.as_deref() != Some(u.as_str()) {
                            st.lost_writes += 1;
                            st.fail(format!(
                                "LOST BINDING ({phase}): /me answered {} {:?} for {}",
                                r.status,
                                r.body,
                                s.describe()
                            ));
                        }
                    }
                }
                if marker {
                    let val = json!({ "fin": ctl.next_seq() });
                    if let Ok(r) = ctl
                        .req(
                            Method::PUT,
                            "/session/fin",
                            "PUT /session/{key}",
                            Some(&s.cookie),
                            Some(val.to_string()),
                        )
                        .await
                    {
                        let e = s.keys.entry("fin".into()).or_insert(KeyExp {
                            ok: vec![None],
                            acked: false,
                        });
                        if r.status == 204 && matches!(r.ck(&s.id), Ck::Same) {
                            *e = KeyExp {
                                ok: vec![Some(val)],
                                acked: true,
                            };
                            s.last_write = Some(r.sent);
                            s.touch(&r);
                        } else {
                            e.ok.push(Some(val));
                            s.last_any = s.last_any.max(r.done);
                            ctl.unexpected(&r, "PUT /session/fin", Some(&s));
                        }
                    }
                }
                Some(s)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let kept: Vec<Sess> = out.into_iter().flatten().collect();
    let present = kept.len();
    (kept, total, present)
}

fn idle_range(v: &[f64]) -> String {
    if v.is_empty() {
        return String::new();
    }
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        " (idle {:.1}..{:.1}s, median {:.1}s)",
        v[0],
        v[v.len() - 1],
        v[v.len() / 2]
    )
}

fn mib(kb: u64) -> String {
    format!("{:.1}", kb as f64 / 1024.0)
}

#[tokio::main]
async fn main() {
    let o = parse_opts();
    START.get_or_init(Instant::now);
    if !o.bin.is_file() {
        usage(&format!("no such binary: {}", o.bin.display()));
    }
    let work = tempfile::Builder::new()
        .prefix("livesession-soak-")
        .tempdir()
        .expect("tempdir");
    let data_dir = work.path().join("data");
    let log = work.path().join("server.log");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        l.local_addr().unwrap().port()
    };
    let mut srv = Server {
        bin: o.bin.clone(),
        port,
        data_dir: data_dir.clone(),
        log: log.clone(),
        passivate_ms: o.passivate_ms,
        max_age_ms: o.max_age_ms,
        child: None,
    };
    let name = o
        .bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    println!(
        "soak: {name} for {} s, {} clients, SIGKILL every ~{} s, seed {}, think {} ms",
        o.seconds, o.clients, o.kill_every, o.seed, o.think_ms
    );
    println!("soak: server: {} {}", o.bin.display(), srv.args().join(" "));
    println!(
        "soak: work dir {} (server log: server.log)",
        work.path().display()
    );

    let (up, _) = watch::channel(false);
    let ctl = Arc::new(Ctl {
        base: format!("http://127.0.0.1:{port}"),
        max_age: Duration::from_millis(o.max_age_ms),
        think_ms: o.think_ms,
        up,
        kills: AtomicU64::new(0),
        pid: AtomicU64::new(0),
        fatal: AtomicBool::new(false),
        seq: AtomicU64::new(1),
        client: RwLock::new(new_client()),
        st: Mutex::new(Stats::default()),
        dead: Mutex::new(Vec::new()),
        incarnations: Mutex::new(Vec::new()),
    });
    let run_start = Instant::now();
    let mut failed_setup = None;
    if let Err(e) = start_incarnation(&ctl, &mut srv, true).await {
        eprintln!("soak: the server did not start: {e}");
        std::process::exit(1);
    }
    let stop_sampler = Arc::new(AtomicBool::new(false));
    let sampler_task = tokio::spawn(sampler(ctl.clone(), stop_sampler.clone()));

    // ---- load
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let mut seeder = Rng(o.seed);
    let clients: Vec<_> = (0..o.clients)
        .map(|idx| {
            let c = VClient {
                ctl: ctl.clone(),
                idx,
                rng: Rng(seeder.next()),
                sessions: Vec::new(),
                users: [format!("c{idx}a"), format!("c{idx}b")],
                deadline,
            };
            tokio::spawn(c.run())
        })
        .collect();
    let mut last_report = Instant::now();
    let mut last_kill = Instant::now();
    let mut dead_checked_upto = 0usize;
    loop {
        let wait = Duration::from_secs_f64(
            o.kill_every * (0.85 + 0.3 * (seeder.below(1000) as f64 / 1000.0)),
        );
        let next = Instant::now() + wait;
        if next + Duration::from_secs(3) >= deadline {
            tokio::time::sleep_until(deadline.into()).await;
            break;
        }
        while Instant::now() < next {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if last_report.elapsed() >= Duration::from_secs(15) {
                last_report = Instant::now();
                let st = ctl.stats();
                let reqs: u64 = st.by_route.values().flat_map(|m| m.values()).sum();
                println!(
                    "soak: t={:>4.0}s requests {reqs} sessions {} kills {} acked checked {} lost {} resurrections {} 5xx {} failures {}",
                    run_start.elapsed().as_secs_f64(),
                    st.sessions_created,
                    ctl.kills(),
                    st.acked_checked,
                    st.lost_writes + st.lost_sessions,
                    st.resurrections,
                    st.five_xx_outside + st.five_xx_window,
                    st.failure_count
                );
            }
        }
        if let Err(e) = kill_and_restart(&ctl, &mut srv, true).await {
            eprintln!("soak: restart failed: {e}");
            failed_setup = Some(e);
            ctl.fatal.store(true, SeqCst);
            break;
        }
        println!(
            "soak: t={:>4.0}s SIGKILL #{} after {:.1}s, restarted in {:.2}s",
            run_start.elapsed().as_secs_f64(),
            ctl.kills(),
            secs(last_kill.elapsed()),
            secs(
                ctl.incarnations
                    .lock()
                    .unwrap()
                    .last()
                    .unwrap()
                    .healthy_after
            )
        );
        last_kill = Instant::now();
        // Every id ended shortly before the kill must still be ended (plus a
        // sample of older ones).
        let list: Vec<Dead> = {
            let dead = ctl.dead.lock().unwrap();
            let recent = dead[dead_checked_upto..]
                .iter()
                .filter(|d| d.died + Duration::from_secs(10) >= last_kill - Duration::from_secs(1))
                .cloned();
            let mut list: Vec<Dead> = recent.collect();
            for _ in 0..100.min(dead.len()) {
                list.push(dead[seeder.below(dead.len() as u64) as usize].clone());
            }
            dead_checked_upto = dead.len();
            list
        };
        ctl.check_dead_many(list, "after a SIGKILL + restart").await;
    }
    let mut sessions = Vec::new();
    for c in clients {
        match c.await {
            Ok(s) => sessions.extend(s),
            Err(e) => {
                let mut st = ctl.stats();
                st.other_failures += 1;
                st.fail(format!("a client task panicked: {e}"));
            }
        }
    }
    let load_secs = secs(run_start.elapsed());
    sample_now(&ctl);
    if let Some(i) = ctl.incarnations.lock().unwrap().last_mut() {
        i.load_samples = Some(i.rss_kb.len());
    }
    let tracked_at_end = sessions.len();
    let mut final_phases = Vec::new();
    let mut drain = String::from("not run");
    let mut term = String::from("not run");
    let mut after_drain: Option<(u64, u64)> = None;
    if failed_setup.is_none() {
        // ---- A: verify on the running server, writing a marker to each.
        let (s, total, present) =
            verify_all(&ctl, sessions, "final check (running server)", true).await;
        final_phases.push(format!(
            "running server: {total} tracked sessions read back, {present} present"
        ));
        sample_now(&ctl);
        // ---- B: a last SIGKILL, then verify everything again.
        if let Err(e) = kill_and_restart(&ctl, &mut srv, false).await {
            failed_setup = Some(e);
            drop(s);
        } else {
            let (s, total, present) =
                verify_all(&ctl, s, "final check (after the last SIGKILL)", false).await;
            final_phases.push(format!(
                "after the last SIGKILL: {total} read back, {present} present"
            ));
            drop(s);
            // Every id ended since the last kill under load, and a sample of
            // the older ones (each was checked when it ended, and the ones
            // ended shortly before a kill again after that kill).
            let (list, recent, total) = {
                let dead = ctl.dead.lock().unwrap();
                let mut list: Vec<Dead> = dead[dead_checked_upto..].to_vec();
                let recent = list.len();
                if dead_checked_upto <= 5_000 {
                    list.extend_from_slice(&dead[..dead_checked_upto]);
                } else {
                    for _ in 0..5_000 {
                        list.push(dead[seeder.below(dead_checked_upto as u64) as usize].clone());
                    }
                }
                (list, recent, dead.len())
            };
            let n = list.len();
            ctl.check_dead_many(list, "final check after the last SIGKILL")
                .await;
            final_phases.push(format!(
                "ended ids re-checked after the last SIGKILL: {n} of {total} (all {recent} ended since the previous kill)"
            ));
            // ---- drain: all sessions expire, records leave the store.
            *ctl.client.write().unwrap() = new_client();
            let drain_start = Instant::now();
            let limit = ctl.max_age + Duration::from_secs(20);
            let mut last = None;
            while drain_start.elapsed() < limit {
                tokio::time::sleep(Duration::from_secs(2)).await;
                if let Ok(r) = ctl
                    .req(Method::GET, "/stats", "GET /stats", None, None)
                    .await
                {
                    last = record_stats(&ctl, &r);
                    if last == Some((0, 0)) {
                        break;
                    }
                }
            }
            *ctl.client.write().unwrap() = new_client();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let pid = ctl.pid.load(SeqCst) as u32;
            after_drain = proc_rss_kb(pid).zip(proc_fds(pid));
            drain = match last {
                Some((0, 0)) => format!(
                    "live 0, stored 0 after {:.1}s idle",
                    secs(drain_start.elapsed())
                ),
                other => {
                    let msg = format!(
                        "/stats (live, stored) = {other:?} after {:.0}s idle (max age {:.0}s + 10 s sweep)",
                        secs(drain_start.elapsed()),
                        secs(ctl.max_age)
                    );
                    let mut st = ctl.stats();
                    st.other_failures += 1;
                    st.fail(format!("DRAIN: {msg}"));
                    msg
                }
            };
            sample_now(&ctl);
            ctl.pid.store(0, SeqCst);
            {
                let mut inc = ctl.incarnations.lock().unwrap();
                if let Some(i) = inc.last_mut() {
                    i.ended = Some(Instant::now());
                    i.disk_end = dir_size(&data_dir);
                }
            }
            ctl.up.send_replace(false);
            term = match srv.term(Duration::from_secs(10)).await {
                Some(st) if st.code() == Some(0) => "SIGTERM: exit 0".into(),
                Some(st) => {
                    let mut s = ctl.stats();
                    s.other_failures += 1;
                    s.fail(format!("SIGTERM: exited with {st}"));
                    format!("SIGTERM: exited with {st}")
                }
                None => {
                    let mut s = ctl.stats();
                    s.other_failures += 1;
                    s.fail("SIGTERM: no exit within 10 s".into());
                    "SIGTERM: no exit within 10 s (killed)".into()
                }
            };
        }
    }
    if let Some(e) = &failed_setup {
        let mut st = ctl.stats();
        st.other_failures += 1;
        st.fail(format!("server restart failed: {e}"));
    }
    stop_sampler.store(true, SeqCst);
    sampler_task.abort();
    srv.kill9();

    // ---- report
    let st = ctl.stats();
    let mut incs = ctl.incarnations.lock().unwrap().clone();
    // The last incarnation under load also ran the first final check (every
    // session read back and written at once): report that part apart.
    let mut final_check_peak = None;
    for i in incs.iter_mut() {
        if let Some(n) = i.load_samples.filter(|&n| n > 0 && n < i.rss_kb.len()) {
            final_check_peak = i.rss_kb[n..]
                .iter()
                .copied()
                .max()
                .zip(i.fds[n..].iter().copied().max());
            i.rss_kb.truncate(n);
            i.fds.truncate(n);
        }
    }
    let mut checks: Vec<(String, bool)> = Vec::new();
    println!();
    println!("================ soak summary: {name} ================");
    println!(
        "load {:.0}s, {} virtual clients, seed {}; whole run {:.0}s",
        load_secs.min(o.seconds as f64 + 5.0),
        o.clients,
        o.seed,
        secs(run_start.elapsed())
    );
    let total: u64 = st.by_route.values().flat_map(|m| m.values()).sum();
    println!("requests: {total}");
    for (route, by) in &st.by_route {
        let parts: Vec<String> = by.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        println!("  {route:<28} {}", parts.join(", "));
    }
    println!(
        "kills (SIGKILL): {}, restarts: {}",
        ctl.kills(),
        incs.len().saturating_sub(1)
    );
    println!(
        "sessions created {}, logins {}, regenerates {}, logouts {}, sessions revoked {}, parked to passivate {}, parked to expire {}",
        st.sessions_created, st.logins, st.regenerated, st.logouts, st.revoked_sessions, st.parks_passivate, st.parks_expire
    );
    println!(
        "sessions tracked at the end of the load: {tracked_at_end}; {}",
        final_phases.join("; ")
    );
    println!(
        "sessions seen expired as expected: {}; gone while their expiry was uncertain (idle near max age, or across a kill with a lazily stored expiry): {}{}",
        st.expired_ok,
        st.gone_ambiguous,
        idle_range(&st.gone_ambiguous_idle)
    );
    println!(
        "sessions gone with no kill since their last use: {}{} (the server's idle clock: never under max age {:.0}s)",
        st.gone_no_kill_idle.len(),
        idle_range(&st.gone_no_kill_idle),
        secs(ctl.max_age)
    );
    println!(
        "tracking dropped after an unacknowledged login/regenerate/logout/revoke: {}",
        st.abandoned
    );
    println!("acknowledged writes checked: {}", st.acked_checked);
    println!(
        "lost writes: {} (lost sessions: {})",
        st.lost_writes, st.lost_sessions
    );
    println!(
        "ended ids checked: {} (ids ended: {}); resurrections: {}; expired sessions served: {}",
        st.dead_checks,
        ctl.dead.lock().unwrap().len(),
        st.resurrections,
        st.expired_served
    );
    println!(
        "5xx outside restart windows: {}, inside: {}; transport errors outside: {}, inside: {}; other unexpected answers: {}",
        st.five_xx_outside, st.five_xx_window, st.transport_outside, st.transport_window, st.other_unexpected
    );
    println!(
        "phantom increments: {}, data mismatches: {}, short revokes: {}, responses without the rolling cookie: {}",
        st.phantom, st.mismatches, st.revoke_short, st.missing_cookie
    );
    println!(
        "max /stats seen: live {}, stored {}",
        st.max_live, st.max_stored
    );
    println!("drain: {drain}; {term}");
    println!(
        "server incarnations (RSS MiB start/peak/end, fds start/peak/end, data dir MiB at end):"
    );
    for (n, i) in incs.iter().enumerate() {
        let life = i
            .ended
            .zip(i.started)
            .map(|(e, s)| secs(e - s))
            .unwrap_or(0.0);
        let (r0, rp, r1) = (
            i.rss_kb.first().copied().unwrap_or(0),
            i.rss_kb.iter().copied().max().unwrap_or(0),
            i.rss_kb.last().copied().unwrap_or(0),
        );
        let (f0, fp, f1) = (
            i.fds.first().copied().unwrap_or(0),
            i.fds.iter().copied().max().unwrap_or(0),
            i.fds.last().copied().unwrap_or(0),
        );
        println!(
            "  #{n:<2} pid {:<7} up {:>5.1}s (healthy after {:.2}s){}: RSS {}/{}/{}  fds {f0}/{fp}/{f1}  disk {:.1}",
            i.pid,
            life,
            secs(i.healthy_after),
            if i.under_load { "" } else { " [final checks + drain]" },
            mib(r0),
            mib(rp),
            mib(r1),
            i.disk_end as f64 / 1048576.0
        );
    }
    if let Some((rss, fds)) = final_check_peak {
        println!(
            "  (the first final check on the last incarnation under load, not included above: RSS peak {} MiB, fds peak {fds})",
            mib(rss)
        );
    }
    if let Some((rss, fds)) = after_drain {
        println!(
            "after the drain (no sessions, no connections): RSS {} MiB, fds {fds}",
            mib(rss)
        );
    }
    // Growth: compare the ends of incarnations that ran (most of) a full
    // kill interval under load.
    let comparable: Vec<&Incarnation> = incs
        .iter()
        .filter(|i| {
            i.under_load
                && i.rss_kb.len() >= 3
                && i.ended
                    .zip(i.started)
                    .is_some_and(|(e, s)| secs(e - s) >= 0.6 * o.kill_every)
        })
        .collect();
    let (mut rss_ok, mut fds_ok) = (true, true);
    let mut growth = String::new();
    if comparable.len() >= 2 {
        let ends: Vec<u64> = comparable
            .iter()
            .map(|i| *i.rss_kb.last().unwrap())
            .collect();
        let fends: Vec<u64> = comparable.iter().map(|i| *i.fds.last().unwrap()).collect();
        let (first, last) = (ends[0], ends[ends.len() - 1]);
        let climbing =
            ends.len() >= 5 && ends.windows(2).all(|w| w[1] > w[0]) && last * 2 > first * 3;
        if (last > 3 * first && last > first + 32 * 1024) || climbing {
            rss_ok = false;
        }
        let (ff, fl) = (fends[0], fends[fends.len() - 1]);
        let fclimb = fends.len() >= 5 && fends.windows(2).all(|w| w[1] > w[0]) && fl > ff + 32;
        if fl > 2 * ff + 64 || fclimb {
            fds_ok = false;
        }
        growth = format!(
            "RSS at the end of comparable incarnations (MiB): {}; fds: {}",
            ends.iter().map(|&k| mib(k)).collect::<Vec<_>>().join(" "),
            fends
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
    } else if let Some(i) = comparable.first().copied().or(incs.first()) {
        // One long incarnation: compare its last third with its first third
        // (after warm-up).
        let third = i.rss_kb.len() / 3;
        if third >= 3 {
            let avg = |v: &[u64]| v.iter().sum::<u64>() / v.len() as u64;
            let (a, b) = (
                avg(&i.rss_kb[third..2 * third]),
                avg(&i.rss_kb[2 * third..]),
            );
            let (fa, fb) = (avg(&i.fds[third..2 * third]), avg(&i.fds[2 * third..]));
            rss_ok = !(b > 2 * a && b > a + 32 * 1024);
            fds_ok = fb <= 2 * fa + 64;
            growth = format!(
                "one incarnation: RSS middle third {} MiB, last third {} MiB; fds {fa} -> {fb}",
                mib(a),
                mib(b)
            );
        }
    }
    if let (Some((_, fds)), Some(last)) = (after_drain, incs.last()) {
        let f0 = last.fds.first().copied().unwrap_or(0);
        if fds > f0 + 16 {
            fds_ok = false;
            growth.push_str(&format!("; fds after the drain {fds} vs {f0} at its start"));
        }
    }
    if !growth.is_empty() {
        println!("{growth}");
    }
    checks.push((
        "no acknowledged write lost".into(),
        st.lost_writes == 0 && st.lost_sessions == 0,
    ));
    checks.push((
        "no resurrection (ended ids stay ended, expired data never served)".into(),
        st.resurrections == 0 && st.expired_served == 0,
    ));
    checks.push(("RSS bounded".into(), rss_ok));
    checks.push(("no fd leak".into(), fds_ok));
    checks.push((
        "no 5xx outside restart windows".into(),
        st.five_xx_outside == 0,
    ));
    let panics = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("panicked"))
        .count();
    checks.push((
        "no other violation (transport errors outside windows, data mismatches, phantom increments, short revokes, unexpected answers, drain to 0, SIGTERM exit 0, server panics)".into(),
        st.transport_outside == 0
            && st.mismatches == 0
            && st.phantom == 0
            && st.revoke_short == 0
            && st.other_unexpected == 0
            && st.other_failures == 0
            && panics == 0,
    ));
    let all_ok =
        checks.iter().all(|(_, ok)| *ok) && failed_setup.is_none() && st.failure_count == 0;
    println!("checks:");
    for (what, ok) in &checks {
        println!("  [{}] {what}", if *ok { "ok" } else { "FAIL" });
    }
    if !st.failures.is_empty() {
        println!(
            "failures ({} in all, first {} shown):",
            st.failure_count,
            st.failures.len().min(40)
        );
        for f in st.failures.iter().take(40) {
            println!("  - {f}");
        }
    }
    let log_text = std::fs::read_to_string(&log).unwrap_or_default();
    let noteworthy: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN") || l.contains("panicked"))
        .collect();
    println!("server log: {} ERROR/WARN/panic lines", noteworthy.len());
    for l in noteworthy.iter().take(10) {
        println!("  {l}");
    }
    drop(st);
    if !all_ok || o.keep_dir {
        let kept = work.keep();
        println!("work dir kept: {} (data/, server.log)", kept.display());
    } else {
        // process::exit runs no destructors: remove it here.
        let _ = work.close();
    }
    println!("soak: {}", if all_ok { "PASS" } else { "FAIL" });
    std::process::exit(if all_ok { 0 } else { 1 });
}
