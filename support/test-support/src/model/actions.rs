//! The generated steps ([`Op`]) and cases ([`case`]): what a request does,
//! who sends it, the faults and cancellations, and the proptest strategies.

use super::{HELD, JARS, KEYS, MAX_AGE_MS, REPLAYS, USERS};
use livesession::testing::Op as StoreOp;
use proptest::prelude::*;
use serde_json::Value;

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
    /// An integer (`update` increments it).
    Int(i64),
    /// A string (`update` fails to decode it).
    Str(&'static str),
}

impl Val {
    pub(crate) fn json(&self) -> Value {
        match self {
            Val::Int(n) => Value::from(*n),
            Val::Str(s) => Value::from(*s),
        }
    }
}

/// One thing a request does with its session (keys index [`KEYS`], users
/// index [`USERS`]).
#[derive(Debug, Clone)]
pub enum Action {
    /// `get(key)`.
    Get(usize),
    /// `insert(key, value)`.
    Insert(usize, Val),
    /// `remove(key)`.
    Remove(usize),
    /// `update(key, n + 1)` as an `i64` (a decode error on a string).
    Update(usize),
    /// `clear()`.
    Clear,
    /// `regenerate(keep)`; bit `i` of `keep` keeps `KEYS[i]`.
    Regenerate(u8),
    /// `destroy()`.
    Destroy,
    /// `touch()`.
    Touch,
    /// `bind_user(user)`.
    BindUser(usize),
    /// `reload()`.
    Reload,
    /// `save()`, then `id()`.
    Save,
}

/// One step. A `slot` indexes the open requests ([`HELD`]), a `user`
/// [`USERS`], a `key` [`KEYS`], a `jar` the cookie jars ([`JARS`]).
#[derive(Debug, Clone)]
pub enum Op {
    /// One request: its actions, each followed by reading the whole session
    /// back (`data`, `user`), then `finish`.
    Request {
        /// Who sends it.
        who: Who,
        /// What it does, in order.
        actions: Vec<Action>,
    },
    /// Starts a request, loads its session and keeps it open in `slot`
    /// while other steps run (an in-flight request).
    Open {
        /// Where it is kept.
        slot: usize,
        /// Who sends it.
        who: Who,
    },
    /// One action on the request open in `slot` (opened first, from
    /// `Jar(slot)`, if none is).
    Continue {
        /// The open request.
        slot: usize,
        /// What it does.
        action: Action,
    },
    /// Finishes the request open in `slot`.
    Close {
        /// The open request.
        slot: usize,
    },
    /// `revoke_user(user)`.
    Revoke {
        /// The user revoked.
        user: usize,
    },
    /// `k` requests on one cookie at once, each `update(key, n + 1)`.
    Concurrent {
        /// Whose cookie they send.
        who: Who,
        /// The key they increment.
        key: usize,
        /// How many.
        k: usize,
    },
    /// Saves a jar's current cookie for replays.
    SaveCookie {
        /// The jar.
        jar: usize,
    },
    /// Moves the manual clock (open requests are abandoned first).
    Advance {
        /// By this many ms.
        ms: u64,
    },
    /// Lets real time pass (owners hibernate, alarms and sweeps run).
    Sleep {
        /// This many ms.
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
        /// Who sends it.
        who: Who,
        /// What it does.
        action: Action,
        /// When it is dropped.
        cut: Cut,
    },
    /// The same on the request open in `slot` (opened first, from
    /// `Jar(slot)`, if none is): dropped with it if the action is cut off.
    CancelHeld {
        /// The open request.
        slot: usize,
        /// What it does.
        action: Action,
        /// When it is dropped.
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
    pub(crate) fn persistent(self) -> bool {
        matches!(self, FaultKind::Fail | FaultKind::Hang)
    }
}

/// A fault of one store operation.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    /// The store operation whose calls it affects.
    pub op: StoreOp,
    /// What it does to them.
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
pub(crate) fn takes_fault(op: &Op) -> bool {
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
