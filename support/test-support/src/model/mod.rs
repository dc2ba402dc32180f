//! Model-based tests: random sequences of requests, clock moves, passivations
//! and restarts, checked step by step against a simple sequential model of
//! what every session must contain.
//!
//! Every step goes through real request handles (`SessionManager::start`,
//! the `Session` API, `RequestSession::finish`) over a small pool of cookie jars,
//! each holding the cookie it last received, plus a few replayed cookies
//! saved from earlier (an attacker or an old tab). Requests do one to three
//! actions; a few are kept open while other steps run (in-flight requests
//! that write after a logout, a regenerate, a revoke or a passivation).
//! Between requests the manual clock moves (past the idle and absolute
//! timeouts, exactly onto them), owners hibernate (1..5 ms in most cases),
//! sessions are passivated, the manager restarts on the same store, and
//! batches of concurrent increments hit one cookie. The model maps each id
//! to its data, user, creation and last load, and computes idle and absolute
//! expiry from the same [`ManualClock`](livesession::clock::ManualClock) the runtime uses. After every step:
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
//! With a store, the store is wrapped in a [`FaultyStore`](livesession::testing::FaultyStore) and a step may
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
//! # Layout
//!
//! * `actions`: the generated steps ([`Op`], [`Action`], [`Fault`],
//!   [`Setup`]) and the strategy of a whole case ([`case`]);
//! * `spec`: the sequential model; `cookies`: what a response's
//!   `Set-Cookie` must be; `calls`: which store operations a step calls and
//!   what a failure may mean;
//! * `drive` and `world`: the runtime and the model side by side, one step
//!   at a time; `check`: the runner ([`check()`], [`check_with`]);
//! * `host`: where sessions are stored ([`Host`]). Memory mode
//!   ([`NoStore`]) and `MemoryStore` ([`InMemoryStore`]) are here;
//!   `runtime/tests/model.rs` runs the properties over them (and keeps
//!   `known_deviations`), and `persistence/sled/tests/model.rs` declares a
//!   `SledStore` host and runs them over it.
//!
//! More cases: `PROPTEST_CASES=1000 cargo test -p livesession --test model`.

mod actions;
mod calls;
mod check;
mod cookies;
mod drive;
mod host;
mod known;
mod spec;
mod stats;
mod world;

pub use actions::{case, config, Action, Cut, Fault, FaultKind, Op, Setup, Val, Who};
pub use check::{check, check_with};
pub use cookies::{parse_set_cookie, SetCookie};
pub use drive::start;
pub use host::{Faults, Host, InMemoryStore, NoStore};
pub use known::{Known, KNOWN};

use std::time::Duration;

/// The secret every manager of a case signs with.
pub const SECRET: &str = "model-based-tests-secret-0123456789";
/// The session cookie's name.
pub const COOKIE: &str = "sessionId";
/// The manual clock's start (Unix ms).
pub const START_MS: u64 = 1_700_000_000_000;
/// Idle timeout (manual clock).
pub const MAX_AGE_MS: u64 = 60 * 60_000;
/// Absolute timeout (manual clock), when the case has one.
pub const ABSOLUTE_MS: u64 = 100 * 60_000;
/// With a store: idle this long (manual clock) and a session is passivated.
/// Every clock move is at least this long, so passivations race the next
/// steps all the time.
pub const PASSIVATE_MS: u64 = 50;
/// The keys actions use (an action's key is an index).
pub const KEYS: [&str; 3] = ["a", "b", "c"];
/// A key no action uses: removing it is a change that changes nothing, which
/// a probe sends to wait for every change queued before it.
pub(crate) const PROBE_KEY: &str = "probe";
/// The users sessions are bound to (an action's user is an index).
pub const USERS: [&str; 2] = ["alice", "bob"];
/// Clients that keep the cookie each response gives them.
pub const JARS: usize = 3;
/// Replayed cookies kept at most (never updated by responses).
pub const REPLAYS: usize = 3;
/// Requests kept open across steps, at most.
pub const HELD: usize = 2;
/// A step that takes longer than this (real time) is a hang.
pub(crate) const STEP_LIMIT: Duration = Duration::from_secs(15);
/// The store deadline (`store_timeout`) unless the host says otherwise: a
/// hanging store call fails after this long. Injected delays stay well
/// below it.
pub const STORE_TIMEOUT: Duration = Duration::from_millis(60);
/// How many store deadlines a hung call may keep its session's owner busy:
/// an owner answers its callers at the deadline but waits for the write up
/// to four more before giving it up (the runtime's `WRITE_GRACE_DEADLINES`),
/// plus one for good measure. After a step in which a call hung, the next
/// step waits this long, so it does not queue behind the hung write.
pub(crate) const HANG_DEADLINES: u32 = 6;
