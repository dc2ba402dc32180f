//! The concurrency check: on ONE session, how many of N concurrent
//! `GET /counter` increments does a server lose?
//!
//! 1. `GET /counter` without a cookie: the server makes a session (n = 1) and
//!    sends its cookie;
//! 2. N `GET /counter` in parallel, all with that cookie (one connection each);
//! 3. `GET /read` with the cookie a browser would hold by then (the last
//!    `Set-Cookie` received, else the first one): the final n.
//!
//! Expected final value: 1 + N. Lost = 1 + N − final. Prints one
//! tab-separated line: `name  N  final  lost  non_200  errors`.
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
    /// Base URL, e.g. http://127.0.0.1:4001 (loopback only).
    #[arg(long)]
    base: String,
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
    let url = reqwest::Url::parse(&args.base).expect("bad --base");
    match url.host() {
        Some(url::Host::Ipv4(ip)) if ip.is_loopback() => {}
        Some(url::Host::Ipv6(ip)) if ip.is_loopback() => {}
        Some(url::Host::Domain("localhost")) => {}
        _ => {
            eprintln!("lost-updates: refusing non-loopback target {}", args.base);
            std::process::exit(2);
        }
    }
    let base = args.base.trim_end_matches('/').to_string();
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
    let results = join_all((0..args.n).map(|_| {
        let client = client.clone();
        let url = format!("{base}/counter");
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
    let read = client
        .get(format!("{base}/read"))
        .header(COOKIE, read_cookie)
        .send()
        .await
        .expect("GET /read");
    let body = read.text().await.expect("GET /read body");
    let final_n: i64 = body.trim().parse().unwrap_or(-1);
    let expected = 1 + args.n as i64;
    println!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        args.name,
        args.n,
        final_n,
        expected - final_n,
        non_200,
        errors
    );
}
