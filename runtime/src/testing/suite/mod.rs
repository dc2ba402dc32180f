//! The behaviour suite of stores that keep their records until
//! `remove_expired` (memory, sled).
//!
//! One group of checks per file: `records.rs` (load, create, save, delete),
//! `users.rs` (`keys_for_user`), `expiry.rs` (`remove_expired`),
//! `concurrency.rs` (concurrent writes); `fixtures.rs` holds their keys,
//! records and call helpers.

mod concurrency;
mod expiry;
mod fixtures;
mod records;
mod users;

use crate::store::SessionStore;

use concurrency::concurrent_writes;
use expiry::{
    remove_expired_follows_resaves, remove_expired_honours_limit,
    remove_expired_removes_only_due_records,
};
use records::{
    absent_keys, create_refuses_existing_key, delete_reports_existence, round_trip, save_upserts,
};
use users::keys_for_user_follows_records;

/// Runs the shared store behaviour suite, panicking with a descriptive message
/// on the first violation.
///
/// `make` must return a new, empty store each time it is called; every group
/// of checks runs on its own store. The suite covers: absent keys; `create`
/// then `load` round-tripping nested JSON data, user, expiry, deadline and
/// cookie overrides; `create` refusing an existing key; `save` upserting;
/// `delete` returning true then false; `keys_for_user` following re-saves and
/// deletes; `remove_expired` removing only due records (sweep times are
/// whole seconds, so stores with a 1 s expiry index pass too), honouring `skip` and
/// `limit`, and sparing records re-saved with a later expiry; `count`
/// following all of it; concurrent writes; `flush`.
///
/// It is for stores that keep every record until
/// [`remove_expired`](SessionStore::remove_expired) sweeps it, whatever its
/// `expires_at_ms` says: its records expire in 1970. A shared store
/// ([`SessionStore::is_shared`]) expires records by its own clock and keeps
/// tombstones; it passes [`shared_store_suite`](super::shared_store_suite)
/// instead.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use livesession::store::MemoryStore;
/// // In a backend's tests, a new empty store per call:
/// livesession::testing::store_suite(MemoryStore::new).await;
/// # });
/// ```
///
/// A store on disk opens each one in a fresh directory that outlives it:
/// livesession-sled's tests keep every `tempfile::TempDir` in a list until
/// the suite returns.
pub async fn store_suite<S: SessionStore>(make: impl Fn() -> S) {
    absent_keys(&make()).await;
    round_trip(&make()).await;
    create_refuses_existing_key(&make()).await;
    save_upserts(&make()).await;
    delete_reports_existence(&make()).await;
    keys_for_user_follows_records(&make()).await;
    remove_expired_removes_only_due_records(&make()).await;
    remove_expired_honours_limit(&make()).await;
    remove_expired_follows_resaves(&make()).await;
    concurrent_writes(&make()).await;
}
