//! Runtime metrics, reported through the [`metrics`] facade: install any
//! recorder (e.g. `metrics-exporter-prometheus`) to collect them; without
//! one they cost next to nothing.
//!
//! | name | kind | labels | what |
//! | --- | --- | --- | --- |
//! | `livesession_live_sessions` | gauge | | sessions in memory (live or being activated) |
//! | `livesession_hibernated_sessions` | gauge | | live sessions whose owner is asleep |
//! | `livesession_sessions_created_total` | counter | | new sessions created |
//! | `livesession_activations_total` | counter | | sessions loaded from the store |
//! | `livesession_passivations_total` | counter | | idle sessions written out and dropped from memory |
//! | `livesession_sessions_ended_total` | counter | `reason`: `destroyed`, `regenerated`, `revoked`, `expired` | sessions ended for good |
//! | `livesession_store_op_seconds` | histogram | `op` | duration of each store call |
//! | `livesession_store_errors_total` | counter | `op` | store calls that failed or timed out |
//! | `livesession_batch_changes` | histogram | | changes applied per owner batch (one write, one flush) |
//! | `livesession_store_conflicts_total` | counter | | shared store: batches applied again because another process wrote first |
//!
//! The two histograms come with bucket bounds, [`STORE_OP_SECONDS_BUCKETS`]
//! and [`BATCH_CHANGES_BUCKETS`], for recorders that need them. Give them to
//! `metrics-exporter-prometheus`
//! (`PrometheusBuilder::set_buckets_for_metric`, as the demos do): without
//! buckets it renders a histogram as a summary, whose quantiles cannot be
//! added up across servers and which costs several times more per sample
//! to maintain.

use metrics::{counter, gauge, histogram};

/// Bucket upper bounds, in seconds, for `livesession_store_op_seconds`:
/// 50 µs (an in-memory or buffered write) to 30 s. A call cut at the
/// default 5 s store deadline ends a little after it (in the 10 s bucket);
/// an owner waits for its own write up to four more deadlines (25 s).
pub const STORE_OP_SECONDS_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Bucket upper bounds for `livesession_batch_changes`: 1 (a change
/// applied alone) up to 1024, doubling.
pub const BATCH_CHANGES_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Why a session ended for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndReason {
    /// `destroy()` (logout).
    Destroyed,
    /// `regenerate()` replaced its id.
    Regenerated,
    /// `revoke_user`.
    Revoked,
    /// Idle or absolute timeout.
    Expired,
}

impl EndReason {
    fn label(self) -> &'static str {
        match self {
            EndReason::Destroyed => "destroyed",
            EndReason::Regenerated => "regenerated",
            EndReason::Revoked => "revoked",
            EndReason::Expired => "expired",
        }
    }
}

pub(crate) fn live_sessions(n: usize) {
    gauge!("livesession_live_sessions").set(n as f64);
}

pub(crate) fn hibernated_sessions(n: usize) {
    gauge!("livesession_hibernated_sessions").set(n as f64);
}

pub(crate) fn session_created() {
    counter!("livesession_sessions_created_total").increment(1);
}

pub(crate) fn session_activated() {
    counter!("livesession_activations_total").increment(1);
}

pub(crate) fn session_passivated() {
    counter!("livesession_passivations_total").increment(1);
}

pub(crate) fn session_ended(reason: EndReason) {
    counter!("livesession_sessions_ended_total", "reason" => reason.label()).increment(1);
}

