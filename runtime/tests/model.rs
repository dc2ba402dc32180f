//! Model-based tests: random sequences of requests, clock moves, passivations
//! and restarts, checked step by step against a simple sequential model of
//! what every session must contain.
//!
//! Every step goes through real request handles (`SessionManager::start`,
//! the `Session` API, `Session::finish`) over a small pool of cookie jars,
//! each holding the cookie it last received, plus a few replayed cookies
//! saved from earlier (an attacker or an old tab). Requests do one to three
//! actions; a few are kept open while other steps run (in-flight requests
//! that write after a logout, a regenerate, a revoke or a passivation).
//! Between requests the manual clock moves (past the idle and absolute
//! timeouts, exactly onto them), owners hibernate (1..5 ms in most cases),
//! sessions are passivated, the manager restarts on the same store, and
//! batches of concurrent increments hit one cookie. The model maps each id
//! to its data, user, creation and last load, and computes idle and absolute
//! expiry from the same [`ManualClock`] the runtime uses. After every step:
//!
//! * what the request read (`get`, `remove`, `update`, `data`, `user`)
//!   equals the model's session (a fresh empty one for a stale, destroyed,
//!   regenerated-away or expired cookie);
//! * the `Set-Cookie` is exactly what the model predicts: the same cookie for
//!   a live session (rolling), a never-seen id for a new one, a clearing
//!   cookie for a dead one sent by the client; a dead id never comes back;
//! * `revoke_user` returns exactly the model's count of unexpired sessions
//!   bound to the user;
//!
//! and at the end, every cookie is read back, every user revoked and, with a
//! store, after a graceful shutdown each record is compared with the model.
//!
//! # Faults
//!
//! With a store, the store is wrapped in a [`FaultyStore`] and a step may
//! be preceded by `Op::Fault`: one store operation fails its next calls,
//! fails every call, hangs (the manager's short `store_timeout` fails it)
//! or is slowed down, for that step only. The model is driven by outcomes:
//!
//! * an action that fails with a store error applies nothing (the model
//!   goes back to the state before it), except what the runtime guarantees
//!   happened anyway: the load that preceded a failed change, and the end
//!   of a session whose delete succeeded before the flush failed; the
//!   request then ends (`finish`), like a handler answering an error;
//! * a failure is only accepted if the armed fault's operation is one the
//!   action can call, and never for a mere delay; an action that certainly
//!   calls an operation that fails at every call must fail (nothing is
//!   acknowledged without being durable);
//! * a `finish` that fails (its new session could not be created, or its
//!   passivated one loaded) answers no cookie and creates nothing;
//! * a failed `revoke_user` may have ended some of the user's sessions:
//!   each ended exactly if its record left the store;
//! * a failed passivation (background) keeps the session live and backs
//!   off; `Op::Passivate` moves the clock past the back-off.
//!
//! `Op::Cancel` and `Op::CancelHeld` drop a request in the middle of an
//! action (after a few polls, or a few ms into a delayed store call): its
//! one change may or may not have been applied, never half, and nothing
//! else changes. A probe request reads the session back once (after a
//! change that changes nothing, so every queued change is settled) and the
//! model takes whichever outcome it finds.
//!
//! `MODEL_STATS=1` prints how many steps, faults, failures and
//! cancellations the cases went through.
//!
//! The runtime bugs this model found are fixed but one; the switches in
//! [`KNOWN`] (all off but `revoke_counts_uncreated_records`) let the model
//! mirror such a bug while it is being fixed, and `known_deviations` keeps
//! each one's minimal sequence as a regression test.
//!
//! The harness is generic over where sessions are stored ([`Host`]):
//! memory mode and `MemoryStore` here, `SledStore` in
//! `persistence/sled/tests/model.rs`, which includes this file with `#[path]`.
//! The properties over the runtime's own backends are compiled only in this
//! crate (whose tests always have the `testing` feature).
//!
//! More cases: `PROPTEST_CASES=1000 cargo test -p livesession --test model`.

use livesession::clock::ManualClock;
use livesession::id::is_valid_id;
use livesession::signing::{HmacSigner, Signer};
use livesession::store::{SessionKey, SessionStore, StoreError};
use livesession::testing::{FaultyStore, Op as StoreOp};
use livesession::{RequestInfo, Session, SessionConfig, SessionError, SessionManager};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "model-based-tests-secret-0123456789";
const COOKIE: &str = "sessionId";
/// The manual clock's start (Unix ms).
const START_MS: u64 = 1_700_000_000_000;
/// Idle timeout (manual clock).
pub const MAX_AGE_MS: u64 = 60 * 60_000;
/// Absolute timeout (manual clock), when the case has one.
pub const ABSOLUTE_MS: u64 = 100 * 60_000;
/// With a store: idle this long (manual clock) and a session is passivated.
/// Every clock move is at least this long, so passivations race the next
/// steps all the time.
const PASSIVATE_MS: u64 = 50;
const KEYS: [&str; 3] = ["a", "b", "c"];
/// A key no action uses: removing it is a change that changes nothing, which
/// a probe sends to wait for every change queued before it.
const PROBE_KEY: &str = "probe";
const USERS: [&str; 2] = ["alice", "bob"];
/// Clients that keep the cookie each response gives them.
const JARS: usize = 3;
/// Replayed cookies kept at most (never updated by responses).
const REPLAYS: usize = 3;
/// Requests kept open across steps, at most.
const HELD: usize = 2;
/// A step that takes longer than this (real time) is a hang.
const STEP_LIMIT: Duration = Duration::from_secs(15);
/// The store deadline (`store_timeout`) unless the host says otherwise: a
/// hanging store call fails after this long. Injected delays stay well
/// below it.
const STORE_TIMEOUT: Duration = Duration::from_millis(60);
/// How many store deadlines a hung call may keep its session's owner busy:
/// an owner answers its callers at the deadline but waits for the write up
/// to four more before giving it up (the runtime's `WRITE_GRACE_DEADLINES`),
/// plus one for good measure. After a step in which a call hung, the next
/// step waits this long, so it does not queue behind the hung write.
const HANG_DEADLINES: u32 = 6;

// ---------------------------------------------------------------------------
// Known deviations
// ---------------------------------------------------------------------------

/// Where the runtime is known to differ from the model (the documented
/// behaviour). Each `true` makes the model follow the runtime so the
/// properties keep guarding everything else; set it to `false` once fixed.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// `reload()` on a session that exists only in this request (new, not
    /// yet created) empties it, although the request is still `modified` and
    /// creates the (now empty) session at `finish`.
    pub reload_empties_new_session: bool,
    /// `remove(key)` and `clear()` decide on this request's view of a live
    /// session, which may be stale: when the view lacks the key (or is
    /// empty) nothing is sent to the owner, so a key another request added
    /// meanwhile survives the remove (a lost change).
    pub stale_view_skips_remove_and_clear: bool,
    /// A request that loaded a session which was then passivated, and then
    /// destroyed (or revoked, or regenerated away) by another request, sends
    /// the ended id's cookie again at `finish` instead of clearing it: the
    /// check is `lifecycle == Dead` on the request's own (retired) cell.
    pub finish_resends_id_ended_after_passivation: bool,
    /// `reload()` in a request whose live session was passivated since it
    /// loaded it gives an empty new session (the cell is `Retired`, not
    /// `Alive`) instead of the session's state; a write after it creates a
    /// new session and the response replaces the client's cookie.
    pub reload_after_passivation_empties: bool,
    /// `touch()` in a request whose live session was passivated since it
    /// loaded it touches the retired cell and is lost: the idle timeout is
    /// not extended.
    pub touch_after_passivation_lost: bool,
    /// An activation whose store load failed keeps its registry slot for a
    /// moment after it answered the failure (`settle` wakes the waiting
    /// requests before the slot is removed): a request that starts right
    /// then gets the same failure instead of loading again. The model then
    /// waits 10 ms after a step with a faulty load.
    pub failed_activation_lingers: bool,
    /// A new session whose user was revoked while only its request had it
    /// is written, refused at admission, and its record deleted again, best
    /// effort: when that delete fails the record stays, and a later
    /// `revoke_user` of the user counts it (a session no client ever had).
    /// The model then adds the unexpired records of the user that belong to
    /// no session it knows to the count it expects.
    pub revoke_counts_uncreated_records: bool,
    /// A load that lands while its session is being passivated (after the
    /// write-back read the idle clock, before the session leaves memory) is
    /// lost: the stored expiry does not include it, and the session ends
    /// that much early. A slow write (a flush after a failed one, a slow
    /// disk) makes the window wide. The model then lets every session leave
    /// memory after a clock move before the next step.
    pub load_during_passivation_lost: bool,
}

pub const KNOWN: Known = Known {
    reload_empties_new_session: false,
    stale_view_skips_remove_and_clear: false,
    finish_resends_id_ended_after_passivation: false,
    reload_after_passivation_empties: false,
    touch_after_passivation_lost: false,
    failed_activation_lingers: false,
    revoke_counts_uncreated_records: true,
    load_during_passivation_lost: false,
};

// ---------------------------------------------------------------------------
// Operations and their generation
// ---------------------------------------------------------------------------

/// Who sends a request.
#[derive(Debug, Clone, Copy)]
pub enum Who {
    /// A client that keeps the cookie each response gives it.
    Jar(usize),
    /// A saved old cookie, replayed as is (no cookie while none is saved).
    Replay(usize),
}

