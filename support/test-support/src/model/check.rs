//! The runner: one case, step by step, on a fresh runtime.

use super::actions::{Op, Setup};
use super::drive::err;
use super::host::Host;
use super::known::{Known, KNOWN};
use super::world::World;
use super::{stats, STEP_LIMIT};
use proptest::test_runner::TestCaseError;
use std::time::Duration;

/// Runs one case on a fresh multi-thread runtime against `host`.
pub fn check<H: Host>(host: H, setup: &Setup, ops: &[Op]) -> Result<(), TestCaseError> {
    check_with(KNOWN, host, setup, ops)
}

/// [`check`] with the given known deviations mirrored by the model.
pub fn check_with<H: Host>(
    known: Known,
    host: H,
    setup: &Setup,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = rt.block_on(async {
        let mut world = World::new(host, setup.clone(), known);
        for (i, op) in ops.iter().enumerate() {
            match tokio::time::timeout(STEP_LIMIT, world.step(op)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("step {i} {op:?}: {e}")),
                Err(_) => return Err(format!("step {i} {op:?}: hung for {STEP_LIMIT:?}")),
            }
        }
        match tokio::time::timeout(STEP_LIMIT, world.audit()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("final audit: {e}")),
            Err(_) => return Err("final audit hung".into()),
        }
        if let Some(m) = world.manager.take() {
            m.shutdown().await.map_err(err("final shutdown"))?;
        }
        world
            .check_store()
            .await
            .map_err(|e| format!("after shutdown: {e}"))
    });
    rt.shutdown_timeout(Duration::from_secs(2));
    stats::add(&stats::CASES);
    stats::print(if outcome.is_ok() {
        "a passing case"
    } else {
        "a failing case"
    });
    outcome.map_err(TestCaseError::fail)
}
