//! The contract of a store shared by several processes: versions,
//! compare-and-set, tombstones, expiry by the store's own clock.
//!
//! One group of checks per file: `versions.rs` (versions and
//! compare-and-set), `tombstones.rs` (`delete` and `end`), `indexes.rs`
//! (`keys_for_user`, `count`), `concurrency.rs` (read-modify-commit loops),
//! `expiry.rs` (expiry by the store's clock); `fixtures.rs` holds their keys,
//! records and call helpers.

mod concurrency;
mod expiry;
mod fixtures;
mod indexes;
mod tombstones;
mod versions;

use crate::store::SessionStore;
#[cfg(doc)]
use crate::store::StoreError;
use std::sync::Arc;

use concurrency::concurrent_read_modify_commit;
use expiry::{absolute_expiry, commit_moves_the_idle_timeout, idle_expiry};
use indexes::{count_follows_live_records, keys_for_user_follows_bindings};
use tombstones::{delete_leaves_a_tombstone, end_remembers_when};
use versions::{commit_never_creates, versions_and_compare_and_set};

/// Runs the shared-store contract suite against a store whose
/// [`is_shared`](SessionStore::is_shared) is true, panicking with a
/// descriptive message on the first violation.
///
/// Every group of checks runs on a store of its own from `make`. The suite
/// uses keys and user names that are random per call and measures counts as
/// differences, so `make` may return handles on one backend (a Redis server
/// shared by the test) as long as nothing else writes to it meanwhile.
///
/// It checks: `create_shared` answering version 1 and then
/// [`StoreError::AlreadyExists`]; `touch` answering `Changed` with the record
/// for an unknown version, `Unchanged` for the current one and `Gone` for an
/// absent key; `commit` with the current version answering `Done` with the
/// next one, with an old version `Conflict` with what the store holds, and on
/// an absent key `Gone` without creating it; `delete` leaving a tombstone
/// (`touch` and `commit` then answer `Gone`, `create_shared` of the same key
/// `AlreadyExists`, a second `delete` false); `end` doing the same with
/// `touch` answering `Ended` and how long ago; `keys_for_user` finding sessions
/// bound by `create_shared` and by `commit(new_user)` and dropping deleted
/// ones; `count` counting live records and not deleted ones; expiry by the
/// store's clock with real sleeps of a few hundred milliseconds (idle
/// timeouts extended by `touch`, absolute ends that touches and commits do
/// not extend, commits moving the idle timeout); and 32 tasks incrementing a
/// counter through `touch` + `commit` retry loops without losing an update.
/// It takes about four seconds, most of it sleeping.
///
/// # Examples
///
/// ```
/// use livesession::store::SessionStore;
///
/// // In a backend's tests, with a fresh store (or a handle on one) per call:
/// async fn check<S: SessionStore>(make: impl Fn() -> S) {
///     livesession::testing::shared_store_suite(make).await;
/// }
/// ```
pub async fn shared_store_suite<S: SessionStore>(make: impl Fn() -> S) {
    let store = make();
    assert!(
        store.is_shared(),
        "shared_store_suite needs a store whose is_shared() is true"
    );
    versions_and_compare_and_set(&store).await;
    commit_never_creates(&make()).await;
    delete_leaves_a_tombstone(&make()).await;
    end_remembers_when(&make()).await;
    keys_for_user_follows_bindings(&make()).await;
    count_follows_live_records(&make()).await;
    concurrent_read_modify_commit(Arc::new(make())).await;
    let (a, b, c) = (make(), make(), make());
    tokio::join!(
        idle_expiry(&a),
        absolute_expiry(&b),
        commit_moves_the_idle_timeout(&c),
    );
}
