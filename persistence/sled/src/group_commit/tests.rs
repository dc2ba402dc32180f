//! The group commit's queue, groups, flushes and failures.

use super::*;
use futures::FutureExt;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::time::Duration;

/// A flush that blocks until released, counting runs.
struct Gate {
    runs: AtomicU64,
    fail: AtomicBool,
    entered: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

fn gated() -> (Arc<Gate>, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let gate = Arc::new(Gate {
        runs: AtomicU64::new(0),
        fail: AtomicBool::new(false),
        entered: Mutex::new(entered_tx),
        release: Mutex::new(release_rx),
    });
    (gate, entered_rx, release_tx)
}

fn group_on(gate: &Arc<Gate>) -> Arc<GroupCommit> {
    GroupCommit::new(gated_flush(gate))
}

fn gated_flush(gate: &Arc<Gate>) -> FlushFn {
    let gate = Arc::clone(gate);
    Box::new(move || {
        gate.runs.fetch_add(1, Ordering::SeqCst);
        let _ = gate.entered.lock().unwrap().send(());
        let _ = gate.release.lock().unwrap().recv();
        if gate.fail.load(Ordering::SeqCst) {
            Err("disk on fire".to_owned())
        } else {
            Ok(())
        }
    })
}

fn noop() -> WriteFn {
    Box::new(|| Ok(true))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_write_waits_one_yield_so_a_write_queued_meanwhile_shares_its_flush() {
    let flushes = Arc::new(AtomicU64::new(0));
    let group = GroupCommit::new(Box::new({
        let flushes = Arc::clone(&flushes);
        move || {
            flushes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }));
    let pool = Arc::new(Pool::new(2));
    // While the committer gives way, a second writer's write arrives
    // (queued by the hook, so it lands exactly then).
    let (tx, second) = oneshot::channel();
    let mut pending = Some((noop(), tx, None));
    let queue_of = Arc::downgrade(&group);
    *group.on_yield.lock().unwrap() = Some(Box::new(move || {
        if let (Some(entry), Some(group)) = (pending.take(), queue_of.upgrade()) {
            group.lock().writes.push_back(entry);
        }
    }));
    Arc::clone(&group)
        .write(&pool, noop())
        .await
        .expect("first write");
    let second = tokio::time::timeout(std::time::Duration::from_secs(10), second)
        .await
        .expect("the committer yielded before flushing a lone write")
        .expect("answered");
    second.expect("second write");
    assert_eq!(
        flushes.load(Ordering::SeqCst),
        1,
        "the write that came during the yield shares the first one's flush"
    );
}

/// A first write whose group's flush is stalled at the gate; returns it.
async fn stalled(
    group: &Arc<GroupCommit>,
    pool: &Arc<Pool>,
    entered: mpsc::Receiver<()>,
) -> tokio::task::JoinHandle<Result<bool, StoreError>> {
    let first = tokio::spawn({
        let (group, pool) = (Arc::clone(group), Arc::clone(pool));
        async move { group.write(&pool, noop()).await }
    });
    tokio::task::spawn_blocking(move || entered.recv().expect("first flush"))
        .await
        .expect("join");
    first
}

/// Starts `n` writers behind a stalled flush; returns once all are queued.
async fn queued_writers(
    group: &Arc<GroupCommit>,
    pool: &Arc<Pool>,
    n: usize,
) -> Vec<tokio::task::JoinHandle<Result<bool, StoreError>>> {
    let writers = (0..n)
        .map(|_| {
            let (group, pool) = (Arc::clone(group), Arc::clone(pool));
            tokio::spawn(async move { group.write(&pool, noop()).await })
        })
        .collect();
    while group.lock().writes.len() < n {
        tokio::task::yield_now().await;
    }
    writers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_waiting_on_a_stalled_flush_are_bounded() {
    let (gate, entered, release) = gated();
    let group = GroupCommit::limited(Some(gated_flush(&gate)), 8);
    let pool = Arc::new(Pool::new(2));
    let first = stalled(&group, &pool, entered).await;
    let waiting = queued_writers(&group, &pool, 8).await;
    // The ninth is refused at once instead of growing the queue.
    let ninth = Arc::clone(&group).write(&pool, noop());
    let err = tokio::time::timeout(std::time::Duration::from_secs(10), ninth)
        .await
        .expect("refused at once, not queued behind the stalled flush")
        .expect_err("refused");
    assert!(err.to_string().contains("overloaded"), "{err}");
    release.send(()).expect("release first");
    release.send(()).expect("release second");
    first.await.expect("join").expect("first");
    for w in waiting {
        w.await.expect("join").expect("queued write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_writes_are_pruned_while_a_flush_stalls() {
    let (gate, entered, release) = gated();
    let group = group_on(&gate);
    let pool = Arc::new(Pool::new(2));
    let first = stalled(&group, &pool, entered).await;
    // PRUNE_AT writes whose callers gave up (their deadline passed).
    for _ in 0..PRUNE_AT {
        let (tx, rx) = oneshot::channel();
        drop(rx);
        group.lock().writes.push_back((noop(), tx, None));
    }
    let live = tokio::spawn({
        let (group, pool) = (Arc::clone(&group), Arc::clone(&pool));
        async move { group.write(&pool, noop()).await }
    });
    // The live write is queued (its enqueue pruned the others).
    for _ in 0..10_000 {
        if group.lock().writes.len() <= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert_eq!(group.lock().writes.len(), 1, "only the live write waits");
    release.send(()).expect("release first");
    release.send(()).expect("release second");
    first.await.expect("join").expect("first");
    live.await.expect("join").expect("live write");
    assert_eq!(gate.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_is_flushed_in_groups_of_at_most_max_group() {
    let (gate, entered, release) = gated();
    let group = group_on(&gate);
    let pool = Arc::new(Pool::new(2));
    let first = stalled(&group, &pool, entered).await;
    let backlog = 2 * MAX_GROUP + 88;
    let waiting = queued_writers(&group, &pool, backlog).await;
    for _ in 0..4 {
        release.send(()).expect("release");
    }
    first.await.expect("join").expect("first");
    for w in waiting {
        w.await.expect("join").expect("backlog write");
    }
    // The first group, then MAX_GROUP + MAX_GROUP + 88.
    assert_eq!(gate.runs.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_arriving_during_a_flush_share_the_next_one() {
    let (gate, entered, release) = gated();
    let group = group_on(&gate);
    let pool = Arc::new(Pool::new(2));
    let first = stalled(&group, &pool, entered).await;
    // 50 writers arrive while the first group's flush runs.
    let rest = queued_writers(&group, &pool, 50).await;
    release.send(()).expect("release first");
    release.send(()).expect("release second");
    assert!(first.await.expect("join").expect("write"));
    for task in rest {
        assert!(task.await.expect("join").expect("write"));
    }
    assert_eq!(gate.runs.load(Ordering::SeqCst), 2);
    // Every write is durable: a flush now returns without flushing.
    Arc::clone(&group).flush(&pool).await.expect("flush");
    assert_eq!(gate.runs.load(Ordering::SeqCst), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_flush_reaches_every_waiter_of_its_group_and_the_next_flush_retries() {
    let (gate, entered, release) = gated();
    let group = group_on(&gate);
    let pool = Arc::new(Pool::new(2));
    let first = tokio::spawn({
        let (group, pool) = (Arc::clone(&group), Arc::clone(&pool));
        async move { group.write(&pool, noop()).await }
    });
    let entered = tokio::task::spawn_blocking(move || {
        entered.recv().expect("first flush");
        entered
    })
    .await
    .expect("join");
    let mut waiters = Vec::new();
    for _ in 0..10 {
        let (group, pool) = (Arc::clone(&group), Arc::clone(&pool));
        waiters.push(tokio::spawn(async move {
            group.write(&pool, noop()).await.map(drop)
        }));
    }
    // A caller that applied nothing but wants a flush joins the group.
    let (g, p) = (Arc::clone(&group), Arc::clone(&pool));
    waiters.push(tokio::spawn(async move { g.flush(&p).await }));
    while group.lock().writes.len() < 10 || group.lock().flushes.is_empty() {
        tokio::task::yield_now().await;
    }
    release.send(()).expect("release first");
    first.await.expect("join").expect("first write");
    gate.fail.store(true, Ordering::SeqCst);
    tokio::task::spawn_blocking(move || entered.recv().expect("second flush"))
        .await
        .expect("join");
    release.send(()).expect("release second");
    for waiter in waiters {
        let err = waiter.await.expect("join").expect_err("acknowledged");
        assert!(err.to_string().contains("disk on fire"), "{err}");
    }
    // A later flush runs again, and succeeds.
    gate.fail.store(false, Ordering::SeqCst);
    release.send(()).expect("release third");
    Arc::clone(&group).flush(&pool).await.expect("retried");
    assert_eq!(gate.runs.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_write_that_fails_keeps_its_own_error_and_others_succeed() {
    let group = GroupCommit::new(Box::new(|| Ok(())));
    let pool = Pool::new(1);
    let err = Arc::clone(&group)
        .write(&pool, Box::new(|| Err(StoreError::AlreadyExists)))
        .await
        .expect_err("fails");
    assert!(matches!(err, StoreError::AlreadyExists), "{err}");
    Arc::clone(&group).write(&pool, noop()).await.expect("ok");
}

#[tokio::test]
async fn a_panicking_flush_is_an_error_not_a_hang() {
    let group = GroupCommit::new(Box::new(|| panic!("boom")));
    let pool = Pool::new(1);
    let err = Arc::clone(&group)
        .write(&pool, noop())
        .await
        .expect_err("must fail");
    assert!(err.to_string().contains("panicked"), "{err}");
    let err = Arc::clone(&group)
        .write(&pool, noop())
        .await
        .expect_err("again");
    assert!(err.to_string().contains("panicked"), "{err}");
}

#[tokio::test]
async fn a_cancelled_writer_is_skipped_and_the_committer_goes_on() {
    let group = GroupCommit::new(Box::new(|| Ok(())));
    let pool = Pool::new(1);
    let ran = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&ran);
    // Queued, then dropped before any committer took it.
    {
        let mut queue = group.lock();
        let (tx, rx) = oneshot::channel();
        queue.writes.push_back((
            Box::new(move || {
                r.store(true, Ordering::SeqCst);
                Ok(true)
            }),
            tx,
            None,
        ));
        drop(rx);
    }
    Arc::clone(&group).write(&pool, noop()).await.expect("ok");
    assert!(!ran.load(Ordering::SeqCst), "applied a cancelled write");
}

/// Queues a write with its reply channel held here, as a caller of `write`
/// would; its group's answers are to be sent from `runtime` (here an idle
/// one, so that the test decides when its tasks run).
fn queue_held(
    group: &Arc<GroupCommit>,
    runtime: &tokio::runtime::Runtime,
) -> oneshot::Receiver<Result<bool, StoreError>> {
    let (tx, rx) = oneshot::channel();
    let mut queue = group.lock();
    queue
        .writes
        .push_back((noop(), tx, Some(runtime.handle().clone())));
    rx
}

/// A runtime whose tasks run only when the test drives it.
fn idle_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

/// The committer with a group's answers handed to a task on `callers`, and
/// held (in a test hook) just before it would send them itself: it has
/// taken the next group and is about to flush it.
struct Relayed {
    /// The three writes of the relayed group, not yet answered.
    held: Vec<oneshot::Receiver<Result<bool, StoreError>>>,
    /// The write of the next group.
    third: tokio::task::JoinHandle<Result<bool, StoreError>>,
    /// Lets the committer go on to the next group's flush.
    resume: mpsc::Sender<()>,
    /// Reports when that flush has begun.
    entered: mpsc::Receiver<()>,
    /// Lets that flush finish.
    release: mpsc::Sender<()>,
}

async fn relayed_to(callers: &tokio::runtime::Runtime) -> Relayed {
    let (gate, entered, release) = gated();
    let group = group_on(&gate);
    let pool = Arc::new(Pool::new(2));
    // Each group here gathers with one yield; the third group's holds the
    // committer until the test resumes it.
    let (at_third_tx, at_third) = mpsc::channel();
    let (resume, resume_rx) = mpsc::channel::<()>();
    let mut yields = 0;
    *group.on_yield.lock().unwrap() = Some(Box::new(move || {
        yields += 1;
        if yields == 3 {
            let _ = at_third_tx.send(());
            let _ = resume_rx.recv();
        }
    }));
    let write = |group: &Arc<GroupCommit>| {
        let (group, pool) = (Arc::clone(group), Arc::clone(&pool));
        tokio::spawn(async move { group.write(&pool, noop()).await })
    };
    let next_flush = |entered: mpsc::Receiver<()>| {
        tokio::task::spawn_blocking(move || {
            entered.recv().expect("a flush");
            entered
        })
    };
    let first = write(&group);
    let entered = next_flush(entered).await.expect("join");
    let held = (0..3).map(|_| queue_held(&group, callers)).collect();
    release.send(()).expect("release the first flush");
    first.await.expect("join").expect("first");
    let entered = next_flush(entered).await.expect("join");
    let third = write(&group);
    while group.lock().writes.is_empty() {
        tokio::task::yield_now().await;
    }
    release.send(()).expect("release the held writes' flush");
    tokio::task::spawn_blocking(move || at_third.recv().expect("the third group's yield"))
        .await
        .expect("join");
    Relayed {
        held,
        third,
        resume,
        entered,
        release,
    }
}

fn assert_all_answered(held: &mut [oneshot::Receiver<Result<bool, StoreError>>]) {
    for rx in held {
        assert!(rx.try_recv().expect("answered").expect("write"));
    }
}

/// Lets the committer flush the third group and waits for its write.
async fn finish(relayed: Relayed) {
    relayed.resume.send(()).expect("resume");
    relayed.release.send(()).expect("release the third flush");
    relayed.third.await.expect("join").expect("third");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_answered_by_one_task_on_its_callers_runtime() {
    let callers = idle_runtime();
    let mut relayed = relayed_to(&callers).await;
    // Flushed, but not answered from the committer's thread: the answers
    // wait for the one task spawned on the callers' runtime.
    for rx in &mut relayed.held {
        assert!(
            matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "answered from the committer's thread"
        );
    }
    assert_eq!(
        callers.metrics().num_alive_tasks(),
        1,
        "one task for the group's three answers"
    );
    // One turn of that runtime answers them all.
    tokio::task::spawn_blocking(move || callers.block_on(tokio::task::yield_now()))
        .await
        .expect("join");
    assert_all_answered(&mut relayed.held);
    finish(relayed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_whose_runtime_shuts_down_is_still_answered() {
    let callers = idle_runtime();
    let mut relayed = relayed_to(&callers).await;
    // The task that holds the answers never runs: shutting down drops it.
    tokio::task::spawn_blocking(move || drop(callers))
        .await
        .expect("join");
    assert_all_answered(&mut relayed.held);
    finish(relayed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_whose_task_has_not_run_are_sent_before_the_next_flush() {
    let callers = idle_runtime();
    let Relayed {
        mut held,
        third,
        resume,
        entered,
        release,
    } = relayed_to(&callers).await;
    // The callers' runtime never runs; once the committer goes on, it sends
    // the answers itself before the next group's flush (stalled here).
    resume.send(()).expect("resume");
    tokio::task::spawn_blocking(move || entered.recv().expect("the third flush"))
        .await
        .expect("join");
    assert_all_answered(&mut held);
    release.send(()).expect("release the third flush");
    third.await.expect("join").expect("third");
    tokio::task::spawn_blocking(move || drop(callers))
        .await
        .expect("join");
}

/// Starts two writes from a task on `callers` that then blocks its thread
/// until both are answered (as a `Drop` that blocks on a store call does);
/// the receiver gets whether both succeeded.
fn writes_blocking_their_thread(
    group: &Arc<GroupCommit>,
    pool: &Arc<Pool>,
    callers: tokio::runtime::Builder,
) -> mpsc::Receiver<bool> {
    let (done_tx, done_rx) = mpsc::channel();
    let (group, pool) = (Arc::clone(group), Arc::clone(pool));
    let mut callers = callers;
    std::thread::spawn(move || {
        let callers = callers.build().expect("runtime");
        callers.block_on(async move {
            let blocked = tokio::spawn(async move {
                let both = futures::future::join(
                    Arc::clone(&group).write(&pool, noop()),
                    Arc::clone(&group).write(&pool, noop()),
                );
                let (a, b) = futures::executor::block_on(both);
                let _ = done_tx.send(a.is_ok() && b.is_ok());
            });
            let _ = blocked.await;
        });
    });
    done_rx
}

/// Waits (off the runtime) up to 10 s for what `writes_blocking_their_thread` reports.
async fn answered_within_10_s(done: mpsc::Receiver<bool>) -> Result<bool, mpsc::RecvTimeoutError> {
    tokio::task::spawn_blocking(move || done.recv_timeout(std::time::Duration::from_secs(10)))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_blocking_the_only_thread_of_their_runtime_are_still_answered() {
    let one_thread = [
        (
            "current-thread",
            tokio::runtime::Builder::new_current_thread(),
        ),
        ("one-worker multi-thread", {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(1);
            b
        }),
    ];
    for (kind, callers) in one_thread {
        let (gate, entered, release) = gated();
        let group = group_on(&gate);
        let pool = Arc::new(Pool::new(2));
        let first = stalled(&group, &pool, entered).await;
        let done = writes_blocking_their_thread(&group, &pool, callers);
        while group.lock().writes.len() < 2 {
            tokio::task::yield_now().await;
        }
        release.send(()).expect("release first");
        release.send(()).expect("release second");
        first.await.expect("join").expect("first");
        assert_eq!(
            answered_within_10_s(done).await,
            Ok(true),
            "{kind}: the group's answers waited for a task on the blocked runtime"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_after_a_write_made_outside_the_committer_runs_one() {
    let (gate, entered, release) = gated();
    let group = group_on(&gate);
    let pool = Arc::new(Pool::new(2));
    // The expiry sweep removes records itself and counts the change.
    group.applied();
    let flush = tokio::spawn({
        let (group, pool) = (Arc::clone(&group), Arc::clone(&pool));
        async move { group.flush(&pool).await }
    });
    tokio::task::spawn_blocking(move || {
        entered
            .recv_timeout(Duration::from_secs(10))
            .expect("a flush runs")
    })
    .await
    .expect("join");
    release.send(()).expect("release");
    flush.await.expect("join").expect("flush");
    assert_eq!(gate.runs.load(Ordering::SeqCst), 1);
    // Now durable: the next barrier has nothing to wait for.
    assert!(matches!(
        Arc::clone(&group).flush(&pool).now_or_never(),
        Some(Ok(()))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_after_a_failed_write_runs_one() {
    let runs = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&runs);
    let group = GroupCommit::new(Box::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }));
    let pool = Arc::new(Pool::new(2));
    // A write that fails may leave part of itself behind (or mean the
    // database failed, which a flush reopens): no group flush ran for it...
    let failing: WriteFn = Box::new(|| Err(StoreError::backend("index write failed")));
    Arc::clone(&group)
        .write(&pool, failing)
        .await
        .expect_err("the write fails");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    // ...so the next barrier runs one.
    Arc::clone(&group).flush(&pool).await.expect("flush");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_called_while_a_write_is_applied_waits_for_it() {
    let group = GroupCommit::new(Box::new(|| Ok(())));
    let pool = Arc::new(Pool::new(2));
    // A write the committer has taken and is applying (its caller may have
    // gone meanwhile: it still lands).
    let (started_tx, started_rx) = mpsc::channel();
    let (finish_tx, finish_rx) = mpsc::channel::<()>();
    let landed = Arc::new(AtomicBool::new(false));
    let write: WriteFn = Box::new({
        let landed = Arc::clone(&landed);
        move || {
            started_tx.send(()).expect("started");
            finish_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("finish");
            landed.store(true, Ordering::SeqCst);
            Ok(true)
        }
    });
    let writer = tokio::spawn({
        let (group, pool) = (Arc::clone(&group), Arc::clone(&pool));
        async move { group.write(&pool, write).await }
    });
    tokio::task::spawn_blocking(move || started_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .expect("join")
        .expect("the write is being applied");
    // A barrier called now is ordered after it: the runtime's cleanup of a
    // dropped create flushes, then looks for what the create wrote (the
    // create's caller is gone by then; the committer had taken the write).
    let mut flush = Box::pin(Arc::clone(&group).flush(&pool));
    assert!(
        futures::poll!(flush.as_mut()).is_pending(),
        "the flush returned while a write was being applied"
    );
    finish_tx.send(()).expect("finish");
    flush.await.expect("flush");
    assert!(landed.load(Ordering::SeqCst));
    assert!(writer.await.expect("join").expect("write"));
}
