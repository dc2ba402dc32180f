//! The session maker for `run.sh`'s `POPULATION` cells: a large population of
//! live sessions, fast.
//!
//! `make-sessions --base URL --n N --out FILE [--concurrency C]`: N
//! `GET /counter` without a cookie, C at a time over keep-alive connections
//! (each of the C tasks sends its requests one after another on its own
//! connection); from each response the session cookie `name=value` (the one
//! `Set-Cookie` whose value is not empty) is kept, and the N cookies are
//! written to FILE, one per line. Each session then holds n = 1. Prints one
//! line: `made N sessions in S s (R/s)`. Exits non-zero, saying why, if any
//! request fails, answers other than 200, carries no session cookie, or a
//! cookie comes back twice: FILE then holds fewer than N lines (or none).
//!
//! `make-sessions --base URL --read-back FILE [--concurrency C]`: the check
//! after a run: `GET /read` with every cookie of FILE; prints one line
//! `sessions=<count> sum=<sum of n> min=<smallest n>` (a session that is gone
//! reads 0). Exits non-zero if a request fails or a body is not an integer.
//!
//! Loopback only: any other host is refused.

use clap::Parser;
use reqwest::header::{COOKIE, SET_COOKIE};
use std::collections::HashSet;
use std::io::{BufRead, BufWriter, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// Base URL, e.g. http://127.0.0.1:4001 (loopback only).
    #[arg(long)]
    base: String,
    /// Sessions to make.
    #[arg(long, default_value_t = 1000)]
    n: usize,
    /// Requests in flight (= keep-alive connections).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Where to write the cookies, one `name=value` per line.
    #[arg(long, required_unless_present = "read_back")]
    out: Option<std::path::PathBuf>,
    /// Instead of making sessions: read `n` back through every cookie of this
    /// file and print the count, sum and minimum.
    #[arg(long, conflicts_with = "out")]
    read_back: Option<std::path::PathBuf>,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    workers: usize,
}

/// `name=value` of the one `Set-Cookie` header whose value is not empty
/// (servers may also clear other cookies, e.g. `name=; Max-Age=0`).
fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers().get_all(SET_COOKIE).iter().find_map(|h| {
        let pair = h.to_str().ok()?.split(';').next()?.trim();
        let (name, value) = pair.split_once('=')?;
        (!name.is_empty() && !value.is_empty()).then(|| pair.to_string())
    })
}

fn die(msg: String) -> ! {
    eprintln!("make-sessions: {msg}");
    std::process::exit(1);
}

/// Runs `job(i)` for i in 0..n, `concurrency` at a time (each worker task
/// takes the next i when its previous request is done, so each keeps one
/// connection busy); returns the results in order of i.
async fn run_all<T, F, Fut>(n: usize, concurrency: usize, job: F) -> Vec<Result<T, String>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, String>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let job = Arc::new(job);
    let tasks: Vec<_> = (0..concurrency.clamp(1, n.max(1)))
        .map(|_| {
            let next = next.clone();
            let job = job.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break out;
                    }
                    out.push((i, job(i).await));
                }
            })
        })
        .collect();
    let mut all: Vec<Option<Result<T, String>>> = (0..n).map(|_| None).collect();
    for t in tasks {
        for (i, r) in t.await.unwrap_or_default() {
            all[i] = Some(r);
        }
    }
    all.into_iter()
        .map(|r| r.unwrap_or_else(|| Err("worker task panicked".to_string())))
        .collect()
}

