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
}

/// Parses the command line, builds a multi-thread runtime of `--workers`
/// threads (the same scheduler `#[tokio::main]` gives the demos) and runs
/// `serve(addr)` on it.
pub fn run<F, Fut>(name: &str, serve: F)
where
    F: FnOnce(SocketAddr) -> Fut,
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
    rt.block_on(serve(args.addr));
}

/// `/counter`'s step, as in the demos: absent = 0, saturating.
pub fn increment(n: Option<i64>) -> i64 {
    n.unwrap_or(0).saturating_add(1)
}

/// A fixed 64-byte signing key: the peers are benchmark targets, not
/// production servers, and a fixed key keeps runs reproducible.
pub const BENCH_KEY: &[u8; 64] =
    b"livesession-http-bench-key-0123456789abcdefghijklmnopqrstuvwxyz!";