/// A value to insert.
#[derive(Debug, Clone)]
pub enum Val {
    Int(i64),
    Str(&'static str),
}

impl Val {
    fn json(&self) -> Value {
        match self {
            Val::Int(n) => Value::from(*n),
            Val::Str(s) => Value::from(*s),
        }
    }
}

/// One thing a request does with its session (keys index `KEYS`, users
/// index `USERS`).
#[derive(Debug, Clone)]
pub enum Action {
    Get(usize),
    Insert(usize, Val),
    Remove(usize),
    /// `update(key, n + 1)` as an `i64` (a decode error on a string).
    Update(usize),
    Clear,
    /// `regenerate(keep)`; bit `i` of `keep` keeps `KEYS[i]`.
    Regenerate(u8),
    Destroy,
    Touch,
    BindUser(usize),
    Reload,
    Save,
}

/// One step.
#[derive(Debug, Clone)]
pub enum Op {
    /// One request: its actions, each followed by reading the whole session
    /// back (`data`, `user`), then `finish`.
    Request {
        who: Who,
        actions: Vec<Action>,
    },
    /// Starts a request, loads its session and keeps it open in `slot`
    /// while other steps run (an in-flight request).
    Open {
        slot: usize,
        who: Who,
    },
    /// One action on the request open in `slot` (opened first, from
    /// `Jar(slot)`, if none is).
    Continue {
        slot: usize,
        action: Action,
    },
    /// Finishes the request open in `slot`.
    Close {
        slot: usize,
    },
    Revoke {
        user: usize,
    },
    /// `k` requests on one cookie at once, each `update(key, n + 1)`.
    Concurrent {
        who: Who,
        key: usize,
        k: usize,
    },
    /// Saves a jar's current cookie for replays.
    SaveCookie {
        jar: usize,
    },
    /// Moves the manual clock (open requests are abandoned first).
    Advance {
        ms: u64,
    },
    /// Lets real time pass (owners hibernate, alarms and sweeps run).
    Sleep {
        ms: u64,
    },
    /// Moves the clock by `passivate_after`; with a store, waits until every
    /// session has left memory.
    Passivate,
    /// With a store: `shutdown`, then a new manager on the same store.
    Restart,
    /// With a store: injects `Fault` into the store for the next step (a
    /// request, an open, a close, a revoke, a concurrent batch, a cancelled
    /// request, or a sleep, during which only background work runs); it is
    /// healed when that step ends. Any other next step drops it.
    Fault(Fault),
    /// A new request from `who` does `action` and is dropped (cancelled,
    /// never finished) at `cut` unless the action returned by then.
    Cancel {
        who: Who,
        action: Action,
        cut: Cut,
    },
    /// The same on the request open in `slot` (opened first, from
    /// `Jar(slot)`, if none is): dropped with it if the action is cut off.
    CancelHeld {
        slot: usize,
        action: Action,
        cut: Cut,
    },
}

/// When a cancelled request is dropped.
#[derive(Debug, Clone, Copy)]
pub enum Cut {
    /// After this many polls that found it pending (0: at its first await
    /// point), each followed by a yield.
    Polls(u32),
    /// After this many µs (real time; tokio's timers round up to 1 ms).
    Micros(u64),
}

/// What an injected store fault does to the calls of one store operation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// The next `n` calls fail (background work may use some of them up).
    FailNext(u32),
    /// Every call fails until the step ends.
    Fail,
    /// Every call hangs until the step ends: `store_timeout` fails it.
    Hang,
    /// Every call is this many ms slower (far below `store_timeout`): it
    /// must not change any outcome.
    Delay(u64),
}

impl FaultKind {
    /// Every call of the operation fails while it is armed.
    fn persistent(self) -> bool {
        matches!(self, FaultKind::Fail | FaultKind::Hang)
    }
}

/// A fault of one store operation.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    pub op: StoreOp,
    pub kind: FaultKind,
}

/// Per-case configuration.
#[derive(Debug, Clone)]
pub struct Setup {
    /// `hibernate_after` in real ms: 1..5 makes owners hibernate between
    /// (and during) steps.
    pub hibernate_ms: u64,
    /// Whether sessions have the absolute timeout.
    pub absolute: bool,
    /// `sweep_interval` in real ms.
    pub sweep_ms: u64,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        3 => (0..JARS).prop_map(Who::Jar),
        1 => (0..REPLAYS).prop_map(Who::Replay),
    ]
}

fn key() -> impl Strategy<Value = usize> {
    0..KEYS.len()
}

fn val() -> impl Strategy<Value = Val> {
    prop_oneof![
        3 => (0i64..4).prop_map(Val::Int),
        1 => prop::sample::select(vec!["x", "y"]).prop_map(Val::Str),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => key().prop_map(Action::Get),
        4 => (key(), val()).prop_map(|(k, v)| Action::Insert(k, v)),
        2 => key().prop_map(Action::Remove),
        4 => key().prop_map(Action::Update),
        1 => Just(Action::Clear),
        2 => (0u8..8).prop_map(Action::Regenerate),
        1 => Just(Action::Destroy),
        1 => Just(Action::Touch),
        3 => (0..USERS.len()).prop_map(Action::BindUser),
        1 => Just(Action::Reload),
        1 => Just(Action::Save),
    ]
}

fn fault() -> impl Strategy<Value = Fault> {
    let store_op = prop_oneof![
        4 => Just(StoreOp::Load),
        2 => Just(StoreOp::Create),
        3 => Just(StoreOp::Save),
        2 => Just(StoreOp::Delete),
        1 => Just(StoreOp::KeysForUser),
        3 => Just(StoreOp::Flush),
        1 => Just(StoreOp::RemoveExpired),
    ];
    let kind = prop_oneof![
        4 => (1u32..=3).prop_map(FaultKind::FailNext),
        3 => Just(FaultKind::Fail),
        1 => Just(FaultKind::Hang),
        2 => prop::sample::select(vec![1u64, 3, 10]).prop_map(FaultKind::Delay),
    ];
    (store_op, kind).prop_map(|(op, kind)| Fault { op, kind })
}

/// Actions a cancelled request may be doing (not `Save`: a request dropped
/// while it creates its session would leave a session nobody has the id of).
fn cancellable() -> impl Strategy<Value = Action> {
    prop_oneof![
        1 => key().prop_map(Action::Get),
        3 => (key(), val()).prop_map(|(k, v)| Action::Insert(k, v)),
        1 => key().prop_map(Action::Remove),
        3 => key().prop_map(Action::Update),
        1 => Just(Action::Clear),
        1 => (0u8..8).prop_map(Action::Regenerate),
        1 => Just(Action::Destroy),
        1 => Just(Action::Touch),
        2 => (0..USERS.len()).prop_map(Action::BindUser),
        1 => Just(Action::Reload),
    ]
}

