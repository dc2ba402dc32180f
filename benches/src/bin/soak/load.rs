//! The load phase: the virtual clients run until the deadline while the
//! server is SIGKILLed and restarted about every `--kill-every` seconds.

use crate::books::{Dead, Sess};
use crate::client::VClient;
use crate::clock::secs;
use crate::ctl::Ctl;
use crate::options::Opts;
use crate::rng::Rng;
use crate::sampling::sample_now;
use crate::server::{kill_and_restart, Server};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the load phase ended.
pub struct LoadEnd {
    /// The sessions the clients still track.
    pub sessions: Vec<Sess>,
    /// Ended ids before this index were re-checked after a kill.
    pub dead_checked_upto: usize,
    /// A restart that failed (the run then stops early).
    pub failed_setup: Option<String>,
    /// Seconds from the start of the run to the end of the load.
    pub load_secs: f64,
}

/// Runs the load, with progress lines every 15 s and a line per kill.
pub async fn run(
    ctl: &Arc<Ctl>,
    srv: &mut Server,
    o: &Opts,
    seeder: &mut Rng,
    run_start: Instant,
) -> LoadEnd {
    let mut failed_setup = None;
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
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
        if let Err(e) = kill_and_restart(ctl, srv, true).await {
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
    sample_now(ctl);
    if let Some(i) = ctl.incarnations.lock().unwrap().last_mut() {
        i.load_samples = Some(i.rss_kb.len());
    }
    LoadEnd {
        sessions,
        dead_checked_upto,
        failed_setup,
        load_secs,
    }
}
