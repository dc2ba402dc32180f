//! The persistence boundary: what a durable backend must do for the runtime.
//!
//! The runtime talks to storage only through [`SessionStore`]. A store never
//! sees a raw session id: records are keyed by [`SessionKey`], the SHA-256 of
//! the id, so a leaked data directory cannot be replayed as cookies.
//!
//! # Writing your own store
//!
//! A complete store over a `BTreeMap`, with the expiry and user lookups the
//! trait asks for (a real backend keeps indexes instead of scanning), run
//! against the shared behaviour suite every backend must pass (feature
//! `testing`) and used by a session manager:
//!
//! ```
//! use livesession::store::{SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture};
//! use std::collections::BTreeMap;
//! use std::sync::Mutex;
//!
//! #[derive(Default)]
//! struct MapStore(Mutex<BTreeMap<SessionKey, SessionRecord>>);
//!
//! impl MapStore {
//!     fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<SessionKey, SessionRecord>> {
//!         self.0.lock().unwrap_or_else(|e| e.into_inner())
//!     }
//! }
//!
//! impl SessionStore for MapStore {
//!     fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
//!         Box::pin(async move { Ok(self.map().get(key).cloned()) })
//!     }
//!
//!     fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
//!         Box::pin(async move {
//!             let mut map = self.map();
//!             if map.contains_key(key) {
//!                 return Err(StoreError::AlreadyExists);
//!             }
//!             map.insert(*key, record.clone());
//!             Ok(())
//!         })
//!     }
//!
//!     fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
//!         Box::pin(async move {
//!             self.map().insert(*key, record.clone());
//!             Ok(())
//!         })
//!     }
//!
//!     fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
//!         Box::pin(async move { Ok(self.map().remove(key).is_some()) })
//!     }
//!
//!     fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
//!         Box::pin(async move {
//!             Ok(self.map().iter()
//!                 .filter(|(_, r)| r.user.as_deref() == Some(user))
//!                 .map(|(k, _)| *k)
//!                 .collect())
//!         })
//!     }
//!
//!     fn remove_expired<'a>(
//!         &'a self,
//!         now_ms: u64,
//!         limit: usize,
//!         skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
//!     ) -> StoreFuture<'a, usize> {
//!         Box::pin(async move {
//!             let mut map = self.map();
//!             let due: Vec<SessionKey> = map.iter()
//!                 .filter(|(k, r)| r.expires_at_ms.is_some_and(|t| t <= now_ms) && !skip(k))
//!                 .map(|(k, _)| *k)
//!                 .take(limit)
//!                 .collect();
//!             for k in &due {
//!                 map.remove(k);
//!             }
//!             Ok(due.len())
//!         })
//!     }
//!
//!     fn count(&self) -> StoreFuture<'_, u64> {
//!         Box::pin(async move { Ok(self.map().len() as u64) })
//!     }
//!
//!     fn flush(&self) -> StoreFuture<'_, ()> {
//!         Box::pin(async { Ok(()) }) // nothing to make durable in memory
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! // Every backend passes the shared behaviour suite...
//! livesession::testing::store_suite(MapStore::default).await;
//!
//! // ...and plugs into the manager.
//! use livesession::{RequestInfo, SessionConfig, SessionManager};
//! use std::sync::Arc;
//! let manager = SessionManager::new(
//!     SessionConfig::builder()
//!         .secret("a secret of at least thirty-two bytes!")
//!         .store(Arc::new(MapStore::default()))
//!         .build()
//!         .unwrap(),
//! );
//! let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
//! session.insert("user", "alice").await.unwrap();
//! session.save().await.unwrap(); // a new session is stored at the latest when its request ends
//! assert_eq!(manager.stats().await.unwrap().stored, 1);
//! # });
//! ```

pub mod codec;
pub mod data;
mod deferred;
mod error;
mod key;
mod memory;
mod record;
mod session_store;
mod shared;
mod shared_memory;
mod timeout;

pub use data::SessionData;
pub use deferred::DeferredStore;
pub use error::{BoxError, StoreError, StoreFuture};
pub use key::SessionKey;
pub use memory::MemoryStore;
pub use record::{CookieOverrides, SessionRecord};
pub use session_store::SessionStore;
pub use shared::{Committed, Lifetime, Touched, Versioned};
pub use shared_memory::SharedMemoryStore;
pub(crate) use timeout::TimeoutStore;