/// When a cancelled request is dropped: at one of its first await points,
/// or after a few ms (cutting into delayed store calls).
fn cut() -> impl Strategy<Value = Cut> {
    prop_oneof![
        3 => (0u32..6).prop_map(Cut::Polls),
        1 => prop::sample::select(vec![500u64, 2_000, 6_000]).prop_map(Cut::Micros),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let advance = prop_oneof![
        3 => Just(1_000),
        3 => Just(10 * 60_000),
        2 => Just(30 * 60_000),
        1 => Just(MAX_AGE_MS - 1),
        1 => Just(MAX_AGE_MS), // exactly the idle timeout: expired (deadline <= now)
        1 => Just(MAX_AGE_MS + 1),
        1 => Just(2 * MAX_AGE_MS),
    ];
    let actions = prop_oneof![
        3 => prop::collection::vec(action(), 1..=1),
        1 => prop::collection::vec(action(), 2..=3),
    ];
    prop_oneof![
        16 => (who(), actions).prop_map(|(who, actions)| Op::Request { who, actions }),
        3 => (0..HELD, who()).prop_map(|(slot, who)| Op::Open { slot, who }),
        5 => (0..HELD, action()).prop_map(|(slot, action)| Op::Continue { slot, action }),
        2 => (0..HELD).prop_map(|slot| Op::Close { slot }),
        2 => (0..USERS.len()).prop_map(|user| Op::Revoke { user }),
        2 => (who(), key(), 2usize..6).prop_map(|(who, key, k)| Op::Concurrent { who, key, k }),
        3 => (0..JARS).prop_map(|jar| Op::SaveCookie { jar }),
        3 => advance.prop_map(|ms| Op::Advance { ms }),
        2 => (0u64..8).prop_map(|ms| Op::Sleep { ms }),
        2 => Just(Op::Passivate),
        1 => Just(Op::Restart),
        2 => fault().prop_map(Op::Fault),
        3 => (who(), cancellable(), cut()).prop_map(|(who, action, cut)| Op::Cancel { who, action, cut }),
        2 => (0..HELD, cancellable(), cut())
            .prop_map(|(slot, action, cut)| Op::CancelHeld { slot, action, cut }),
    ]
}

/// Steps that take a fault (see `Op::Fault`).
fn faultable() -> impl Strategy<Value = Op> {
    op().prop_filter("a step that takes a fault", takes_fault)
}

/// Whether a fault armed for `op` is injected while it runs.
fn takes_fault(op: &Op) -> bool {
    matches!(
        op,
        Op::Request { .. }
            | Op::Open { .. }
            | Op::Continue { .. }
            | Op::Close { .. }
            | Op::Revoke { .. }
            | Op::Concurrent { .. }
            | Op::Cancel { .. }
            | Op::CancelHeld { .. }
            | Op::Sleep { .. }
    )
}

/// One step, or a fault and the step it is injected into.
fn steps() -> impl Strategy<Value = Vec<Op>> {
    prop_oneof![
        5 => op().prop_map(|op| vec![op]),
        1 => (fault(), faultable()).prop_map(|(f, op)| vec![Op::Fault(f), op]),
    ]
}

/// A case: its configuration and up to `max_ops` steps.
pub fn case(max_ops: usize) -> impl Strategy<Value = (Setup, Vec<Op>)> {
    let setup = (
        prop::sample::select(vec![1u64, 2, 5, 1000]),
        any::<bool>(),
        prop::sample::select(vec![10u64, 1000]),
    )
        .prop_map(|(hibernate_ms, absolute, sweep_ms)| Setup {
            hibernate_ms,
            absolute,
            sweep_ms,
        });
    let ops = prop::collection::vec(steps(), 1..=max_ops).prop_map(move |groups| {
        let mut ops: Vec<Op> = groups.into_iter().flatten().collect();
        ops.truncate(max_ops);
        ops
    });
    (setup, ops)
}

/// The proptest configuration: `cases` unless `PROPTEST_CASES` says
/// otherwise; no regression files (a failure prints its minimal case).
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Coverage counters
// ---------------------------------------------------------------------------

/// What the runs exercised, summed over every case of the process; printed
/// after each case with `MODEL_STATS=1`.
mod stats {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static CASES: AtomicU64 = AtomicU64::new(0);
    pub static STEPS: AtomicU64 = AtomicU64::new(0);
    /// Steps run with a store fault injected.
    pub static FAULTED: AtomicU64 = AtomicU64::new(0);
    /// Actions, finishes, revokes and concurrent requests that failed with
    /// a store error.
    pub static FAILED: AtomicU64 = AtomicU64::new(0);
    /// Actions that succeeded although a fault was armed.
    pub static SURVIVED: AtomicU64 = AtomicU64::new(0);
    /// Requests dropped mid-action, and how many of those had their change
    /// (or end) applied anyway.
    pub static CANCELLED: AtomicU64 = AtomicU64::new(0);
    pub static CANCELLED_APPLIED: AtomicU64 = AtomicU64::new(0);
    /// Store failures by the operation that failed (`StoreOp::ALL` order).
    pub static FAILED_BY_OP: [AtomicU64; super::StoreOp::ALL.len()] =
        [const { AtomicU64::new(0) }; super::StoreOp::ALL.len()];

    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn failed(op: super::StoreOp) {
        if let Some(i) = super::StoreOp::ALL.iter().position(|o| *o == op) {
            add(&FAILED_BY_OP[i]);
        }
    }

    pub fn print(what: &str) {
        if std::env::var_os("MODEL_STATS").is_none() {
            return;
        }
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let by_op: Vec<String> = super::StoreOp::ALL
            .iter()
            .zip(&FAILED_BY_OP)
            .filter(|(_, n)| get(n) > 0)
            .map(|(op, n)| format!("{op:?} {}", get(n)))
            .collect();
        eprintln!(
            "model stats after {what}: {} cases, {} steps, {} faulted, {} failed ({}), {} survived a fault, {} cancelled ({} applied)",
            get(&CASES),
            get(&STEPS),
            get(&FAULTED),
            get(&FAILED),
            by_op.join(", "),
            get(&SURVIVED),
            get(&CANCELLED),
            get(&CANCELLED_APPLIED)
        );
    }
}

// ---------------------------------------------------------------------------
// Where sessions are stored
// ---------------------------------------------------------------------------

/// The backend of a case.
pub trait Host {
    /// The store for the next manager; `None` for memory mode.
    fn store(&mut self) -> Option<Arc<dyn SessionStore>>;
    /// Called after the old manager has shut down and been dropped, before
    /// the next one is made (e.g. to reopen the database).
    fn restart(&mut self) {}
    /// The fault switch of the store `store` returns, if it has one (a
    /// [`FaultyStore`]); without one, `Op::Fault` does nothing.
    fn faults(&mut self) -> Option<Arc<dyn Faults>> {
        None
    }
    /// The manager's `store_timeout`.
    fn store_timeout(&self) -> Duration {
        STORE_TIMEOUT
    }
    /// Whether `FaultKind::Hang` is injected as is; otherwise as
    /// `FaultKind::Fail`.
    fn hangs(&self) -> bool {
        true
    }
}

/// Arms and heals injected store faults (a [`FaultyStore`] of any backend).
pub trait Faults: Send + Sync {
    fn arm(&self, fault: &Fault);
    fn heal(&self);
    /// How many times `op` has been called.
    fn calls(&self, op: StoreOp) -> u64;
}

impl<S: SessionStore> Faults for FaultyStore<S> {
    fn arm(&self, fault: &Fault) {
        match fault.kind {
            FaultKind::FailNext(n) => self.fail_next(fault.op, n),
            FaultKind::Fail => self.fail(fault.op, true),
            FaultKind::Hang => self.hang(fault.op, true),
            FaultKind::Delay(ms) => self.delay(fault.op, Duration::from_millis(ms)),
        }
    }

    fn heal(&self) {
        FaultyStore::heal(self);
    }

    fn calls(&self, op: StoreOp) -> u64 {
        FaultyStore::calls(self, op)
    }
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// What a session holds.
#[derive(Debug, Clone, Default, PartialEq)]
struct View {
    data: BTreeMap<String, Value>,
    user: Option<String>,
}

#[derive(Debug, Clone)]
struct ModelSession {
    view: View,
    created: u64,
    last_load: u64,
    /// Destroyed, regenerated away or revoked.
    ended: bool,
    /// When a request destroyed it or regenerated it away (not a revoke).
    ended_by_request_at: Option<u64>,
}

/// Every session ever created, by id, and the time.
struct Model {
    known: Known,
    now: u64,
    absolute: Option<u64>,
    sessions: HashMap<String, ModelSession>,
    /// Signs ids as the runtime does: the cookie of a known id.
    signer: HmacSigner,
}

/// Whether an action calls a store operation, as far as the model knows.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Calls {
    Never,
    /// Depending on what the model does not track (whether a session is in
    /// memory or was passivated).
    Maybe,
    Always,
}

impl Calls {
    fn when(always: bool) -> Calls {
        if always {
            Calls::Always
        } else {
            Calls::Never
        }
    }
}

/// A change action's effect on a view: `None` when it changes nothing.
fn apply_change(action: &Action, view: &View) -> Option<View> {
    let mut next = view.clone();
    match action {
        Action::Insert(k, v) => {
            next.data.insert(KEYS[*k].into(), v.json());
        }
        Action::Remove(k) => {
            next.data.remove(KEYS[*k]);
        }
        Action::Update(k) => {
            increment(&mut next.data, KEYS[*k]);
        }
        Action::Clear => next.data.clear(),
        Action::BindUser(u) => next.user = Some(USERS[*u].to_string()),
        _ => return None,
    }
    (next != *view).then_some(next)
}

fn is_change(action: &Action) -> bool {
    matches!(
        action,
        Action::Insert(..)
            | Action::Remove(_)
            | Action::Update(_)
            | Action::Clear
            | Action::BindUser(_)
    )
}

/// Actions that end the request's live session.
fn ends(action: &Action) -> bool {
    matches!(action, Action::Destroy | Action::Regenerate(_))
}

/// What a request works on.
#[derive(Debug, Clone)]
enum Phase {
    /// Nothing used yet: the first action loads what the cookie names (a
    /// request whose load failed stays here).
    Unloaded,
    /// A live session and this request's view of it: as loaded, refreshed
    /// by each change this request makes (and by `reload`).
    Live {
        id: String,
        view: View,
        /// Passivated since this request last reached it: its next change
        /// activates the session again (a load).
        retired: bool,
    },
    /// A session only this request sees, created when it finishes if
    /// modified (or regenerated).
    Fresh(View),
    Destroyed,
}

/// One request.
#[derive(Debug, Clone)]
struct Request {
    /// The cookie value sent, if any.
    cookie: Option<String>,
    phase: Phase,
    modified: bool,
    must_create: bool,
    /// A session was created in this request.
    id_changed: bool,
    /// This request destroyed the session its cookie named.
    destroyed_here: bool,
    /// The user binding of the new session this request holds was revoked
    /// before the session was created: it never will be.
    binding_revoked: bool,
}

/// What a response does to the client's cookie.
#[derive(Debug)]
enum JarEffect {
    None,
    Set(String),
    Clear,
}

fn id_of(cookie_value: &str) -> &str {
    cookie_value.split('.').next().unwrap_or_default()
}

impl Model {
    fn alive(&self, id: &str) -> bool {
        self.sessions.get(id).is_some_and(|s| {
            !s.ended
                && self.now < s.last_load + MAX_AGE_MS
                && self.absolute.is_none_or(|a| self.now < s.created + a)
        })
    }

    fn session(&mut self, id: &str) -> &mut ModelSession {
        self.sessions.get_mut(id).expect("a known session")
    }

    /// The id of the live session `cookie` names, if any.
    fn live_id(&self, cookie: Option<&str>) -> Option<String> {
        let id = id_of(cookie?);
        self.alive(id).then(|| id.to_string())
    }

    /// A request that has not used its session yet.
    fn request(&self, cookie: Option<&str>) -> Request {
        Request {
            cookie: cookie.map(String::from),
            phase: Phase::Unloaded,
            modified: false,
            must_create: false,
            destroyed_here: false,
            binding_revoked: false,
            id_changed: false,
        }
    }

    /// A request that has loaded its session.
    fn begin(&mut self, cookie: Option<&str>) -> Request {
        let mut r = self.request(cookie);
        self.load(&mut r);
        r
    }

    /// A request's first use of its session: loads (and touches) it.
    fn load(&mut self, r: &mut Request) {
        if !matches!(r.phase, Phase::Unloaded) {
            return;
        }
        r.phase = match self.live_id(r.cookie.as_deref()) {
            Some(id) => {
                let now = self.now;
                let s = self.session(&id);
                s.last_load = now;
                let view = s.view.clone();
                Phase::Live {
                    id,
                    view,
                    retired: false,
                }
            }
            None => Phase::Fresh(View::default()),
        };
    }

    fn view(&self, r: &Request) -> View {
        match &r.phase {
            Phase::Live { view, .. } | Phase::Fresh(view) => view.clone(),
            Phase::Destroyed | Phase::Unloaded => View::default(),
        }
    }

    /// The cookie value the runtime sends for `id`.
    fn cookie_for(&self, id: &str) -> String {
        self.signer.sign(id)
    }

    /// Before a change goes to the owner: a session that ended under the
    /// request is replaced by a fresh one (never revived); a passivated one
    /// is activated again, which loads it.
    fn follow(&mut self, r: &mut Request) {
        self.load(r);
        let now = self.now;
        if let Phase::Live { id, view, retired } = &mut r.phase {
            if !self.alive(id) {
                r.phase = Phase::Fresh(View::default());
            } else if *retired {
                let s = self.sessions.get_mut(id.as_str()).unwrap();
                s.last_load = now;
                *view = s.view.clone();
                *retired = false;
            }
        } else if let Phase::Destroyed = r.phase {
            r.phase = Phase::Fresh(View::default());
        }
    }

    /// A change: `f` returns `None` when it fails (and changed nothing).
    fn change<R>(&mut self, r: &mut Request, f: impl FnOnce(&mut View) -> Option<R>) -> Option<R> {
        self.follow(r);
        match &mut r.phase {
            Phase::Live { id, view, .. } => {
                let s = self.sessions.get_mut(id.as_str()).unwrap();
                let before = s.view.clone();
                let out = f(&mut s.view)?;
                r.modified |= s.view != before;
                *view = s.view.clone();
                Some(out)
            }
            Phase::Fresh(view) => {
                let before = view.clone();
                let out = f(view)?;
                r.modified |= *view != before;
                Some(out)
            }
            Phase::Destroyed | Phase::Unloaded => unreachable!("follow leaves neither"),
        }
    }

    fn regenerate(&mut self, r: &mut Request, keep: u8) {
        let mut last = match &r.phase {
            Phase::Live { id, .. } if self.alive(id) => {
                let now = self.now;
                let s = self.session(&id.clone());
                s.ended = true;
                s.ended_by_request_at = Some(now);
                s.view.clone()
            }
            Phase::Live { .. } | Phase::Destroyed | Phase::Unloaded => View::default(),
            Phase::Fresh(view) => view.clone(),
        };
        last.data.retain(|k, _| kept(keep, k));
        if matches!(r.phase, Phase::Live { .. }) {
            r.binding_revoked = false; // the binding moves to a new session
        }
        r.phase = Phase::Fresh(last);
        r.must_create = true;
        r.modified = true;
    }

    fn destroy(&mut self, r: &mut Request) {
        if let Phase::Live { id, .. } = &r.phase {
            if self.alive(id) {
                let now = self.now;
                let s = self.session(&id.clone());
                s.ended = true;
                s.ended_by_request_at = Some(now);
            }
        }
        r.phase = Phase::Destroyed;
        r.destroyed_here = true;
        r.binding_revoked = false;
    }

    fn touch(&mut self, r: &mut Request) {
        let now = self.now;
        let known = self.known.touch_after_passivation_lost;
        if let Phase::Live { id, retired, .. } = &mut r.phase {
            if self.alive(id) && !(*retired && known) {
                self.sessions.get_mut(id.as_str()).unwrap().last_load = now;
                // A passivated session is activated again to be touched.
                *retired = false;
            }
        }
    }

    fn reload(&mut self, r: &mut Request) {
        let next = match &r.phase {
            Phase::Live { retired: true, .. } if self.known.reload_after_passivation_empties => {
                Phase::Fresh(View::default())
            }
            // A reload is a load: it moves the idle clock (and activates a
            // passivated session again).
            Phase::Live { id, .. } if self.alive(id) => {
                let now = self.now;
                self.session(&id.clone()).last_load = now;
                Phase::Live {
                    id: id.clone(),
                    view: self.sessions[id].view.clone(),
                    retired: false,
                }
            }
            Phase::Live { .. } => Phase::Fresh(View::default()),
            Phase::Fresh(_) if self.known.reload_empties_new_session => {
                Phase::Fresh(View::default())
            }
            Phase::Fresh(view) => Phase::Fresh(view.clone()),
            Phase::Destroyed => Phase::Destroyed,
            Phase::Unloaded => unreachable!("loaded before"),
        };
        r.phase = next;
    }

    /// `save`: a session only this request had is created now, with the id
    /// the runtime reports.
    fn save(&mut self, r: &mut Request, new_id: Option<String>) -> Result<(), String> {
        if r.binding_revoked && matches!(r.phase, Phase::Fresh(_)) {
            // Its user was revoked while only this request had it.
            r.phase = Phase::Destroyed;
            r.binding_revoked = false;
            r.must_create = false;
            r.modified = false;
            return Ok(());
        }
        let view = match &r.phase {
            Phase::Live { .. } => None,
            Phase::Fresh(view) => Some(view.clone()),
            Phase::Destroyed | Phase::Unloaded => Some(View::default()),
        };
        if let Some(view) = view {
            let id = new_id.ok_or("save created no session")?;
            self.create(&id, view.clone())?;
            r.phase = Phase::Live {
                id,
                view,
                retired: false,
            };
            r.id_changed = true;
            r.must_create = false;
        }
        r.modified = false;
        Ok(())
    }

    fn create(&mut self, id: &str, view: View) -> Result<(), String> {
        if self.sessions.contains_key(id) {
            return Err(format!("a new session reuses the known id {id}"));
        }
        if !is_valid_id(id) {
            return Err(format!("a new session has an invalid id {id:?}"));
        }
        let now = self.now;
        self.sessions.insert(
            id.to_string(),
            ModelSession {
                view,
                created: now,
                last_load: now,
                ended: false,
                ended_by_request_at: None,
            },
        );
        Ok(())
    }

    /// Checks a response's `Set-Cookie` and records a created session.
    fn finish(&mut self, r: Request, set_cookie: &[String]) -> Result<JarEffect, String> {
        let got = parse_set_cookie(set_cookie)?;
        let had_cookie = r.cookie.is_some();
        // No session to send: a cookie the client sent is cleared.
        let gone = |clear: bool| match (clear, &got) {
            (true, Some(SetCookie::Clear)) => Ok(JarEffect::Clear),
            (false, None) => Ok(JarEffect::None),
            (true, other) => Err(format!(
                "no session: expected the cookie to be cleared, got {other:?}"
            )),
            (false, other) => Err(format!("no session: expected no Set-Cookie, got {other:?}")),
        };
        match &r.phase {
            // Never used: nothing to answer.
            Phase::Unloaded => gone(false),
            Phase::Live { id, retired, .. } if self.alive(id) => match &got {
                Some(SetCookie::Value(v))
                    if id_of(v) == id && (r.id_changed || r.cookie.as_ref() == Some(v)) =>
                {
                    if *retired {
                        // Passivated since: finding it again is a load.
                        let now = self.now;
                        self.session(id).last_load = now;
                    }
                    expect_eq("cookie value", v.clone(), self.cookie_for(id))?;
                    Ok(JarEffect::Set(v.clone()))
                }
                other => Err(format!(
                    "live session {id}: expected its cookie (rolling), got {other:?}"
                )),
            },
            Phase::Live {
                retired: true, id, ..
            } if self.known.finish_resends_id_ended_after_passivation => match &got {
                Some(SetCookie::Value(v)) if r.cookie.as_ref() == Some(v) => {
                    Ok(JarEffect::Set(v.clone()))
                }
                other => Err(format!(
                    "session {id} ended after passivation: expected its cookie (known), got {other:?}"
                )),
            },
            // Ended by another request while this one was in flight: its id
            // is never sent again, and cleared only if it was not a logout or
            // login a moment ago (the browser holds a newer cookie then).
            Phase::Live { id, .. } => gone(had_cookie && !r.id_changed && !self.ended_recently(id))
                .map_err(|e| format!("session {id} ended: {e}")),
            // Its user was revoked before it was created: never created.
            Phase::Fresh(_) if (r.modified || r.must_create) && r.binding_revoked => {
                gone(had_cookie)
            }
            Phase::Fresh(view) if r.modified || r.must_create => match &got {
                Some(SetCookie::Value(v)) => {
                    expect_eq("cookie value", v.clone(), self.cookie_for(id_of(v)))?;
                    self.create(id_of(v), view.clone())?;
                    Ok(JarEffect::Set(v.clone()))
                }
                other => Err(format!("expected the cookie of a new session, got {other:?}")),
            },
            Phase::Destroyed => gone(had_cookie),
            Phase::Fresh(_) => {
                let stale = r.cookie.as_ref().is_some_and(|c| self.ended_recently(id_of(c)));
                gone(had_cookie && (r.destroyed_here || !stale))
            }
        }
    }

    /// Whether `action` in request `r` (as it is before the action) calls
    /// the store operation `op` and so fails when `op` does.
    fn calls(&self, r: &Request, action: &Action, op: StoreOp) -> Calls {
        // The live session the action works on, after loading (and
        // following it if it was passivated), if any.
        let live = match &r.phase {
            Phase::Unloaded => self.live_id(r.cookie.as_deref()),
            Phase::Live { id, .. } if self.alive(id) => Some(id.clone()),
            _ => None,
        };
        let local = match &r.phase {
            Phase::Unloaded => live.is_none(),
            Phase::Live { .. } => false,
            Phase::Fresh(_) | Phase::Destroyed => true,
        };
        let modifies = live.as_ref().is_some_and(|id| {
            is_change(action) && apply_change(action, &self.sessions[id].view).is_some()
        });
        // `save` of a session only this request has creates it.
        let creates = matches!(action, Action::Save) && local;
        let ends_live = ends(action) && live.is_some();
        match op {
            // The first load reads the store unless the session is in
            // memory; a live session passivated under a held request is
            // read again by its next change, touch, reload or end.
            StoreOp::Load => {
                let first = matches!(r.phase, Phase::Unloaded) && r.cookie.is_some();
                let follows = matches!(r.phase, Phase::Live { .. })
                    && (is_change(action)
                        || ends(action)
                        || matches!(action, Action::Touch | Action::Reload));
                if first || follows {
                    Calls::Maybe
                } else {
                    Calls::Never
                }
            }
            StoreOp::Save => Calls::when(modifies),
            StoreOp::Flush => Calls::when(modifies || ends_live || creates),
            StoreOp::Create => Calls::when(creates),
            StoreOp::Delete => Calls::when(ends_live),
            _ => Calls::Never,
        }
    }

    /// `action` failed with a backend error because `op` failed; `r` and the
    /// sessions are as they were before it. Applies what the runtime
    /// guarantees happened: the load (unless it was what failed) and,
    /// when the flush after a successful delete failed, the end.
    fn failed(&mut self, r: &mut Request, action: &Action, op: StoreOp) {
        if op == StoreOp::Load {
            return; // the load (or the follow of a passivated session) failed
        }
        self.load(r);
        if is_change(action) {
            // Followed the session (an activation, if passivated); the
            // change failed as a whole.
            self.follow(r);
        } else if ends(action) {
            let now = self.now;
            if let Phase::Live { id, retired, .. } = &r.phase {
                if self.alive(id) {
                    let s = self.sessions.get_mut(id.as_str()).unwrap();
                    if *retired {
                        s.last_load = now; // activated to be ended
                    }
                    if op == StoreOp::Flush {
                        // Deleted, then the flush failed: it ended anyway.
                        s.ended = true;
                        s.ended_by_request_at = Some(now);
                    }
                }
            }
        } else if matches!(action, Action::Save) {
            // The runtime drops `must_create` when the creation fails (a
            // still modified session is created at finish).
            r.must_create = false;
        }
    }

    /// Whether `finish` of `r` calls `op`.
    fn finish_calls(&self, r: &Request, op: StoreOp) -> Calls {
        let creates = matches!(r.phase, Phase::Fresh(_)) && (r.modified || r.must_create);
        match op {
            StoreOp::Create | StoreOp::Flush => Calls::when(creates),
            // A session passivated since it was loaded is found again.
            StoreOp::Load if matches!(r.phase, Phase::Live { .. }) => Calls::Maybe,
            _ => Calls::Never,
        }
    }

    /// Whether a request destroyed `id` or regenerated it away within the
    /// last minute (the runtime then sends no clearing cookie for it).
    fn ended_recently(&self, id: &str) -> bool {
        self.sessions
            .get(id)
            .and_then(|s| s.ended_by_request_at)
            .is_some_and(|at| self.now.saturating_sub(at) < 60_000)
    }

    /// Ends every live session bound to `user`; returns how many.
    fn revoke(&mut self, user: &str) -> usize {
        let ids: Vec<String> = self
            .sessions
            .iter()
            .filter(|(id, s)| self.alive(id) && s.view.user.as_deref() == Some(user))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ids {
            self.session(id).ended = true;
        }
        ids.len()
    }
}

fn kept(keep: u8, key: &str) -> bool {
    KEYS.iter()
        .enumerate()
        .any(|(i, k)| *k == key && keep & (1 << i) != 0)
}

/// `update(key, n + 1)` on `data`: the new value, or `None` (a decode
/// error, nothing changed) when the value is not an integer.
fn increment(data: &mut BTreeMap<String, Value>, key: &str) -> Option<i64> {
    let next = match data.get(key) {
        None => 1,
        Some(v) => v.as_i64()? + 1,
    };
    data.insert(key.into(), Value::from(next));
    Some(next)
}

#[derive(Debug)]
enum SetCookie {
    Value(String),
    Clear,
}

fn parse_set_cookie(set: &[String]) -> Result<Option<SetCookie>, String> {
    match set {
        [] => Ok(None),
        [one] => {
            let pair = one.split(';').next().unwrap_or_default();
            let value = pair
                .strip_prefix(COOKIE)
                .and_then(|v| v.strip_prefix('='))
                .ok_or_else(|| format!("unexpected Set-Cookie {one:?}"))?;
            if value.is_empty() || one.contains("Max-Age=0") {
                Ok(Some(SetCookie::Clear))
            } else {
                Ok(Some(SetCookie::Value(value.to_string())))
            }
        }
        more => Err(format!("more than one Set-Cookie: {more:?}")),
    }
}

// ---------------------------------------------------------------------------
// Driving the runtime
// ---------------------------------------------------------------------------

/// A request kept open across steps.
struct Held {
    session: Session,
    who: Who,
    request: Request,
}

struct World<H: Host> {
    host: H,
    setup: Setup,
    clock: Arc<ManualClock>,
    durable: bool,
    manager: Option<SessionManager>,
    model: Model,
    jars: [Option<String>; JARS],
    replays: Vec<String>,
    saved: usize,
    held: [Option<Held>; HELD],
    /// The fault `Op::Fault` armed for the next step.
    armed: Option<Fault>,
    /// The fault injected during the step running now.
    fault: Option<Fault>,
    /// How many calls its operation had when it was armed.
    fault_calls: u64,
    /// A fault was injected at some step: a passivation may have failed
    /// and be backing off.
    faulted: bool,
    /// Before a revoke: the user's stored records of no known session.
    uncreated: usize,
}

fn err<E: std::fmt::Debug>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what} failed: {e:?}")
}

