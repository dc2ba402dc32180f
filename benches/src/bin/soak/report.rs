//! The summary printed at the end, and the verdict.

use crate::clock::secs;
use crate::ctl::Ctl;
use crate::finale::Finale;
use crate::options::Opts;
use crate::server::Incarnation;
use std::path::Path;
use std::time::Instant;

/// What the summary reports besides the counters in `Ctl`.
pub struct Outcome<'a> {
    /// The server binary's file name.
    pub name: &'a str,
    pub run_start: Instant,
    /// Seconds from the start of the run to the end of the load.
    pub load_secs: f64,
    /// Sessions the clients tracked when the load ended.
    pub tracked_at_end: usize,
    pub finale: &'a Finale,
    /// A restart failed (the run stopped early).
    pub restart_failed: bool,
    /// The server's log (scanned for panics, errors and warnings).
    pub log: &'a Path,
}

/// Prints the summary; true if every check passed.
pub fn summary(ctl: &Ctl, o: &Opts, out: &Outcome) -> bool {
    let Outcome {
        name,
        run_start,
        load_secs,
        tracked_at_end,
        finale,
        restart_failed,
        log,
    } = *out;
    let Finale {
        phases: final_phases,
        drain,
        term,
        after_drain,
    } = finale;
    let after_drain = *after_drain;
    let st = ctl.stats();
    let mut incs = ctl.incarnations.lock().unwrap().clone();
    let final_check_peak = split_off_final_check(&mut incs);
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
    print_incarnations(&incs, final_check_peak, after_drain);
    let (rss_ok, fds_ok, growth) = resource_growth(&incs, after_drain, o.kill_every);
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
    let panics = std::fs::read_to_string(log)
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
    let all_ok = checks.iter().all(|(_, ok)| *ok) && !restart_failed && st.failure_count == 0;
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
    let log_text = std::fs::read_to_string(log).unwrap_or_default();
    let noteworthy: Vec<&str> = log_text
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN") || l.contains("panicked"))
        .collect();
    println!("server log: {} ERROR/WARN/panic lines", noteworthy.len());
    for l in noteworthy.iter().take(10) {
        println!("  {l}");
    }

    drop(st);
    all_ok
}

/// The last incarnation under load also ran the first final check (every
/// session read back and written at once): its samples from then on are cut
/// off; their peaks (RSS kB, fds) are returned to be reported apart.
fn split_off_final_check(incs: &mut [Incarnation]) -> Option<(u64, u64)> {
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
    final_check_peak
}

/// One line per server incarnation, then the final check's peak and the
/// state after the drain.
fn print_incarnations(
    incs: &[Incarnation],
    final_check_peak: Option<(u64, u64)>,
    after_drain: Option<(u64, u64)>,
) {
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
}

/// Do RSS and open fds stay bounded? (RSS ok, fds ok, the figures compared.)
fn resource_growth(
    incs: &[Incarnation],
    after_drain: Option<(u64, u64)>,
    kill_every: f64,
) -> (bool, bool, String) {
    // Growth: compare the ends of incarnations that ran (most of) a full
    // kill interval under load.
    let comparable: Vec<&Incarnation> = incs
        .iter()
        .filter(|i| {
            i.under_load
                && i.rss_kb.len() >= 3
                && i.ended
                    .zip(i.started)
                    .is_some_and(|(e, s)| secs(e - s) >= 0.6 * kill_every)
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
    (rss_ok, fds_ok, growth)
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
