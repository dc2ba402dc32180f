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
//! (`soak --help` says what each flag means; the flags are in `options.rs`.)
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

mod books;
mod client;
mod clock;
mod ctl;
mod finale;
mod http;
mod load;
mod options;
mod report;
mod rng;
mod sampling;
mod server;
mod stats;
mod verify;

use clap::Parser;
use clock::START;
use ctl::Ctl;
use finale::Finale;
use options::Opts;
use rng::Rng;
use sampling::sampler;
use server::{start_incarnation, Server};
use stats::Stats;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[tokio::main]
async fn main() {
    let o = Opts::parse();
    START.get_or_init(Instant::now);
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
        data_dir,
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
        client: RwLock::new(http::new_client()),
        st: Mutex::new(Stats::default()),
        dead: Mutex::new(Vec::new()),
        incarnations: Mutex::new(Vec::new()),
    });
    let run_start = Instant::now();
    if let Err(e) = start_incarnation(&ctl, &mut srv, true).await {
        eprintln!("soak: the server did not start: {e}");
        std::process::exit(1);
    }
    let stop_sampler = Arc::new(AtomicBool::new(false));
    let sampler_task = tokio::spawn(sampler(ctl.clone(), stop_sampler.clone()));

    let mut seeder = Rng(o.seed);
    let load = load::run(&ctl, &mut srv, &o, &mut seeder, run_start).await;
    let mut failed_setup = load.failed_setup;
    let tracked_at_end = load.sessions.len();
    let mut fin = Finale::not_run();
    if failed_setup.is_none() {
        let res = finale::run(
            &ctl,
            &mut srv,
            load.sessions,
            load.dead_checked_upto,
            &mut seeder,
            &mut fin,
        )
        .await;
        failed_setup = res.err();
    }
    if let Some(e) = &failed_setup {
        let mut st = ctl.stats();
        st.other_failures += 1;
        st.fail(format!("server restart failed: {e}"));
    }
    stop_sampler.store(true, SeqCst);
    sampler_task.abort();
    srv.kill9();

    let all_ok = report::summary(
        &ctl,
        &o,
        &report::Outcome {
            name: &name,
            run_start,
            load_secs: load.load_secs,
            tracked_at_end,
            finale: &fin,
            restart_failed: failed_setup.is_some(),
            log: &log,
        },
    );
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