fn expect_eq<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: runtime has {got:?}, model has {want:?}"))
    }
}

fn start(m: &SessionManager, cookie: Option<&str>) -> Session {
    let header = cookie.map(|v| format!("{COOKIE}={v}"));
    m.start(&RequestInfo {
        cookie_header: header.as_deref(),
        path: "/",
        ..Default::default()
    })
}

/// What the runtime answered to an action.
enum Outcome {
    Done,
    /// `get` or `remove`.
    Value(Option<Value>),
    /// `update`.
    Number(i64),
    /// `save`, and the session's id after it.
    Saved(Option<String>),
}

/// Does `action` in the runtime only.
async fn run(s: &Session, action: &Action) -> Result<Outcome, SessionError> {
    Ok(match action {
        Action::Get(k) => Outcome::Value(s.get::<Value>(KEYS[*k]).await?),
        Action::Insert(k, v) => {
            s.insert(KEYS[*k], v.json()).await?;
            Outcome::Done
        }
        Action::Remove(k) => Outcome::Value(s.remove(KEYS[*k]).await?),
        Action::Update(k) => Outcome::Number(
            s.update(KEYS[*k], |n: Option<i64>| n.unwrap_or(0) + 1)
                .await?,
        ),
        Action::Clear => {
            s.clear().await?;
            Outcome::Done
        }
        Action::Regenerate(keep) => {
            let keys: Vec<&str> = KEYS.iter().copied().filter(|k| kept(*keep, k)).collect();
            s.regenerate(&keys).await?;
            Outcome::Done
        }
        Action::Destroy => {
            s.destroy().await?;
            Outcome::Done
        }
        Action::Touch => {
            s.touch().await?;
            Outcome::Done
        }
        Action::BindUser(u) => {
            s.bind_user(USERS[*u]).await?;
            Outcome::Done
        }
        Action::Reload => {
            s.reload().await?;
            Outcome::Done
        }
        Action::Save => {
            s.save().await?;
            Outcome::Saved(s.id().await?)
        }
    })
}