async fn make(client: reqwest::Client, args: &Args, out: &std::path::Path) {
    let url = format!("{}/counter", args.base.trim_end_matches('/'));
    let started = Instant::now();
    let results = run_all(args.n, args.concurrency, move |_| {
        let req = client.get(url.clone());
        async move {
            let resp = req.send().await.map_err(|e| format!("GET /counter: {e}"))?;
            let status = resp.status();
            let cookie = session_cookie(&resp);
            resp.bytes()
                .await
                .map_err(|e| format!("GET /counter body: {e}"))?;
            if status != reqwest::StatusCode::OK {
                return Err(format!("GET /counter: status {status}"));
            }
            cookie.ok_or_else(|| "GET /counter sent no session cookie".to_string())
        }
    })
    .await;
    let elapsed = started.elapsed();

    let mut seen = HashSet::with_capacity(results.len());
    let mut cookies = Vec::with_capacity(results.len());
    let (mut failed, mut first_err, mut dup) = (0usize, None, 0usize);
    for r in results {
        match r {
            Ok(c) if seen.insert(c.clone()) => cookies.push(c),
            Ok(_) => dup += 1,
            Err(e) => {
                failed += 1;
                first_err.get_or_insert(e);
            }
        }
    }
    let file = std::fs::File::create(out)
        .unwrap_or_else(|e| die(format!("cannot create {}: {e}", out.display())));
    let mut w = BufWriter::new(file);
    for c in &cookies {
        writeln!(w, "{c}").unwrap_or_else(|e| die(format!("write {}: {e}", out.display())));
    }
    w.flush()
        .unwrap_or_else(|e| die(format!("write {}: {e}", out.display())));
    if cookies.len() < args.n {
        die(format!(
            "only {} of {} sessions made ({failed} failed, {dup} duplicate cookies; first error: {}); {} holds {} cookies",
            cookies.len(),
            args.n,
            first_err.as_deref().unwrap_or("-"),
            out.display(),
            cookies.len()
        ));
    }
    let s = elapsed.as_secs_f64();
    println!(
        "made {} sessions in {s:.2} s ({:.0}/s, {} connections)",
        cookies.len(),
        cookies.len() as f64 / s,
        args.concurrency
    );
}

async fn read_back(client: reqwest::Client, args: &Args, file: &std::path::Path) {
    let f = std::fs::File::open(file)
        .unwrap_or_else(|e| die(format!("cannot open {}: {e}", file.display())));
    let cookies: Vec<String> = std::io::BufReader::new(f)
        .lines()
        .map(|l| l.unwrap_or_else(|e| die(format!("read {}: {e}", file.display()))))
        .filter(|l| !l.is_empty())
        .collect();
    let cookies = Arc::new(cookies);
    let url = format!("{}/read", args.base.trim_end_matches('/'));
    let started = Instant::now();
    let n = cookies.len();
    let results = run_all(n, args.concurrency, move |i| {
        let req = client.get(url.clone()).header(COOKIE, cookies[i].clone());
        async move {
            let resp = req.send().await.map_err(|e| format!("GET /read: {e}"))?;
            let body = resp
                .text()
                .await
                .map_err(|e| format!("GET /read body: {e}"))?;
            body.trim()
                .parse::<i64>()
                .map_err(|_| format!("GET /read: body {body:?} is not an integer"))
        }
    })
    .await;
    let (mut sum, mut min) = (0i64, i64::MAX);
    for r in results {
        let v = r.unwrap_or_else(|e| die(e));
        sum += v;
        min = min.min(v);
    }
    eprintln!(
        "make-sessions: read back {n} sessions in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "sessions={n} sum={sum} min={}",
        if n == 0 { 0 } else { min }
    );
}

fn main() {
    let args = Args::parse();
    let url = reqwest::Url::parse(&args.base).unwrap_or_else(|e| die(format!("bad --base: {e}")));
    match url.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => {}
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => {}
        Some(url::Host::Domain("localhost")) => {}
        _ => {
            eprintln!("make-sessions: refusing non-loopback target {}", args.base);
            std::process::exit(2);
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .expect("client");
    rt.block_on(async {
        match (&args.read_back, &args.out) {
            (Some(file), _) => read_back(client, &args, file).await,
            (None, Some(out)) => make(client, &args, out).await,
            (None, None) => die("--out FILE or --read-back FILE".to_string()),
        }
    });
}
