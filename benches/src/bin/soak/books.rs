//! The books: what the server must hold for each session the driver owns
//! (its counter, keys, login binding and expiry clocks), and the ids it ended.

use crate::clock::since_start;
use crate::http::{id_of, Fail, Resp, SetCk};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

/// What a key of a session may hold: any of `ok` (`None`: absent).
/// `acked`: some write to it was acknowledged, so a value outside `ok` is a
/// lost write.
#[derive(Clone, Debug)]
pub struct KeyExp {
    pub ok: Vec<Option<Value>>,
    pub acked: bool,
}

/// One session the driver owns, with what the server must hold for it.
#[derive(Clone)]
pub struct Sess {
    pub cookie: String,
    pub id: String,
    /// The counter `n` is in `n_lo..=n_hi` (absent = 0).
    pub n_lo: i64,
    pub n_hi: i64,
    pub n_acked: bool,
    pub keys: BTreeMap<String, KeyExp>,
    /// The user bound at login (survives regenerate).
    pub user: Option<String>,
    /// Sent time of the last request answered on this session.
    pub last_ok: Instant,
    /// Kills so far when that request was sent.
    pub kills_at_last_ok: u64,
    /// Sent time of the last acknowledged write (the stored expiry is exact
    /// after a write: at least this + max age).
    pub last_write: Option<Instant>,
    /// End of the last request of any outcome that carried the cookie.
    pub last_any: Instant,
    pub wake_at: Instant,
    pub expiry_park: bool,
    /// The last requests on it (and its ancestors), for failure reports.
    pub hist: Vec<String>,
}

impl Sess {
    pub fn new(cookie: String, r: &Resp) -> Sess {
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

    /// Adds a line to its history (the oldest goes beyond [`HIST`]).
    pub fn note_str(&mut self, msg: String) {
        if self.hist.len() >= HIST {
            self.hist.remove(0);
        }
        self.hist.push(msg);
    }

    /// Records one request on this session in its history.
    pub fn note(&mut self, route: &str, res: &Result<Resp, Fail>) {
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

    /// Its history, for a failure report.
    fn history(&self) -> String {
        format!(
            "\n      history (oldest first):\n        {}",
            self.hist.join("\n        ")
        )
    }

    /// Notes an answered request on it.
    pub fn touch(&mut self, r: &Resp) {
        self.last_ok = r.sent;
        self.kills_at_last_ok = r.kills_at_sent;
        self.last_any = self.last_any.max(r.done);
    }

    /// Acknowledged writes it holds (lost with it).
    pub fn acked_count(&self) -> usize {
        self.keys
            .values()
            .filter(|k| k.acked && k.ok.iter().any(|v| v.is_some()))
            .count()
            + usize::from(self.n_acked && self.n_lo > 0)
    }

    /// The books on it and its history, for a failure report.
    pub fn describe(&self) -> String {
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
pub fn show(ok: &[Option<Value>]) -> String {
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

/// The start of an id, for history lines.
pub fn short_id(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// An id the driver ended (or saw end): it must never serve data again.
#[derive(Clone)]
pub struct Dead {
    pub cookie: String,
    pub id: String,
    pub reason: &'static str,
    pub died: Instant,
    pub bound: bool,
}
