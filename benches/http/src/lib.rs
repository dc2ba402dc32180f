//! Shared bits of the peer servers: the command line and the runtime.
//!
//! Every peer binary exposes exactly four routes on `--addr HOST:PORT`:
//!
//! - `GET /plain`   → `ok`, no session machinery at all (the framework's ceiling);
//! - `GET /counter` → read-modify-write of the integer `n` in the session; body = new value;
//! - `GET /read`    → body = `n` (`0` when absent); read only;
//! - `GET /new`     → sets a value in the request's session; the benchmark sends no
//!   cookie, so every request creates (and stores) a brand-new session.
//!
//! `--workers N` sizes the tokio runtime (default 1), so a peer runs on one
//! worker thread like the demos do under `taskset -c 0`.
//!
//! The Redis peers (`peer-*-redis`) also take `--redis redis://HOST:PORT/`
//! (loopback only, see [`redis_url`]); the others ignore it.

use clap::Parser;
use std::future::Future;
use std::net::SocketAddr;

/// Command line shared by every peer server.
#[derive(Parser, Debug, Clone)]
pub struct PeerArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Redis URL, for the `peer-*-redis` servers (required there, ignored by
    /// the others). Loopback only.
    #[arg(long)]
    pub redis: Option<String>,
}

/// Parses the command line, builds a multi-thread runtime of `--workers`
/// threads (the same scheduler `#[tokio::main]` gives the demos) and runs
/// `serve(addr)` on it.
pub fn run<F, Fut>(name: &str, serve: F)
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: Future<Output = ()>,
{
    run_with(name, |args| serve(args.addr));
}

/// As [`run`], but `serve` gets the whole command line (the Redis peers need
/// `--redis`).
pub fn run_with<F, Fut>(name: &str, serve: F)
where
    F: FnOnce(PeerArgs) -> Fut,
    Fut: Future<Output = ()>,
{
    let args = PeerArgs::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.workers.max(1))
        .enable_all()
        .build()
        .expect("cannot build the tokio runtime");
    eprintln!(
        "{name}: listening on http://{} ({} worker thread(s))",
        args.addr, args.workers
    );
    rt.block_on(serve(args));
}

/// `--redis`, checked: present, a `redis://` URL, and on a loopback host (the
/// benchmark never talks to anything but this machine). Exits with status 2
/// otherwise.
pub fn redis_url(name: &str, args: &PeerArgs) -> String {
    let Some(raw) = args.redis.as_deref() else {
        eprintln!("{name}: --redis redis://127.0.0.1:PORT/ is required");
        std::process::exit(2);
    };
    let ok = match url::Url::parse(raw) {
        Ok(u) if u.scheme() == "redis" => match u.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            // redis:// is no "special" scheme: the url crate leaves its
            // host opaque, so an IP address arrives here as text
            Some(url::Host::Domain(d)) => {
                d == "localhost"
                    || d.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            None => false,
        },
        _ => false,
    };
    if !ok {
        eprintln!("{name}: --redis must be a redis:// URL on a loopback host, got {raw}");
        std::process::exit(2);
    }
    raw.to_string()
}

/// `/counter`'s step, as in the demos: absent = 0, saturating.
pub fn increment(n: Option<i64>) -> i64 {
    n.unwrap_or(0).saturating_add(1)
}

/// A fixed 64-byte signing key: the peers are benchmark targets, not
/// production servers, and a fixed key keeps runs reproducible.
pub const BENCH_KEY: &[u8; 64] =
    b"livesession-http-bench-key-0123456789abcdefghijklmnopqrstuvwxyz!";
