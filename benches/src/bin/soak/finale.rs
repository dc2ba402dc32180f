//! After the load: every tracked session read back on the running server
//! (writing a marker to each), a last SIGKILL + restart, the same read-back
//! and the ended ids again, an idle drain until nothing is left, SIGTERM.

use crate::books::{Dead, KeyExp, Sess};
use crate::clock::secs;
use crate::ctl::{record_stats, Ctl};
use crate::http::{new_client, Ck};
use crate::rng::Rng;
use crate::sampling::{dir_size, proc_fds, rss_kb_of, sample_now};
use crate::server::{kill_and_restart, Server};
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::json;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the final checks report (besides the counters in `Ctl`).
pub struct Finale {
    /// One line per read-back phase that ran.
    pub phases: Vec<String>,
    /// How the idle drain ended.
    pub drain: String,
    /// How the server answered SIGTERM.
    pub term: String,
    /// RSS (kB) and fds of the server after the drain.
    pub after_drain: Option<(u64, u64)>,
}

impl Finale {
    /// Nothing ran (yet).
    pub fn not_run() -> Finale {
        Finale {
            phases: Vec::new(),
            drain: String::from("not run"),
            term: String::from("not run"),
            after_drain: None,
        }
    }
}

/// Runs the final checks into `fin`; an error is a restart that failed
/// (the later phases are then skipped).
pub async fn run(
    ctl: &Arc<Ctl>,
    srv: &mut Server,
    sessions: Vec<Sess>,
    dead_checked_upto: usize,
    seeder: &mut Rng,
    fin: &mut Finale,
) -> Result<(), String> {
    // A: verify on the running server, writing a marker to each.
    let (s, total, present) = verify_all(ctl, sessions, "final check (running server)", true).await;
    fin.phases.push(format!(
        "running server: {total} tracked sessions read back, {present} present"
    ));
    sample_now(ctl);
    // B: a last SIGKILL, then verify everything again.
    kill_and_restart(ctl, srv, false).await?;
    let (s, total, present) =
        verify_all(ctl, s, "final check (after the last SIGKILL)", false).await;
    fin.phases.push(format!(
        "after the last SIGKILL: {total} read back, {present} present"
    ));
    drop(s);
    fin.phases
        .push(recheck_dead(ctl, dead_checked_upto, seeder).await);
    drain(ctl, fin).await;
    fin.term = terminate(ctl, srv).await;
    Ok(())
}

/// Every id ended since the last kill under load, and a sample of the older
/// ones (each was checked when it ended, and the ones ended shortly before a
/// kill again after that kill). Returns the phase's line.
async fn recheck_dead(ctl: &Ctl, dead_checked_upto: usize, seeder: &mut Rng) -> String {
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
    format!(
        "ended ids re-checked after the last SIGKILL: {n} of {total} (all {recent} ended since the previous kill)"
    )
}

/// Idles until every session has expired and its record left the store
/// (`/stats` live 0, stored 0), at most max age + 20 s; notes the server's
/// RSS and fds then.
async fn drain(ctl: &Ctl, fin: &mut Finale) {
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
            last = record_stats(ctl, &r);
            if last == Some((0, 0)) {
                break;
            }
        }
    }
    *ctl.client.write().unwrap() = new_client();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = ctl.pid.load(SeqCst) as u32;
    fin.after_drain = rss_kb_of(pid).zip(proc_fds(pid));
    fin.drain = match last {
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
}

/// Ends the last incarnation with SIGTERM, which must exit 0 within 10 s.
/// Returns the line for the summary.
async fn terminate(ctl: &Ctl, srv: &mut Server) -> String {
    sample_now(ctl);
    ctl.pid.store(0, SeqCst);
    {
        let mut inc = ctl.incarnations.lock().unwrap();
        if let Some(i) = inc.last_mut() {
            i.ended = Some(Instant::now());
            i.disk_end = dir_size(&srv.data_dir);
        }
    }
    ctl.up.send_replace(false);
    match srv.term(Duration::from_secs(10)).await {
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
    }
}

/// Reads back every tracked session (and `/me` for bound ones); with
/// `marker`, also writes a marker key (an acknowledged write to verify
/// after the next kill).
pub async fn verify_all(
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
                            ctl.unexpected_on(&mut s, &r, "PUT /session/fin");
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