/// Runs `fut` until `cut`: its output, or `None` if it was dropped first.
async fn cut_off<T>(fut: impl std::future::Future<Output = T>, cut: Cut) -> Option<T> {
    match cut {
        Cut::Micros(us) => tokio::time::timeout(Duration::from_micros(us), fut)
            .await
            .ok(),
        Cut::Polls(polls) => {
            let mut fut = std::pin::pin!(fut);
            let mut left = polls;
            std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
                std::task::Poll::Ready(out) => std::task::Poll::Ready(Some(out)),
                std::task::Poll::Pending if left == 0 => std::task::Poll::Ready(None),
                std::task::Poll::Pending => {
                    left -= 1;
                    cx.waker().wake_by_ref(); // yield, then poll again
                    std::task::Poll::Pending
                }
            })
            .await
        }
    }
}

/// The model before an action, to go back to if it fails.
struct Before {
    request: Request,
    sessions: HashMap<String, ModelSession>,
    /// Whether the action calls the faulted store operation.
    calls: Calls,
}

impl Model {
    fn before(&self, r: &Request, action: &Action, fault: Option<&Fault>) -> Before {
        Before {
            request: r.clone(),
            sessions: self.sessions.clone(),
            calls: fault.map_or(Calls::Never, |f| self.calls(r, action, f.op)),
        }
    }
}

/// What a request does after an action.
#[derive(Debug, PartialEq)]
enum Flow {
    Go,
    /// The action failed with a store error: the handler answers an error
    /// (the request is finished without further actions).
    Stop,
}

/// Whether an error is the store's (an injected fault, or its deadline).
fn is_store_failure(e: &SessionError) -> bool {
    matches!(e, SessionError::Store(StoreError::Backend(_)))
}

/// Whether a change failed because its owner did not take it in time (it
/// was withdrawn, never applied).
fn withdrawn(e: &SessionError) -> bool {
    e.to_string().contains("did not take the change")
}

