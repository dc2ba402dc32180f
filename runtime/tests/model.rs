//! Model-based tests: random sequences of requests, clock moves,
//! passivations, restarts, store faults and cancelled requests, checked
//! step by step against a sequential model of every session, over the
//! runtime's own backends: memory mode and `MemoryStore` (behind a
//! `FaultyStore`). The harness (the steps, the model, the runner) is
//! `livesession_test_support::model`, which describes what is checked;
//! `persistence/sled/tests/model.rs` runs it over `SledStore`.
//!
//! `known_deviations` keeps the minimal sequence of each runtime bug the
//! model found as a regression test.
//!
//! More cases: `PROPTEST_CASES=1000 cargo test -p livesession --test model`;
//! `MODEL_STATS=1` prints what the cases went through.

mod runtime_backends {
    use livesession_test_support::model::{case, check, config, InMemoryStore, NoStore};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(config(48))]

        #[test]
        fn memory_mode_matches_the_model((setup, ops) in case(40)) {
            check(NoStore, &setup, &ops)?;
        }

        #[test]
        fn memory_store_matches_the_model((setup, ops) in case(40)) {
            check(InMemoryStore::new(), &setup, &ops)?;
        }
    }
}

/// The known deviations, each as the minimal sequence the properties
/// shrank it to, run with the model expecting the documented behaviour.
/// Regression tests: the minimal sequences of the runtime bugs this model
/// found (all fixed; their switches in `KNOWN` are off).
mod known_deviations {
    use livesession::clock::ManualClock;
    use livesession::testing::{FaultyStore, Op as StoreOp};
    use livesession::{SessionConfig, SessionManager};
    use livesession_test_support::model::{
        check_with, parse_set_cookie, start, Action, Fault, FaultKind, Host, InMemoryStore, Known,
        NoStore, Op, SetCookie, Setup, Val, Who, KNOWN, MAX_AGE_MS, SECRET, START_MS,
    };
    use std::sync::Arc;
    use std::time::Duration;
    use Action::*;

    fn setup() -> Setup {
        Setup {
            hibernate_ms: 1000,
            absolute: false,
            sweep_ms: 1000,
        }
    }

    fn jar(actions: Vec<Action>) -> Op {
        Op::Request {
            who: Who::Jar(0),
            actions,
        }
    }

    fn open() -> Op {
        Op::Open {
            slot: 0,
            who: Who::Jar(0),
        }
    }

    fn held(action: Action) -> Op {
        Op::Continue { slot: 0, action }
    }

    fn run(known: Known, host: impl Host, ops: &[Op]) {
        if let Err(e) = check_with(known, host, &setup(), ops) {
            panic!("{e}");
        }
    }

    #[test]
    fn reload_keeps_the_writes_of_a_new_session() {
        let known = Known {
            reload_empties_new_session: false,
            ..KNOWN
        };
        run(known, NoStore, &[jar(vec![Insert(0, Val::Int(0)), Reload])]);
    }

    #[test]
    fn remove_reaches_a_key_added_by_another_request() {
        let known = Known {
            stale_view_skips_remove_and_clear: false,
            ..KNOWN
        };
        let ops = [
            jar(vec![BindUser(0)]),
            open(),
            jar(vec![Update(0)]),
            held(Remove(0)),
        ];
        run(known, NoStore, &ops);
    }

    #[test]
    fn clear_reaches_a_key_added_by_another_request() {
        let known = Known {
            stale_view_skips_remove_and_clear: false,
            ..KNOWN
        };
        let ops = [
            jar(vec![BindUser(0)]),
            open(),
            jar(vec![Insert(0, Val::Int(1))]),
            held(Clear),
            Op::Close { slot: 0 },
            jar(vec![Get(0)]),
        ];
        run(known, NoStore, &ops);
    }

    #[test]
    fn reload_after_passivation_sees_the_session() {
        let known = Known {
            reload_after_passivation_empties: false,
            ..KNOWN
        };
        let ops = [jar(vec![Update(0)]), open(), Op::Passivate, held(Reload)];
        run(known, InMemoryStore::new(), &ops);
    }