/// Declares [`StoreOp`] and [`store_op`] from one list, so that each
/// operation's metric keys are literals: `metrics` builds a literal key once,
/// in a `static`, where a computed label would cost an allocation and a hash
/// on every call.
macro_rules! store_ops {
    ($($(#[$doc:meta])* $op:ident => $label:literal,)*) => {
        /// A store call, as the `op` label of the store metrics names it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum StoreOp {
            $($(#[$doc])* $op,)*
        }

        impl StoreOp {
            /// The `op` label: the store method's name.
            pub(crate) fn label(self) -> &'static str {
                match self {
                    $(StoreOp::$op => $label,)*
                }
            }
        }

        /// Records one store call: its duration, and an error unless `ok`.
        pub(crate) fn store_op(op: StoreOp, seconds: f64, ok: bool) {
            match op {
                $(StoreOp::$op => {
                    histogram!("livesession_store_op_seconds", "op" => $label).record(seconds);
                    if !ok {
                        counter!("livesession_store_errors_total", "op" => $label).increment(1);
                    }
                })*
            }
        }
    };
}

store_ops! {
    /// `load`.
    Load => "load",
    /// `create` and `create_shared`.
    Create => "create",
    /// `save`, and the owner's writes of its own record.
    Save => "save",
    /// `delete` and `end`.
    Delete => "delete",
    /// `keys_for_user`.
    KeysForUser => "keys_for_user",
    /// `remove_expired`.
    RemoveExpired => "remove_expired",
    /// `count`.
    Count => "count",
    /// `flush`.
    Flush => "flush",
    /// `touch` (shared stores).
    Touch => "touch",
    /// `commit` (shared stores).
    Commit => "commit",
}

impl std::fmt::Display for StoreOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

pub(crate) fn batch(changes: usize) {
    histogram!("livesession_batch_changes").record(changes as f64);
}

pub(crate) fn store_conflict() {
    counter!("livesession_store_conflicts_total").increment(1);
}

/// Describes every metric to the installed recorder and registers the
/// counters and gauges at zero, so that an exporter lists them before the
/// first event. Call it once, after installing a recorder: with
/// `metrics-exporter-prometheus`, after `install_recorder()` on a
/// `PrometheusBuilder` given the histograms' buckets (see the module docs).
/// Without a recorder it does nothing.
///
/// # Examples
///
/// A recorder that lists what it is told (a real app installs an
/// exporter's recorder instead), in scope for one call:
///
/// ```
/// use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
/// use std::sync::Mutex;
///
/// #[derive(Default)]
/// struct Listing {
///     described: Mutex<Vec<String>>,
///     registered: Mutex<Vec<String>>,
/// }
///
/// impl Listing {
///     fn describe(&self, name: KeyName) {
///         self.described.lock().unwrap().push(name.as_str().to_owned());
///     }
///     fn register(&self, key: &Key) {
///         self.registered.lock().unwrap().push(key.name().to_owned());
///     }
/// }
///
/// impl Recorder for Listing {
///     fn describe_counter(&self, name: KeyName, _: Option<Unit>, _: SharedString) {
///         self.describe(name)
///     }
///     fn describe_gauge(&self, name: KeyName, _: Option<Unit>, _: SharedString) {
///         self.describe(name)
///     }
///     fn describe_histogram(&self, name: KeyName, _: Option<Unit>, _: SharedString) {
///         self.describe(name)
///     }
///     fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
///         self.register(key);
///         Counter::noop()
///     }
///     fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
///         self.register(key);
///         Gauge::noop()
///     }
///     fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
///         self.register(key);
///         Histogram::noop()
///     }
/// }
///
/// let recorder = Listing::default();
/// metrics::with_local_recorder(&recorder, livesession::metrics::describe);
/// let described = recorder.described.lock().unwrap();
/// assert_eq!(described.len(), 10); // every metric in this module's table
/// assert!(described.iter().any(|n| n == "livesession_store_op_seconds"));
/// // Counters and gauges are registered at zero, histograms are not.
/// let registered = recorder.registered.lock().unwrap();
/// assert!(registered.iter().any(|n| n == "livesession_sessions_ended_total"));
/// assert!(!registered.iter().any(|n| n == "livesession_store_op_seconds"));
/// ```
pub fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_gauge!(
        "livesession_live_sessions",
        "Sessions in memory (live or being activated)."
    );
    describe_gauge!(
        "livesession_hibernated_sessions",
        "Live sessions whose owner is asleep."
    );
    describe_counter!(
        "livesession_sessions_created_total",
        "New sessions created."
    );
    describe_counter!(
        "livesession_activations_total",
        "Sessions loaded from the store."
    );
    describe_counter!(
        "livesession_passivations_total",
        "Idle sessions written out and dropped from memory."
    );
    describe_counter!(
        "livesession_sessions_ended_total",
        "Sessions ended for good, by reason."
    );
    describe_histogram!(
        "livesession_store_op_seconds",
        Unit::Seconds,
        "Duration of each store call, by operation."
    );
    describe_counter!(
        "livesession_store_errors_total",
        "Store calls that failed or timed out, by operation."
    );
    describe_histogram!(
        "livesession_batch_changes",
        Unit::Count,
        "Changes applied per owner batch (one write, one flush)."
    );
    describe_counter!(
        "livesession_store_conflicts_total",
        "Shared store: batches applied again because another process wrote first."
    );
    live_sessions(0);
    hibernated_sessions(0);
    for name in [
        "livesession_sessions_created_total",
        "livesession_store_conflicts_total",
        "livesession_activations_total",
        "livesession_passivations_total",
    ] {
        counter!(name).absolute(0);
    }
    for reason in [
        EndReason::Destroyed,
        EndReason::Regenerated,
        EndReason::Revoked,
        EndReason::Expired,
    ] {
        counter!("livesession_sessions_ended_total", "reason" => reason.label()).absolute(0);
    }
    counter!("livesession_store_errors_total").absolute(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bounds_rise_from_above_zero() {
        for bounds in [STORE_OP_SECONDS_BUCKETS, BATCH_CHANGES_BUCKETS] {
            assert!(bounds[0] > 0.0, "{bounds:?}");
            assert!(bounds.windows(2).all(|w| w[0] < w[1]), "{bounds:?}");
        }
    }
}