/// Whether `fault` can keep a session's owner busy past the time a queued
/// change waits: a hung write of the owner (its own, or a background one
/// such as a passivation or an expiry's delete) runs for a few deadlines.
fn stalls_owners(fault: Option<&Fault>) -> bool {
    fault.is_some_and(|f| {
        f.kind == FaultKind::Hang
            && matches!(f.op, StoreOp::Save | StoreOp::Delete | StoreOp::Flush)
    })
}

/// Checks a store failure of a step against the armed fault: there must be
/// one, it must not be a mere delay, and the step must call its operation.
fn expect_failure(fault: Option<&Fault>, calls: Calls, why: &str) -> Result<StoreOp, String> {
    stats::add(&stats::FAILED);
    match fault {
        None => Err(format!("failed with no store fault armed: {why}")),
        Some(f) if matches!(f.kind, FaultKind::Delay(_)) => Err(format!(
            "failed although the store was only slowed down ({f:?}): {why}"
        )),
        Some(f) if calls == Calls::Never => Err(format!(
            "failed although it calls no {:?} ({f:?} armed): {why}",
            f.op
        )),
        Some(f) => {
            stats::failed(f.op);
            Ok(f.op)
        }
    }
}

/// Checks a success against the armed fault: an operation that fails at
/// every call cannot have been called.
fn expect_success(fault: Option<&Fault>, calls: Calls) -> Result<(), String> {
    if fault.is_some() && calls != Calls::Never {
        stats::add(&stats::SURVIVED);
    }
    match fault {
        Some(f) if f.kind.persistent() && calls == Calls::Always => Err(format!(
            "acknowledged although it calls {:?}, which fails at every call ({f:?})",
            f.op
        )),
        _ => Ok(()),
    }
}

/// Does `action` in the runtime and in the model; checks what it returns,
/// then the whole session as the request now sees it.
async fn act(
    model: &mut Model,
    s: &Session,
    r: &mut Request,
    action: &Action,
    fault: Option<&Fault>,
) -> Result<Flow, String> {
    let before = model.before(r, action, fault);
    let got = run(s, action).await;
    settle(model, s, r, action, fault, before, got).await
}

/// The model's side of an action the runtime did (answering `got`).
async fn settle(
    model: &mut Model,
    s: &Session,
    r: &mut Request,
    action: &Action,
    fault: Option<&Fault>,
    before: Before,
    got: Result<Outcome, SessionError>,
) -> Result<Flow, String> {
    if let Err(e) = &got {
        if is_store_failure(e) {
            let op = if withdrawn(e) && is_change(action) && stalls_owners(fault) {
                // Queued behind a hung write: withdrawn, like a failed
                // write of the change.
                stats::add(&stats::FAILED);
                StoreOp::Save
            } else {
                expect_failure(fault, before.calls, &e.to_string())?
            };
            // A failed action applies nothing.
            model.sessions = before.sessions;
            *r = before.request;
            model.failed(r, action, op);
            return Ok(Flow::Stop);
        }
    }
    expect_success(fault, before.calls)?;
    model.load(r);
    match (action, got) {
        (Action::Get(k), got) => {
            let got = got.map_err(err("get"))?;
            let want = model.view(r).data.get(KEYS[*k]).cloned();
            expect_eq("get", got_value(got)?, want)?;
        }
        (Action::Insert(k, v), got) => {
            got.map_err(err("insert"))?;
            model.change(r, |view| Some(view.data.insert(KEYS[*k].into(), v.json())));
        }
        (Action::Remove(k), got) => {
            let got = got_value(got.map_err(err("remove"))?)?;
            let skip = model.known.stale_view_skips_remove_and_clear
                && !model.view(r).data.contains_key(KEYS[*k]);
            let want = if skip {
                None
            } else {
                model
                    .change(r, |view| Some(view.data.remove(KEYS[*k])))
                    .flatten()
            };
            expect_eq("removed value", got, want)?;
        }
        (Action::Update(k), got) => {
            let want = model.change(r, |view| increment(&mut view.data, KEYS[*k]));
            match (got, want) {
                (Ok(Outcome::Number(n)), Some(w)) if n == w => {}
                (Err(SessionError::Decode { .. }), None) => {}
                (got, want) => {
                    let got = got.map(|o| match o {
                        Outcome::Number(n) => n,
                        _ => i64::MIN,
                    });
                    return Err(format!(
                        "update: runtime gave {got:?}, model expects {}",
                        want.map_or("a decode error".into(), |w| format!("Ok({w})"))
                    ));
                }
            }
        }
        (Action::Clear, got) => {
            got.map_err(err("clear"))?;
            if !(model.known.stale_view_skips_remove_and_clear && model.view(r).data.is_empty()) {
                model.change(r, |view| {
                    view.data.clear();
                    Some(())
                });
            }
        }
        (Action::Regenerate(keep), got) => {
            got.map_err(err("regenerate"))?;
            model.regenerate(r, *keep);
        }
        (Action::Destroy, got) => {
            got.map_err(err("destroy"))?;
            model.destroy(r);
        }
        (Action::Touch, got) => {
            got.map_err(err("touch"))?;
            model.touch(r);
        }
        (Action::BindUser(u), got) => {
            got.map_err(err("bind_user"))?;
            model.follow(r);
            let before = model.view(r).user;
            model.change(r, |view| {
                view.user = Some(USERS[*u].to_string());
                Some(())
            });
            if matches!(r.phase, Phase::Fresh(_)) && before.as_deref() != Some(USERS[*u]) {
                // A new binding (binding the user it has keeps the binding,
                // revoked or not).
                r.binding_revoked = false;
            }
        }
        (Action::Reload, got) => {
            got.map_err(err("reload"))?;
            model.reload(r);
        }
        (Action::Save, got) => match got.map_err(err("save"))? {
            Outcome::Saved(id) => model.save(r, id)?,
            _ => unreachable!("save answers its id"),
        },
    }
    let want = model.view(r);
    expect_eq("data", s.data().await.map_err(err("data"))?, want.data)?;
    expect_eq("user", s.user().await.map_err(err("user"))?, want.user)?;
    Ok(Flow::Go)
}

fn got_value(got: Outcome) -> Result<Option<Value>, String> {
    match got {
        Outcome::Value(v) => Ok(v),
        _ => Err("not a value".into()),
    }
}

