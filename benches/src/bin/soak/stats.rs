//! Counters of the run and the failures found, for the summary.

use std::collections::BTreeMap;

/// Failure details printed and kept at most.
const MAX_DETAILS: usize = 200;

#[derive(Default)]
/// Requests by route and status, the outcomes seen, and the failures.
pub struct Stats {
    pub by_route: BTreeMap<&'static str, BTreeMap<String, u64>>,
    pub five_xx_outside: u64,
    pub five_xx_window: u64,
    pub transport_outside: u64,
    pub transport_window: u64,
    pub other_unexpected: u64,
    pub acked_checked: u64,
    pub lost_writes: u64,
    pub lost_sessions: u64,
    pub resurrections: u64,
    pub expired_served: u64,
    pub phantom: u64,
    pub mismatches: u64,
    pub revoke_short: u64,
    pub gone_ambiguous: u64,
    pub gone_ambiguous_idle: Vec<f64>,
    pub gone_no_kill_idle: Vec<f64>,
    pub expired_ok: u64,
    pub dead_checks: u64,
    pub abandoned: u64,
    pub sessions_created: u64,
    pub regenerated: u64,
    pub logins: u64,
    pub logouts: u64,
    pub revoked_sessions: u64,
    pub parks_passivate: u64,
    pub parks_expire: u64,
    pub missing_cookie: u64,
    pub other_failures: u64,
    pub max_live: i64,
    pub max_stored: i64,
    pub failures: Vec<String>,
    pub failure_count: u64,
}

impl Stats {
    /// Records a failure (printed and kept up to [`MAX_DETAILS`]).
    pub fn fail(&mut self, msg: String) {
        self.failure_count += 1;
        if self.failures.len() < MAX_DETAILS {
            eprintln!("soak: FAIL: {msg}");
            self.failures.push(msg);
        }
    }
}
