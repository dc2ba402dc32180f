//! One request through the runtime (memory mode), as an adapter drives it:
//! `SessionManager::start` (cookie parse, later signature check and registry
//! lookup), the handler's session calls (each a message to the session's
//! actor), `RequestSession::finish` (the `Set-Cookie` value).
//!
//! * `request_read`: existing session, `get::<i64>("n")`; rolling on and off,
//!   on a 2-worker multi-thread runtime and on a current-thread runtime;
//!   and `among_1m`: a different session of 1 000 000 live ones each time.
//! * `request_write`: existing session, `update("n", +1)`; alone in the
//!   registry, among 10 000 other live sessions (the same session every
//!   time), and `among_1m`: a different session of 1 000 000 live ones each
//!   time (its owner is not running: never started, or hibernated a second
//!   after its last write; so the write starts one).
//! * `new_session`: no cookie, `insert` + `finish` (id generation, actor
//!   spawn, registry insert, signing).
//! * `owner_batch/{1,8,64}`: N concurrent `update("n", +1)` calls on one
//!   session (N requests already holding it, polled together), reported as
//!   time per change, in memory mode (a change that finds no owner running
//!   is applied on its request's task).
//! * `owner_batch_store/{1,8,64}`: the same with a store (an in-process
//!   `MemoryStore`, which answers at once): every change goes to the
//!   session's owner, which applies everything queued in one turn with one
//!   save and one flush, so N > 1 shows what batching saves over N = 1.
//!
//! The 1 000 000 sessions (memory mode, as `login` makes them: `n`, a user
//! name and a 32-char token) are built once, on first use, by 64 concurrent
//! logins (~8 s here, more on a busy machine, and ~1.7 GB; setup time and
//! RSS are printed), outside the timed and warm-up loops, and
//! shared by both `among_1m` benches; their cookies are visited in a
//! shuffled order by one cursor that carries on across samples, so no
//! session is reused until all 1 000 000 were.
//!
//! Each measured loop runs inside a spawned task (like a server's handler
//! task), not on the thread that blocks on the runtime.
//!
//! `cargo bench -p livesession-benches --bench request` (all), or a filter:
//! `... --bench request -- among_1m`, `... -- owner_batch`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use livesession::store::MemoryStore;
use livesession::{RequestInfo, Session, SessionManager};
use livesession_benches::{login, memory_manager, rss_bytes, store_manager};
use std::future::Future;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

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
    memory_manager(rolling)
}

/// Runs `fut` as a task on `rt` and returns what it returns.
fn on_runtime<T: Send + 'static>(rt: &Runtime, fut: impl Future<Output = T> + Send + 'static) -> T {
    rt.block_on(rt.spawn(fut)).expect("benchmark task panicked")
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

/// Live sessions in the `among_1m` benches.
const POPULATION: usize = 1_000_000;

/// A manager holding [`POPULATION`] live sessions, on its own runtime, with
/// the cookies of all of them in a shuffled order.
struct Population {
    rt: Runtime,
    manager: SessionManager,
    cookies: Vec<String>,
    /// The next cookie to use (wraps around), shared by the benches.
    cursor: AtomicUsize,
}

impl Population {
    /// `count` cookies from the cursor on, each a different session.
    fn take(&self, count: usize) -> Vec<String> {
        let start = self.cursor.fetch_add(count, Ordering::Relaxed);
        (start..start + count)
            .map(|i| self.cookies[i % self.cookies.len()].clone())
            .collect()
    }
}

/// Built on first use (only when an `among_1m` bench runs) and kept to the
/// end of the process.
fn population() -> &'static Population {
    static POP: OnceLock<Population> = OnceLock::new();
    POP.get_or_init(|| {
        let rt = multi_thread();
        let manager = manager(&rt, true);
        let rss_before = rss_bytes();
        let started = Instant::now();
        let mut cookies = on_runtime(&rt, {
            let m = manager.clone();
            async move {
                // 64 logins in flight at a time, as from a pool of connections.
                let mut cookies = Vec::with_capacity(POPULATION);
                let mut in_flight = tokio::task::JoinSet::new();
                for i in 0..POPULATION {
                    if in_flight.len() >= 64 {
                        cookies.push(in_flight.join_next().await.unwrap().expect("login"));
                    }
                    let m = m.clone();
                    in_flight.spawn(async move { login(&m, i as i64).await });
                }
                while let Some(cookie) = in_flight.join_next().await {
                    cookies.push(cookie.expect("login"));
                }
                cookies
            }
        });
        let built = started.elapsed();
        // Fisher-Yates with xorshift64: creation order is allocation order,
        // which a sequential walk would favour.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in (1..cookies.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cookies.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let live = rt.block_on(manager.stats()).expect("stats").live;
        assert_eq!(live, POPULATION as u64);
        eprintln!(
            "population: {POPULATION} live sessions built in {:.1} s; RSS +{} MiB ({} B per session, cookies included)",
            built.as_secs_f64(),
            rss_bytes().saturating_sub(rss_before) >> 20,
            rss_bytes().saturating_sub(rss_before) / POPULATION as u64,
        );
        Population {
            rt,
            manager,
            cookies,
            cursor: AtomicUsize::new(0),
        }
    })
}

