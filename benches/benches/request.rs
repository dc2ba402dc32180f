//! One request through the runtime (memory mode), as an adapter drives it:
//! `SessionManager::start` (cookie parse, later signature check and registry
//! lookup), the handler's session calls (each a message to the session's
//! actor), `Session::finish` (the `Set-Cookie` value).
//!
//! * `request_read`: existing session, `get::<i64>("n")`; rolling on and off,
//!   on a 2-worker multi-thread runtime and on a current-thread runtime.
//! * `request_write`: existing session, `update("n", +1)`; alone in the
//!   registry and among 10 000 other live sessions.
//! * `new_session`: no cookie, `insert` + `finish` (id generation, actor
//!   spawn, registry insert, signing).
//!
//! Each measured loop runs inside a spawned task (like a server's handler
//! task), not on the thread that blocks on the runtime.
//!
//! `cargo bench -p livesession-benches --bench request`

use criterion::{criterion_group, criterion_main, Criterion};
use livesession::{RequestInfo, SessionConfig, SessionManager};
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn multi_thread() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn manager(rt: &Runtime, rolling: bool) -> SessionManager {
    let _guard = rt.enter();
    SessionManager::new(
        SessionConfig::builder()
            .secret(SECRET)
            .rolling(rolling)
            .build()
            .expect("valid config"),
    )
}

/// Runs `fut` as a task on `rt` and returns what it returns.
fn on_runtime<T: Send + 'static>(rt: &Runtime, fut: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(rt.spawn(fut)).expect("benchmark task panicked")
}

/// Creates a session holding `n` (and a small login-like payload) and
/// returns the `Cookie` header that names it.
async fn login(m: &SessionManager, n: i64) -> String {
    let s = m.start(&RequestInfo {
        path: "/",
        ..Default::default()
    });
    s.insert("n", n).await.expect("insert");
    s.insert("user", "alice").await.expect("insert");
    s.insert("csrf", "0123456789abcdef0123456789abcdef")
        .await
        .expect("insert");
    let set_cookie = s.finish().await.expect("finish").remove(0);
    set_cookie
        .split(';')
        .next()
        .expect("name=value")
        .to_string()
}

async fn read_once(m: &SessionManager, cookie: &str) -> (Option<i64>, Vec<String>) {
    let s = m.start(&RequestInfo {
        cookie_header: Some(cookie),
        path: "/",
        ..Default::default()
    });
    let n = s.get::<i64>("n").await.expect("get");
    (n, s.finish().await.expect("finish"))
}

async fn write_once(m: &SessionManager, cookie: &str) -> (i64, Vec<String>) {
    let s = m.start(&RequestInfo {
        cookie_header: Some(cookie),
        path: "/",
        ..Default::default()
    });
    let n = s
        .update("n", |n: Option<i64>| n.unwrap_or(0) + 1)
        .await
        .expect("update");
    (n, s.finish().await.expect("finish"))
}

async fn new_once(m: &SessionManager) -> Vec<String> {
    let s = m.start(&RequestInfo {
        path: "/",
        ..Default::default()
    });
    s.insert("n", 1i64).await.expect("insert");
    s.finish().await.expect("finish")
}

fn request_read(c: &mut Criterion) {
    let mut g = c.benchmark_group("request_read");
    for (name, rt, rolling) in [
        ("multi_thread/rolling", multi_thread(), true),
        ("multi_thread/not_rolling", multi_thread(), false),
        ("current_thread/rolling", current_thread(), true),
    ] {
        let m = manager(&rt, rolling);
        let cookie = rt.block_on(login(&m, 41));
        // Sanity: the session is found, and a cookie is sent only when rolling.
        let (n, out) = on_runtime(&rt, {
            let (m, cookie) = (m.clone(), cookie.clone());
            async move { read_once(&m, &cookie).await }
        });
        assert_eq!(n, Some(41));
        assert_eq!(out.len(), usize::from(rolling));

        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (m, cookie) = (m.clone(), cookie.clone());
                on_runtime(&rt, async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(read_once(&m, &cookie).await);
                    }
                    start.elapsed()
                })
            })
        });
        rt.block_on(m.shutdown()).expect("shutdown");
    }
    g.finish();
}

fn request_write(c: &mut Criterion) {
    let mut g = c.benchmark_group("request_write");
    for (name, others) in [("alone", 0usize), ("among_10k_live", 10_000)] {
        let rt = multi_thread();
        let m = manager(&rt, true);
        let cookie = on_runtime(&rt, {
            let m = m.clone();
            async move {
                for i in 0..others {
                    login(&m, i as i64).await;
                }
                login(&m, 0).await
            }
        });
        assert_eq!(
            rt.block_on(m.stats()).expect("stats").live,
            others as u64 + 1
        );
        let (n, out) = on_runtime(&rt, {
            let (m, cookie) = (m.clone(), cookie.clone());
            async move { write_once(&m, &cookie).await }
        });
        assert_eq!((n, out.len()), (1, 1));

        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let (m, cookie) = (m.clone(), cookie.clone());
                on_runtime(&rt, async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(write_once(&m, &cookie).await);
                    }
                    start.elapsed()
                })
            })
        });
        rt.block_on(m.shutdown()).expect("shutdown");
    }
    g.finish();
}

fn new_session(c: &mut Criterion) {
    /// Sessions one manager takes before it is replaced, so the registry
    /// does not grow without bound over the run (and memory stays flat).
    const PER_MANAGER: u64 = 20_000;
    let rt = multi_thread();
    let mut g = c.benchmark_group("new_session");
    g.bench_function("multi_thread", |b| {
        let mut current: Option<(SessionManager, u64)> = None;
        b.iter_custom(|iters| {
            // Untimed: retire a full manager (its actors are stopped).
            if let Some((m, created)) = current.take() {
                if created + iters <= PER_MANAGER {
                    current = Some((m, created));
                } else {
                    rt.block_on(m.shutdown()).expect("shutdown");
                }
            }
            let (m, created) = current.get_or_insert_with(|| (manager(&rt, true), 0));
            *created += iters;
            let m = m.clone();
            on_runtime(&rt, async move {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(new_once(&m).await);
                }
                start.elapsed()
            })
        });
        if let Some((m, _)) = current {
            rt.block_on(m.shutdown()).expect("shutdown");
        }
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = request_read, request_write, new_session
}
criterion_main!(benches);
