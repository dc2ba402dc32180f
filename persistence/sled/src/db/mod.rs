//! One open sled database: its trees, its record count, and the operations
//! the store runs on them (on the blocking thread pool, see
//! [`SledStore`](crate::SledStore)).
//!
//! `lifecycle.rs` opens, counts, flushes and closes it; `records.rs` writes
//! records; `index.rs` keeps the expiry and user indexes; `sweep.rs` removes
//! expired records.

use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use sled::Tree;

use crate::counter::Counter;

mod index;
mod lifecycle;
mod records;
mod sweep;

pub(crate) use index::{expiry_entry, parse_expiry_entry};
pub(crate) use sweep::SWEEP_CHUNK;

/// An open sled database with the store's four trees.
pub(crate) struct Db {
    db: sled::Db,
    records: Tree,
    by_expiry: Tree,
    by_user: Tree,
    meta: Tree,
    counter: Arc<Counter>,
    recount: Mutex<Option<JoinHandle<()>>>,
    /// Set by the first I/O error sled reports: sled then refuses every
    /// write (and some reads) until the database is reopened.
    failure: OnceLock<String>,
}