    #[test]
    fn touch_after_passivation_extends_the_idle_timeout() {
        let known = Known {
            touch_after_passivation_lost: false,
            ..KNOWN
        };
        let ops = [
            jar(vec![Update(0)]),
            open(),
            Op::Passivate,
            held(Touch),
            Op::Close { slot: 0 },
            Op::Advance { ms: MAX_AGE_MS - 1 },
            jar(vec![Get(0)]),
        ];
        run(known, InMemoryStore::new(), &ops);
    }

    #[test]
    fn an_id_ended_after_passivation_is_never_sent_again() {
        let known = Known {
            finish_resends_id_ended_after_passivation: false,
            ..KNOWN
        };
        let ops = [
            jar(vec![Save]),
            open(),
            Op::Passivate,
            jar(vec![Regenerate(0)]),
            Op::Close { slot: 0 },
        ];
        run(known, InMemoryStore::new(), &ops);
    }

    /// A new session refused at creation (its user was revoked while only
    /// its request had it) leaves nothing behind, even when deleting its
    /// record fails: a later revoke of the user counts no such session.
    #[test]
    #[ignore = "runtime bug: the record of a refused new session can stay (Known::revoke_counts_uncreated_records)"]
    fn a_refused_new_session_is_not_counted_by_a_later_revoke() {
        let known = Known {
            revoke_counts_uncreated_records: false,
            ..KNOWN
        };
        let ops = [
            held(BindUser(1)),
            Op::Revoke { user: 1 },
            Op::Fault(Fault {
                op: StoreOp::Delete,
                kind: FaultKind::FailNext(1),
            }),
            Op::Close { slot: 0 },
            Op::Revoke { user: 1 },
        ];
        run(known, InMemoryStore::new(), &ops);
    }

    /// A load during a passivation's write is not lost: the session's
    /// stored expiry counts from it. Here the passivation writes a moved
    /// expiry (+70 min) and the write takes 10 ms; the load at +20 min
    /// lands meanwhile, and the record keeps +70 instead of +80 (found with
    /// a flush made slow by a failed write before it, which fails the same
    /// way).
    #[test]
    fn a_load_during_passivation_moves_the_stored_expiry() {
        let known = Known {
            load_during_passivation_lost: false,
            ..KNOWN
        };
        let setup = Setup {
            hibernate_ms: 1,
            ..setup()
        };
        let ops = [
            jar(vec![Update(0)]),
            Op::Advance { ms: 10 * 60_000 },
            jar(vec![Get(0)]),
            Op::Advance { ms: 10 * 60_000 },
            Op::Fault(Fault {
                op: StoreOp::Save,
                kind: FaultKind::Delay(10),
            }),
            Op::Sleep { ms: 2 },
            jar(vec![Get(0)]),
        ];
        for _ in 0..5 {
            if let Err(e) = check_with(known, InMemoryStore::new(), &setup, &ops) {
                panic!("{e}");
            }
        }
    }

