//! The concurrency check: on ONE session, how many of N concurrent
//! `GET /counter` increments does a server lose?
//!
//! 1. `GET /counter` without a cookie: the server makes a session (n = 1) and
//!    sends its cookie;
//! 2. N `GET /counter` in parallel, all with that cookie (one connection each);
//! 3. `GET /read` with the cookie a browser would hold by then (the last
//!    `Set-Cookie` received, else the first one): the final n.
//!
//! With several `--base` (processes of one server sharing one store, e.g. two
//! nodes on one Redis), step 1 goes to the first, the N requests of step 2
//! alternate between them (request i to base i mod count) and step 3 reads
//! `n` back from every base: the final n is the first base's.
//!
//! Expected final value: 1 + N. Lost = 1 + N − final. Prints one
//! tab-separated line: `name  N  final  lost  non_200  errors  reads`
//! (`reads`: the n read from each base, comma-separated).
//! Loopback only: any other host is refused.

use clap::Parser;
use futures::future::join_all;
use reqwest::header::{COOKIE, SET_COOKIE};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Parser)]
struct Args {
    /// Label printed in the first column.
    #[arg(long)]
    name: String,
    /// Base URL, e.g. http://127.0.0.1:4001 (loopback only); repeat it to
    /// spread the requests over several processes.
    #[arg(long, required = true)]
    base: Vec<String>,
    /// Concurrent increments.
    #[arg(long, default_value_t = 400)]
    n: usize,
}

/// `name=value` of the first `Set-Cookie` header, if any.
fn set_cookie(resp: &reqwest::Response) -> Option<String> {
    let h = resp.headers().get(SET_COOKIE)?.to_str().ok()?;
    let pair = h.split(';').next()?.trim();
    (!pair.is_empty() && !pair.ends_with('=')).then(|| pair.to_string())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args = Args::parse();
    for base in &args.base {
        let url = reqwest::Url::parse(base).expect("bad --base");
        match url.host() {
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => {}
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => {}
            Some(url::Host::Domain("localhost")) => {}
            _ => {
                eprintln!("lost-updates: refusing non-loopback target {base}");
                std::process::exit(2);
            }
        }
    }
    let bases: Vec<String> = args
        .base
        .iter()
        .map(|b| b.trim_end_matches('/').to_string())
        .collect();
    let base = bases[0].clone();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(args.n)
        .build()
        .expect("client");

    let first = client
        .get(format!("{base}/counter"))
        .send()
        .await
        .expect("first GET /counter");
    let cookie = set_cookie(&first).expect("first GET /counter sent no Set-Cookie");
    assert!(
        first.status().is_success(),
        "first GET /counter: {}",
        first.status()
    );
    let _ = first.text().await;

    let last_cookie = Arc::new(Mutex::new(None::<String>));
    let results = join_all((0..args.n).map(|i| {
        let client = client.clone();
        let url = format!("{}/counter", bases[i % bases.len()]);
        let cookie = cookie.clone();
        let last_cookie = last_cookie.clone();
        async move {
            let resp = client.get(url).header(COOKIE, cookie).send().await?;
            if let Some(c) = set_cookie(&resp) {
                *last_cookie.lock().unwrap() = Some(c);
            }
            let status = resp.status();
            resp.text().await?;
            Ok::<_, reqwest::Error>(status)
        }
    }))
    .await;
    let errors = results.iter().filter(|r| r.is_err()).count();
    let non_200 = results
        .iter()
        .filter(|r| matches!(r, Ok(s) if s.as_u16() != 200))
        .count();
    if let Some(e) = results.iter().find_map(|r| r.as_ref().err()) {
        eprintln!("lost-updates {}: first error: {e}", args.name);
    }

    let read_cookie = last_cookie.lock().unwrap().clone().unwrap_or(cookie);
    let mut reads = Vec::new();
    for b in &bases {
        let read = client
            .get(format!("{b}/read"))
            .header(COOKIE, read_cookie.clone())
            .send()
            .await
            .expect("GET /read");
        let body = read.text().await.expect("GET /read body");
        reads.push(body.trim().parse::<i64>().unwrap_or(-1));
    }
    let final_n = reads[0];
    let expected = 1 + args.n as i64;
    let reads: Vec<String> = reads.iter().map(i64::to_string).collect();
    println!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
        args.name,
        args.n,
        final_n,
        expected - final_n,
        non_200,
        errors,
        reads.join(",")
    );
}