impl<H: Host> World<H> {
    fn new(mut host: H, setup: Setup, known: Known) -> Self {
        let durable = host.store().is_some();
        let mut world = World {
            host,
            model: Model {
                known,
                now: START_MS,
                absolute: setup.absolute.then_some(ABSOLUTE_MS),
                sessions: HashMap::new(),
                signer: HmacSigner::new([SECRET]).expect("a valid secret"),
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

    fn make_manager(&mut self) -> SessionManager {
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

    fn manager(&self) -> &SessionManager {
        self.manager.as_ref().expect("a manager")
    }

    fn cookie(&self, who: Who) -> Option<String> {
        match who {
            Who::Jar(i) => self.jars[i].clone(),
            Who::Replay(_) if self.replays.is_empty() => None,
            Who::Replay(i) => Some(self.replays[i % self.replays.len()].clone()),
        }
    }

    fn apply_effect(&mut self, who: Who, effect: JarEffect) {
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
    async fn step(&mut self, op: &Op) -> Result<(), String> {
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
    async fn heal(&mut self) {
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

    async fn run_step(&mut self, op: &Op) -> Result<(), String> {
        let fault = self.fault;
        match op {
            Op::Request { who, actions } => {
                let cookie = self.cookie(*who);
                let s = start(self.manager(), cookie.as_deref());
                let mut r = self.model.request(cookie.as_deref());
                for (i, a) in actions.iter().enumerate() {
                    let flow = act(&mut self.model, &s, &mut r, a, fault.as_ref())
                        .await
                        .map_err(|e| format!("action {i} {a:?}: {e}"))?;
                    if flow == Flow::Stop {
                        break;
                    }
                }
                self.finish(*who, &s, r).await
            }
            Op::Open { slot, who } => self.open(*slot, *who).await,
            Op::Continue { slot, action } => {
                if self.held[*slot].is_none() {
                    self.open(*slot, Who::Jar(*slot % JARS)).await?;
                }
                let Some(h) = self.held[*slot].as_mut() else {
                    return Ok(()); // the open failed
                };
                let flow = act(
                    &mut self.model,
                    &h.session,
                    &mut h.request,
                    action,
                    fault.as_ref(),
                )
                .await?;
                if flow == Flow::Stop {
                    self.close(*slot).await?;
                }
                Ok(())
            }
            Op::Close { slot } => self.close(*slot).await,
            Op::Cancel { who, action, cut } => {
                let cookie = self.cookie(*who);
                let s = start(self.manager(), cookie.as_deref());
                let r = self.model.request(cookie.as_deref());
                let held = Held {
                    session: s,
                    who: *who,
                    request: r,
                };
                self.cancel(held, None, action, *cut).await
            }
            Op::CancelHeld { slot, action, cut } => {
                if self.held[*slot].is_none() {
                    self.open(*slot, Who::Jar(*slot % JARS)).await?;
                }
                match self.held[*slot].take() {
                    Some(held) => self.cancel(held, Some(*slot), action, *cut).await,
                    None => Ok(()), // the open failed
                }
            }
            Op::Fault(_) => Ok(()),
            Op::Revoke { user } => {
                let user = USERS[*user];
                let got = self.manager().revoke_user(user).await;
                // New sessions bound to the user inside open requests are
                // never created (marked when the revoke starts, even if it
                // then fails).
                for held in self.held.iter_mut().flatten() {
                    if let Phase::Fresh(view) = &held.request.phase {
                        if view.user.as_deref() == Some(user) {
                            held.request.binding_revoked = true;
                        }
                    }
                }
                let bound = !self.bound_to(user).is_empty();
                let calls = fault.map_or(Calls::Never, |f| match f.op {
                    StoreOp::KeysForUser | StoreOp::Flush => Calls::Always,
                    StoreOp::Delete if bound => Calls::Always,
                    StoreOp::Load | StoreOp::Delete => Calls::Maybe,
                    _ => Calls::Never,
                });
                match got {
                    Ok(n) => {
                        expect_success(fault.as_ref(), calls)?;
                        expect_eq("revoked", n, self.model.revoke(user) + self.uncreated)
                    }
                    Err(e) if is_store_failure(&e) => {
                        expect_failure(fault.as_ref(), calls, &e.to_string())?;
                        self.heal().await;
                        self.learn_revoked(user).await
                    }
                    Err(e) => Err(format!("revoke_user failed: {e:?}")),
                }
            }
            Op::Concurrent { who, key, k } => self.concurrent(*who, KEYS[*key], *k).await,
            Op::SaveCookie { jar } => {
                if let Some(c) = self.jars[*jar].clone() {
                    if self.replays.len() < REPLAYS {
                        self.replays.push(c);
                    } else {
                        self.replays[self.saved % REPLAYS] = c;
                    }
                    self.saved += 1;
                }
                Ok(())
            }
            Op::Advance { ms } => {
                // An open request racing its session's expiry or passivation
                // has no single sequential outcome: abandon open requests.
                self.held = Default::default();
                self.advance(*ms);
                if self.durable && self.model.known.load_during_passivation_lost {
                    // Every session is due: let them go (see `Known`).
                    self.wait_until_passivated().await?;
                }
                Ok(())
            }
            Op::Sleep { ms } => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(())
            }
            Op::Passivate => {
                self.advance(PASSIVATE_MS);
                if !self.durable {
                    self.held = Default::default();
                    return Ok(());
                }
                self.wait_until_passivated().await?;
                // Every session has left memory: the live ones were written
                // out (retired); expired or ended ones are dead.
                for h in self.held.iter_mut().flatten() {
                    if let Phase::Live { id, retired, .. } = &mut h.request.phase {
                        *retired |= self.model.alive(id);
                    }
                }
                Ok(())
            }
            Op::Restart => {
                if self.durable {
                    self.held = Default::default();
                    let manager = self.manager.take().expect("a manager");
                    manager.shutdown().await.map_err(err("shutdown"))?;
                    drop(manager);
                    self.host.restart();
                    self.manager = Some(self.make_manager());
                    // Which ids ended a moment ago is kept in memory only.
                    for s in self.model.sessions.values_mut() {
                        s.ended_by_request_at = None;
                    }
                }
                Ok(())
            }
        }
    }

    /// Finishes a request and checks its `Set-Cookie`. A `finish` that
    /// fails (the creation of its new session or the load of its
    /// passivated one failed) answers no cookie and creates nothing.
    async fn finish(&mut self, who: Who, s: &Session, r: Request) -> Result<(), String> {
        let fault = self.fault;
        let calls = fault.map_or(Calls::Never, |f| self.model.finish_calls(&r, f.op));
        match s.finish().await {
            Ok(set) => {
                expect_success(fault.as_ref(), calls).map_err(|e| format!("finish: {e}"))?;
                let effect = self.model.finish(r, &set)?;
                self.apply_effect(who, effect);
                Ok(())
            }
            Err(e) if is_store_failure(&e) => expect_failure(fault.as_ref(), calls, &e.to_string())
                .map(|_| ())
                .map_err(|e| format!("finish: {e}")),
            Err(e) => Err(format!("finish failed: {e:?}")),
        }
    }

    /// Starts a request from `who`, loads its session and keeps it open
    /// (finished at once if the load fails).
    async fn open(&mut self, slot: usize, who: Who) -> Result<(), String> {
        self.close(slot).await?;
        let cookie = self.cookie(who);
        let s = start(self.manager(), cookie.as_deref());
        let mut r = self.model.request(cookie.as_deref());
        let load = Action::Get(0);
        if act(&mut self.model, &s, &mut r, &load, self.fault.as_ref()).await? == Flow::Stop {
            return self.finish(who, &s, r).await;
        }
        self.held[slot] = Some(Held {
            session: s,
            who,
            request: r,
        });
        Ok(())
    }

    /// Runs `action` in `held` and drops the request (never finished) if
    /// the action has not returned at `cut`; a request that was open in
    /// `slot` stays open if it has.
    async fn cancel(
        &mut self,
        held: Held,
        slot: Option<usize>,
        action: &Action,
        cut: Cut,
    ) -> Result<(), String> {
        let Held {
            session: s,
            who,
            request: mut r,
        } = held;
        let fault = self.fault;
        let before = self.model.before(&r, action, fault.as_ref());
        match cut_off(run(&s, action), cut).await {
            Some(got) => {
                let flow = settle(
                    &mut self.model,
                    &s,
                    &mut r,
                    action,
                    fault.as_ref(),
                    before,
                    got,
                )
                .await?;
                match (flow, slot) {
                    (Flow::Go, Some(slot)) => {
                        self.held[slot] = Some(Held {
                            session: s,
                            who,
                            request: r,
                        });
                        Ok(())
                    }
                    _ => self.finish(who, &s, r).await,
                }
            }
            None => {
                drop(s);
                stats::add(&stats::CANCELLED);
                self.cancelled(before.request, action)
                    .await
                    .map_err(|e| format!("cancelled {action:?}: {e}"))
            }
        }
    }

    /// A request was dropped in the middle of `action` (`r` is the request
    /// as it was before): the action's one change may or may not have been
    /// applied, never half; nothing else changed. A probe reads the
    /// session back once to learn which.
    async fn cancelled(&mut self, r: Request, action: &Action) -> Result<(), String> {
        let id = match &r.phase {
            Phase::Unloaded => self.model.live_id(r.cookie.as_deref()),
            Phase::Live { id, .. } if self.model.alive(id) => Some(id.clone()),
            // A session of its own, never created: nothing happened.
            _ => None,
        };
        let Some(id) = id else { return Ok(()) };
        // What the dropped request started goes on without it: let its
        // faulted store calls end.
        self.heal().await;
        let probe = start(self.manager(), Some(&self.model.cookie_for(&id)));
        // A change that changes nothing, applied after every change the
        // dropped request queued.
        probe.remove(PROBE_KEY).await.map_err(err("probe"))?;
        let probed = probe.id().await.map_err(err("probe id"))?;
        let view = View {
            data: probe.data().await.map_err(err("probe data"))?,
            user: probe.user().await.map_err(err("probe user"))?,
        };
        drop(probe); // never finished: it answers nothing
        let now = self.model.now;
        let s = self.model.session(&id);
        match probed {
            Some(got) if got == id => {
                s.last_load = now; // the probe loaded it
                if view == s.view {
                    return Ok(()); // not applied
                }
                match apply_change(action, &s.view) {
                    Some(applied) if applied == view => {
                        stats::add(&stats::CANCELLED_APPLIED);
                        s.view = applied;
                        Ok(())
                    }
                    _ => Err(format!(
                        "session {id} holds {view:?}; the model has {:?}, or that with the change",
                        s.view
                    )),
                }
            }
            None if ends(action) => {
                stats::add(&stats::CANCELLED_APPLIED);
                s.ended = true;
                s.ended_by_request_at = Some(now);
                Ok(())
            }
            other => Err(format!("session {id} came back as {other:?}")),
        }
    }

    /// With [`Known::revoke_counts_uncreated_records`]: how many unexpired
    /// records bound to `user` the store holds that belong to no session
    /// the model knows (sessions refused at creation whose record stayed).
    async fn uncreated_records(&mut self, user: &str) -> Result<usize, String> {
        if !self.model.known.revoke_counts_uncreated_records {
            return Ok(0);
        }
        let Some(store) = self.host.store() else {
            return Ok(0);
        };
        let known: std::collections::HashSet<SessionKey> = self
            .model
            .sessions
            .keys()
            .map(|id| SessionKey::of_id(id))
            .collect();
        let mut uncreated = 0;
        for key in store
            .keys_for_user(user)
            .await
            .map_err(err("keys_for_user"))?
        {
            if known.contains(&key) {
                continue;
            }
            let record = store.load(&key).await.map_err(err("store load"))?;
            if record.is_some_and(|r| !r.is_expired(self.model.now)) {
                uncreated += 1;
            }
        }
        Ok(uncreated)
    }

    /// The unexpired sessions bound to `user`.
    fn bound_to(&self, user: &str) -> Vec<String> {
        self.model
            .sessions
            .iter()
            .filter(|(id, s)| self.model.alive(id) && s.view.user.as_deref() == Some(user))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A revoke of `user` failed part way: each session bound to it ended
    /// exactly if its record left the store (a revoke deletes first).
    async fn learn_revoked(&mut self, user: &str) -> Result<(), String> {
        let store = self.host.store().expect("a store");
        for id in self.bound_to(user) {
            let record = store
                .load(&SessionKey::of_id(&id))
                .await
                .map_err(err("store load"))?;
            if record.is_none() {
                self.model.session(&id).ended = true;
            }
        }
        Ok(())
    }

    async fn close(&mut self, slot: usize) -> Result<(), String> {
        match self.held[slot].take() {
            Some(h) => self.finish(h.who, &h.session, h.request).await,
            None => Ok(()),
        }
    }

    fn advance(&mut self, ms: u64) {
        self.clock.advance(Duration::from_millis(ms));
        self.model.now += ms;
    }

    async fn wait_until_passivated(&mut self) -> Result<(), String> {
        let (mut fewest, mut since, mut pushes) = (u64::MAX, std::time::Instant::now(), 0);
        for _ in 0..2500 {
            let stats = self.manager().stats().await.map_err(err("stats"))?;
            if stats.live == 0 {
                return Ok(());
            }
            if stats.live < fewest {
                (fewest, since) = (stats.live, std::time::Instant::now());
            }
            if self.faulted && since.elapsed() > Duration::from_millis(100) && pushes < 8 {
                // A passivation failed under an earlier fault and backs off
                // (1 s, doubling, on the session clock): move the clock on.
                // Open requests would race it: abandon them.
                self.held = Default::default();
                self.advance(1000 << pushes);
                (pushes, since) = (pushes + 1, std::time::Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let stats = self.manager().stats().await.map_err(err("stats"))?;
        Err(format!(
            "sessions idle past passivate_after still in memory after 5 s: {stats:?}"
        ))
    }

    /// `k` concurrent requests on one cookie, each incrementing `key`.
    /// Under a store fault some may fail: a request whose load failed has
    /// no session (and answers no cookie), a failed write fails its whole
    /// batch, a failed creation answers no cookie. The increments that
    /// succeed are consecutive.
    async fn concurrent(&mut self, who: Who, key: &'static str, k: usize) -> Result<(), String> {
        let fault = self.fault;
        let cookie = self.cookie(who);
        let tasks: Vec<_> = (0..k)
            .map(|_| {
                let (m, cookie) = (self.manager().clone(), cookie.clone());
                tokio::spawn(async move {
                    let s = start(&m, cookie.as_deref());
                    let n = s.update(key, |n: Option<i64>| n.unwrap_or(0) + 1).await;
                    (n, s.finish().await)
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.map_err(err("a concurrent request"))?);
        }
        let op = fault.map(|f| f.op);
        let live = self.model.live_id(cookie.as_deref());
        // Whether the faulted operation is called by the updates.
        let update_calls = match (op, &live) {
            (Some(StoreOp::Load), _) if cookie.is_some() => Calls::Maybe,
            (Some(StoreOp::Save | StoreOp::Flush), Some(id)) => {
                let current = self.model.sessions[id].view.data.get(key);
                Calls::when(current.is_none_or(|v| v.as_i64().is_some()))
            }
            _ => Calls::Never,
        };
        // Each request, and whether its load failed (its model request
        // then stays unloaded).
        let mut requests = Vec::new();
        for (n, set) in results {
            let unloaded = match &n {
                // Queued behind a hung write: withdrawn (its load happened).
                Err(e) if withdrawn(e) && stalls_owners(fault.as_ref()) => false,
                Err(e) if is_store_failure(e) => {
                    let op = expect_failure(fault.as_ref(), update_calls, &e.to_string())
                        .map_err(|e| format!("concurrent update: {e}"))?;
                    op == StoreOp::Load
                }
                _ => {
                    expect_success(fault.as_ref(), update_calls)
                        .map_err(|e| format!("concurrent update: {e}"))?;
                    false
                }
            };
            requests.push((n, set, unloaded));
        }
        let Some(id) = live else {
            // No live session: each request starts its own.
            let mut last = JarEffect::None;
            for (n, set, unloaded) in requests {
                let mut r = self.model.request(cookie.as_deref());
                if !unloaded {
                    expect_eq("update of a new session", n.as_ref().ok(), Some(&1))?;
                    self.model
                        .change(&mut r, |view| increment(&mut view.data, key));
                }
                match self.finish_concurrent(r, set)? {
                    JarEffect::None => {}
                    effect => last = effect,
                }
            }
            self.apply_effect(who, last);
            return Ok(());
        };
        // One live session: every request that loads it touches it; every
        // increment that succeeds lands (on a string, every update fails
        // and changes nothing).
        let before = self.model.sessions[&id].view.data.get(key).cloned();
        let mut values = Vec::new();
        for (n, set, unloaded) in requests {
            let r = if unloaded {
                self.model.request(cookie.as_deref())
            } else {
                self.model.begin(cookie.as_deref())
            };
            self.finish_concurrent(r, set)?;
            match (&n, before.as_ref().map(Value::as_i64)) {
                (Err(e), _) if is_store_failure(e) => {}
                (Err(SessionError::Decode { .. }), Some(None)) => {}
                (Ok(n), Some(Some(_)) | None) => values.push(*n),
                (n, _) => return Err(format!("concurrent update: unexpected {n:?}")),
            }
        }
        if let Some(start) = before.map_or(Some(0), |v| v.as_i64()) {
            values.sort_unstable();
            let done = values.len() as i64;
            let want: Vec<i64> = (1..=done).map(|i| start + i).collect();
            expect_eq("concurrent update results", values, want)?;
            if done > 0 {
                let mut r = self.model.begin(cookie.as_deref());
                self.model.change(&mut r, |view| {
                    Some(view.data.insert(key.into(), Value::from(start + done)))
                });
            }
        }
        Ok(())
    }

    /// Checks the `finish` of one concurrent request.
    fn finish_concurrent(
        &mut self,
        r: Request,
        set: Result<Vec<String>, SessionError>,
    ) -> Result<JarEffect, String> {
        let fault = self.fault;
        let calls = fault.map_or(Calls::Never, |f| self.model.finish_calls(&r, f.op));
        match set {
            Ok(set) => {
                expect_success(fault.as_ref(), calls)
                    .map_err(|e| format!("concurrent finish: {e}"))?;
                self.model.finish(r, &set)
            }
            Err(e) if is_store_failure(&e) => {
                expect_failure(fault.as_ref(), calls, &e.to_string())
                    .map_err(|e| format!("concurrent finish: {e}"))?;
                Ok(JarEffect::None)
            }
            Err(e) => Err(format!("concurrent finish failed: {e:?}")),
        }
    }

    /// Closes open requests, reads every cookie in play, then revokes every
    /// user: the runtime must agree with the model on all of it.
    async fn audit(&mut self) -> Result<(), String> {
        self.armed = None;
        for slot in 0..HELD {
            self.close(slot).await?;
        }
        let touch = |who| Op::Request {
            who,
            actions: vec![Action::Touch],
        };
        for jar in 0..JARS {
            self.step(&touch(Who::Jar(jar)))
                .await
                .map_err(|e| format!("touch of jar {jar}: {e}"))?;
        }
        for replay in 0..self.replays.len() {
            self.step(&touch(Who::Replay(replay)))
                .await
                .map_err(|e| format!("touch of replay {replay}: {e}"))?;
        }
        for user in 0..USERS.len() {
            self.step(&Op::Revoke { user }).await?;
        }
        Ok(())
    }
}

impl<H: Host> World<H> {
    /// After a graceful shutdown the store holds every live session exactly
    /// (data, user, creation, expiry from its last load), no record of an
    /// ended one, and an expired one at most as an expired record.
    async fn check_store(&mut self) -> Result<(), String> {
        let Some(store) = self.host.store() else {
            return Ok(());
        };
        for (id, s) in &self.model.sessions {
            let record = store
                .load(&SessionKey::of_id(id))
                .await
                .map_err(err("store load"))?;
            let alive = self.model.alive(id);
            match record {
                Some(r) if alive => {
                    let deadline = self.model.absolute.map(|a| s.created + a);
                    let idle = s.last_load + MAX_AGE_MS;
                    let want = (
                        View {
                            data: s.view.data.clone(),
                            user: s.view.user.clone(),
                        },
                        s.created,
                        deadline,
                        Some(deadline.map_or(idle, |d| d.min(idle))),
                    );
                    let got = (
                        View {
                            data: r.data,
                            user: r.user,
                        },
                        r.created_at_ms,
                        r.absolute_deadline_ms,
                        r.expires_at_ms,
                    );
                    expect_eq(&format!("stored record of live session {id}"), got, want)?;
                }
                None if alive => return Err(format!("live session {id} is not in the store")),
                Some(_) if s.ended => {
                    return Err(format!("ended session {id} is still in the store"))
                }
                Some(r) if !r.is_expired(self.model.now) => {
                    return Err(format!(
                        "expired session {id} is stored as unexpired: {:?}",
                        r.expires_at_ms
                    ))
                }
                Some(_) | None => {}
            }
        }
        Ok(())
    }
}

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

// ---------------------------------------------------------------------------
// The properties over the runtime's own backends
// ---------------------------------------------------------------------------

#[cfg(feature = "testing")]
mod runtime_backends {
    use super::*;
    use livesession::store::MemoryStore;

    /// Memory mode: no store, sessions live only in memory.
    pub struct NoStore;

    impl Host for NoStore {
        fn store(&mut self) -> Option<Arc<dyn SessionStore>> {
            None
        }
    }

    /// A `MemoryStore` that outlives restarts, behind a fault switch.
    pub struct InMemoryStore(pub FaultyStore<MemoryStore>);

    impl InMemoryStore {
        pub fn new() -> Self {
            InMemoryStore(FaultyStore::new(MemoryStore::new()))
        }
    }

    impl Host for InMemoryStore {
        fn store(&mut self) -> Option<Arc<dyn SessionStore>> {
            Some(Arc::new(self.0.clone()))
        }

        fn faults(&mut self) -> Option<Arc<dyn Faults>> {
            Some(Arc::new(self.0.clone()))
        }
    }

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
/// found (all fixed; their switches in [`KNOWN`] are off).
#[cfg(feature = "testing")]
mod known_deviations {
    use super::runtime_backends::{InMemoryStore, NoStore};
    use super::*;
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