    /// A request that starts after an activation failed (and after the
    /// request waiting on it got the failure) loads the session again.
    /// Minimal sequence: `[Request { Jar(1), [Update(0)] }, Passivate,
    /// Fault(Load, FailNext(1)), Request { Jar(1), [Get(1)] }, Request {
    /// Jar(1), [Get(1)] }]` fails at the last step in about half the runs;
    /// this test repeats the race directly.
    #[test]
    fn a_request_after_a_failed_activation_loads_again() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let mut stale = Vec::new();
            for _ in 0..50 {
                let store = FaultyStore::new(livesession::store::MemoryStore::new());
                let m = SessionManager::new(
                    SessionConfig::builder()
                        .secret(SECRET)
                        .store(Arc::new(store.clone()))
                        .passivate_after(Duration::from_millis(1))
                        .build()
                        .expect("valid config"),
                );
                let s = start(&m, None);
                s.insert("a", 1).await.expect("insert");
                let cookie = match parse_set_cookie(&s.finish().await.expect("finish")) {
                    Ok(Some(SetCookie::Value(v))) => v,
                    other => panic!("expected a cookie, got {other:?}"),
                };
                while m.stats().await.expect("stats").live > 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                store.fail_next(StoreOp::Load, 1);
                let failed = start(&m, Some(&cookie));
                assert!(
                    failed.get::<i64>("a").await.is_err(),
                    "the injected failure"
                );
                store.heal();
                let next = start(&m, Some(&cookie));
                if let Err(e) = next.get::<i64>("a").await {
                    stale.push(e.to_string());
                }
            }
            assert!(
                stale.is_empty(),
                "{} of 50 requests after a failed activation got its failure: {:?}",
                stale.len(),
                stale.first()
            );
        });
    }

    /// Not a sequence (the model abandons open requests when the clock
    /// moves, since racing the expiry timer has no single outcome): a
    /// request that loaded a session before its idle deadline and calls
    /// `touch()` after it revives the expired session (`touch` moves the idle
    /// clock without checking the deadline, and the hibernating session's
    /// alarm has not fired yet).
    #[test]
    fn touch_after_expiry_does_not_revive_the_session() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let clock = Arc::new(ManualClock::new(START_MS));
            let m = SessionManager::new(
                SessionConfig::builder()
                    .secret(SECRET)
                    .clock(clock.clone())
                    .max_age(Some(Duration::from_millis(MAX_AGE_MS)))
                    .hibernate_after(Duration::from_millis(1))
                    .build()
                    .expect("valid config"),
            );
            let s = start(&m, None);
            s.insert("a", 1).await.expect("insert");
            let cookie = match parse_set_cookie(&s.finish().await.expect("finish")) {
                Ok(Some(SetCookie::Value(v))) => v,
                other => panic!("expected a cookie, got {other:?}"),
            };
            let in_flight = start(&m, Some(&cookie));
            assert_eq!(in_flight.get::<i64>("a").await.expect("get"), Some(1));
            tokio::time::sleep(Duration::from_millis(20)).await; // the owner hibernates
            clock.advance(Duration::from_millis(MAX_AGE_MS + 1));
            in_flight.touch().await.expect("touch");
            in_flight.finish().await.expect("finish");
            // Let the alarm task run: the session ended at its deadline.
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let later = start(&m, Some(&cookie));
            assert_eq!(
                later.get::<i64>("a").await.expect("get"),
                None,
                "a session idle past max age came back"
            );
        });
    }

    /// Not a sequence: a load that finds the cell alive and then sees it
    /// retired (passivation finishing meanwhile) answers with a fresh empty
    /// session and clears the client's cookie. Rare (about 1 in 60,000 reads
    /// here, with passivation due every millisecond); a timing stress test.
    #[test]
    fn loads_racing_passivation_always_see_the_session() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async {
            let clock = Arc::new(ManualClock::new(START_MS));
            let m = SessionManager::new(
                SessionConfig::builder()
                    .secret(SECRET)
                    .clock(clock.clone())
                    .store(Arc::new(livesession::store::MemoryStore::new()))
                    .passivate_after(Duration::from_millis(1))
                    .hibernate_after(Duration::from_millis(1))
                    .build()
                    .expect("valid config"),
            );
            let s = start(&m, None);
            s.insert("a", 1).await.expect("insert");
            let cookie = match parse_set_cookie(&s.finish().await.expect("finish")) {
                Ok(Some(SetCookie::Value(v))) => v,
                other => panic!("expected a cookie, got {other:?}"),
            };
            // The clock keeps making the session due for passivation.
            let stop = Arc::new(AtomicBool::new(false));
            let ticker = tokio::spawn({
                let (clock, stop) = (clock.clone(), stop.clone());
                async move {
                    while !stop.load(Ordering::Relaxed) {
                        clock.advance(Duration::from_millis(1));
                        tokio::time::sleep(Duration::from_micros(200)).await;
                    }
                }
            });
            let until = std::time::Instant::now() + Duration::from_secs(10);
            let (mut reads, mut lost) = (0u64, Vec::new());
            while std::time::Instant::now() < until && lost.is_empty() {
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let (m, cookie) = (m.clone(), cookie.clone());
                        tokio::spawn(async move {
                            let s = start(&m, Some(&cookie));
                            (s.get::<i64>("a").await, s.finish().await)
                        })
                    })
                    .collect();
                for t in tasks {
                    let (got, set) = t.await.expect("a read");
                    reads += 1;
                    if !matches!(got, Ok(Some(1))) {
                        lost.push(format!("{got:?}, Set-Cookie {set:?}"));
                    }
                }
            }
            stop.store(true, Ordering::Relaxed);
            ticker.await.expect("the ticker");
            assert!(lost.is_empty(), "after {reads} reads: {lost:?}");
        });
    }
}