/// The `among_1m` loop: `iters` requests, each on the next session of the
/// population; `f` is one request. The caller gets `pop` from
/// [`population`] outside `iter_custom`, whose wall time criterion's
/// warm-up counts.
fn among_1m<F, Fut, T>(pop: &'static Population, iters: u64, f: F) -> Duration
where
    F: Fn(SessionManager, String) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send,
{
    // Cookies taken (and cloned) before the clock starts.
    let cookies = pop.take(iters as usize);
    let m = pop.manager.clone();
    on_runtime(&pop.rt, async move {
        let start = Instant::now();
        for cookie in cookies {
            black_box(f(m.clone(), cookie).await);
        }
        start.elapsed()
    })
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
    g.bench_function("among_1m", |b| {
        let pop = population();
        b.iter_custom(|iters| {
            among_1m(pop, iters, |m, cookie| async move {
                let (n, out) = read_once(&m, &cookie).await;
                assert!(n.is_some() && out.len() == 1, "session not found");
            })
        })
    });
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
    g.bench_function("among_1m", |b| {
        let pop = population();
        b.iter_custom(|iters| {
            among_1m(pop, iters, |m, cookie| async move {
                let (n, out) = write_once(&m, &cookie).await;
                assert!(n >= 1 && out.len() == 1, "session not found");
            })
        })
    });
    g.finish();
}

/// N concurrent `update`s of one session, timed per change: in memory mode
/// (`owner_batch`), where a change that finds no owner running is applied
/// on its request's task, and with a store (`owner_batch_store`, an
/// in-process `MemoryStore` that answers at once), where every change goes
/// to the session's owner, which applies each batch with one save and one
/// flush.
fn owner_batch(c: &mut Criterion) {
    owner_batch_group(c, "owner_batch", false);
    owner_batch_group(c, "owner_batch_store", true);
}

fn owner_batch_group(c: &mut Criterion, name: &str, with_store: bool) {
    let mut g = c.benchmark_group(name);
    for n in [1usize, 8, 64] {
        let rt = multi_thread();
        let m = if with_store {
            let _guard = rt.enter();
            store_manager(Arc::new(MemoryStore::new()))
        } else {
            manager(&rt, true)
        };
        let cookie = rt.block_on(login(&m, 0));
        // N requests holding the session, each loaded (a read) up front.
        let sessions: Vec<Session> = on_runtime(&rt, {
            let (m, cookie) = (m.clone(), cookie.clone());
            async move {
                let mut sessions = Vec::with_capacity(n);
                for _ in 0..n {
                    let s = m.start(&RequestInfo {
                        cookie_header: Some(&cookie),
                        path: "/",
                        ..Default::default()
                    });
                    assert_eq!(s.get::<i64>("n").await.expect("get"), Some(0));
                    sessions.push(s.session());
                }
                sessions
            }
        });
        let changes = Arc::new(AtomicU64::new(0));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter_custom(|iters| {
                let (sessions, changes) = (sessions.clone(), changes.clone());
                on_runtime(&rt, async move {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let done = futures::future::join_all(
                            sessions
                                .iter()
                                .map(|s| s.update("n", |n: Option<i64>| n.unwrap_or(0) + 1)),
                        )
                        .await;
                        for r in done {
                            black_box(r.expect("update"));
                        }
                    }
                    let elapsed = start.elapsed();
                    changes.fetch_add(iters * n as u64, Ordering::Relaxed);
                    // per change: criterion divides by `iters`
                    elapsed / n as u32
                })
            })
        });
        // Sanity: every change of every batch counted, none lost.
        let total = changes.load(Ordering::Relaxed);
        if total > 0 {
            let (now, _) = on_runtime(&rt, {
                let (m, cookie) = (m.clone(), cookie.clone());
                async move { read_once(&m, &cookie).await }
            });
            assert_eq!(now, Some(total as i64), "lost updates");
        }
        drop(sessions);
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
    targets = request_read, request_write, new_session, owner_batch
}
criterion_main!(benches);
