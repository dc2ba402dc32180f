//! The runtime under test and the model beside it: a [`World`] holds one
//! manager over a [`Host`], the cookie jars and open requests, and runs one
//! step at a time (`steps.rs`), its requests (`requests.rs`) and the checks
//! against the store (`store.rs`).

mod requests;
mod steps;
mod store;

use super::actions::{takes_fault, Fault, FaultKind, Op, Setup, Who};
use super::cookies::JarEffect;
use super::host::Host;
use super::known::Known;
use super::spec::{Model, Request};
use super::{
    stats, ABSOLUTE_MS, HANG_DEADLINES, HELD, JARS, MAX_AGE_MS, PASSIVATE_MS, SECRET, START_MS,
    USERS,
};
use livesession::clock::ManualClock;
use livesession::signing::HmacSigner;
use livesession::testing::Op as StoreOp;
use livesession::{RequestSession, SessionConfig, SessionManager};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A request kept open across steps.
pub(crate) struct Held {
    pub(crate) session: RequestSession,
    pub(crate) who: Who,
    pub(crate) request: Request,
}

/// The manager under test, its host and clock, the model, and the clients.
pub(crate) struct World<H: Host> {
    pub(crate) host: H,
    pub(crate) setup: Setup,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) durable: bool,
    pub(crate) manager: Option<SessionManager>,
    pub(crate) model: Model,
    pub(crate) jars: [Option<String>; JARS],
    pub(crate) replays: Vec<String>,
    pub(crate) saved: usize,
    pub(crate) held: [Option<Held>; HELD],
    /// The fault `Op::Fault` armed for the next step.
    pub(crate) armed: Option<Fault>,
    /// The fault injected during the step running now.
    pub(crate) fault: Option<Fault>,
    /// How many calls its operation had when it was armed.
    pub(crate) fault_calls: u64,
    /// A fault was injected at some step: a passivation may have failed
    /// and be backing off.
    pub(crate) faulted: bool,
    /// Before a revoke: the user's stored records of no known session.
    pub(crate) uncreated: usize,
}

impl<H: Host> World<H> {
    pub(crate) fn new(mut host: H, setup: Setup, known: Known) -> Self {
        let store = host.store();
        let durable = store.is_some();
        let flushes_after_save = store.is_none_or(|s| !s.completed_writes_are_durable());
        let mut world = World {
            host,
            model: Model {
                known,
                now: START_MS,
                absolute: setup.absolute.then_some(ABSOLUTE_MS),
                sessions: HashMap::new(),
                signer: HmacSigner::new([SECRET]).expect("a valid secret"),
                flushes_after_save,
            },
            setup,
            clock: Arc::new(ManualClock::new(START_MS)),
            durable,
            manager: None,
            jars: Default::default(),
            replays: Vec::new(),
            saved: 0,
            held: Default::default(),
            armed: None,
            fault: None,
            fault_calls: 0,
            faulted: false,
            uncreated: 0,
        };
        world.manager = Some(world.make_manager());
        world
    }

    pub(crate) fn make_manager(&mut self) -> SessionManager {
        let mut config = SessionConfig::builder()
            .secret(SECRET)
            .clock(self.clock.clone())
            .max_age(Some(Duration::from_millis(MAX_AGE_MS)))
            .absolute_timeout(
                self.setup
                    .absolute
                    .then_some(Duration::from_millis(ABSOLUTE_MS)),
            )
            .hibernate_after(Duration::from_millis(self.setup.hibernate_ms))
            .sweep_interval(Duration::from_millis(self.setup.sweep_ms))
            .passivate_after(Duration::from_millis(PASSIVATE_MS))
            .store_timeout(self.host.store_timeout());
        if let Some(store) = self.host.store() {
            config = config.store(store);
        }
        SessionManager::new(config.build().expect("valid config"))
    }

    pub(crate) fn manager(&self) -> &SessionManager {
        self.manager.as_ref().expect("a manager")
    }

    pub(crate) fn cookie(&self, who: Who) -> Option<String> {
        match who {
            Who::Jar(i) => self.jars[i].clone(),
            Who::Replay(_) if self.replays.is_empty() => None,
            Who::Replay(i) => Some(self.replays[i % self.replays.len()].clone()),
        }
    }

    pub(crate) fn apply_effect(&mut self, who: Who, effect: JarEffect) {
        if let Who::Jar(i) = who {
            match effect {
                JarEffect::None => {}
                JarEffect::Set(v) => self.jars[i] = Some(v),
                JarEffect::Clear => self.jars[i] = None,
            }
        }
    }

    /// Runs one step, with the fault armed for it injected into the store
    /// and healed afterwards.
    pub(crate) async fn step(&mut self, op: &Op) -> Result<(), String> {
        if let Op::Fault(f) = op {
            self.armed = Some(*f);
            return Ok(());
        }
        if let Op::Revoke { user } = op {
            // Read before any fault is armed (see `Known`).
            self.uncreated = self.uncreated_records(USERS[*user]).await?;
        }
        let armed = self.armed.take();
        if let (Some(mut f), true, Some(faults)) = (armed, takes_fault(op), self.host.faults()) {
            if f.kind == FaultKind::Hang && !self.host.hangs() {
                f.kind = FaultKind::Fail;
            }
            self.fault_calls = faults.calls(f.op);
            faults.arm(&f);
            self.fault = Some(f);
            self.faulted = true;
            stats::add(&stats::FAULTED);
        }
        stats::add(&stats::STEPS);
        let outcome = self.run_step(op).await;
        self.heal().await;
        outcome
    }

    /// Heals the step's fault and waits until what it started has ended:
    /// a hung call keeps its session's owner busy for a few deadlines, and
    /// (see [`Known::failed_activation_lingers`]) a failed load's slot stays
    /// a moment.
    pub(crate) async fn heal(&mut self) {
        let Some(f) = self.fault.take() else { return };
        let Some(faults) = self.host.faults() else {
            return;
        };
        faults.heal();
        let hit = faults.calls(f.op) > self.fault_calls;
        let mut wait = Duration::ZERO;
        if hit && f.kind == FaultKind::Hang {
            // Owners write (save, delete, flush) to the end; other calls end
            // at their deadline.
            let deadlines = match f.op {
                StoreOp::Save | StoreOp::Delete | StoreOp::Flush => HANG_DEADLINES,
                _ => 2,
            };
            wait = self.host.store_timeout() * deadlines;
        }
        if hit && f.op == StoreOp::Load && self.model.known.failed_activation_lingers {
            wait = wait.max(Duration::from_millis(10));
        }
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}
