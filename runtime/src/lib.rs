//! livesession: a session runtime where every live session is an actor.
//!
//! Web sessions usually work by copy: load the record, let the handler change
//! it, write the whole record back. Two concurrent requests then lose each
//! other's updates, and a request in flight can bring back a session that a
//! logout just destroyed. Here each live session is owned by one actor that
//! applies every change in order, so nothing is lost or resurrected.
//!
//! * [`SessionConfig`]: every @fastify/session option, plus absolute timeout,
//!   trust proxy, a durable [`store`] and passivation.
//! * [`SessionManager`]: turns requests into [`Session`] handles; lists a
//!   user's sessions ([`UserSession`]) and ends one, or revokes them all;
//!   shuts down gracefully.
//! * [`Session`]: what a handler uses (`get`, `insert`, `update`, `regenerate`,
//!   `destroy`, ...).
//!
//! Framework adapters (`livesession-poem`, `livesession-salvo`) only move
//! cookies in and out; see [`SessionManager::start`] and [`RequestSession::finish`],
//! or, with the feature `http`, `livesession::http`, which does it for the
//! `http` crate's header maps and URIs.
//!
//! ```
//! use livesession::{RequestInfo, SessionConfig, SessionManager};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = SessionManager::new(
//!     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
//! );
//! let first = manager.start(&RequestInfo { path: "/", ..Default::default() });
//! first.insert("user", "alice").await.unwrap();
//! let set_cookie = first.finish().await.unwrap().remove(0);
//!
//! // The browser sends the cookie back:
//! let cookie = set_cookie.split(';').next().unwrap();
//! let second = manager.start(&RequestInfo { cookie_header: Some(cookie), path: "/", ..Default::default() });
//! assert_eq!(second.get::<String>("user").await.unwrap().as_deref(), Some("alice"));
//! # });
//! ```
//!
//! # Login and logout
//!
//! ```
//! use livesession::{RequestInfo, SessionConfig, SessionManager};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
//! // POST /login, once the password checked out:
//! let login = manager.start(&RequestInfo { path: "/login", ..Default::default() });
//! login.insert("cart", vec![7]).await.unwrap(); // shopping before logging in
//! login.regenerate(&["cart"]).await.unwrap(); // a new id, against session fixation
//! login.bind_user("alice").await.unwrap(); // so that revoke_user finds it
//! let set_cookie = login.finish().await.unwrap().remove(0);
//!
//! // POST /logout:
//! let cookie = set_cookie.split(';').next().unwrap();
//! let logout = manager.start(&RequestInfo { cookie_header: Some(cookie), path: "/logout", ..Default::default() });
//! logout.destroy().await.unwrap();
//! assert!(logout.finish().await.unwrap()[0].contains("Max-Age=0")); // clears the cookie
//!
//! // A password change ends every session of the user, on every device:
//! manager.revoke_user("alice").await.unwrap();
//! # });
//! ```
//!
//! # Storage
//!
//! Without a store, sessions live in memory only and end with the process.
//! With one ([`SessionConfigBuilder::store`]), every change is written
//! through, idle sessions are passivated out of memory and come back on
//! their next request, and [`SessionManager::shutdown`] writes out the rest:
//!
//! * [`store::MemoryStore`]: in process memory (tests, passivation without
//!   durability);
//! * `livesession-sled`: durable on disk, for one server;
//! * `livesession-redis`: Redis or a Redis Cluster shared by several app
//!   servers ([`store::SharedMemoryStore`] has the same semantics in memory,
//!   for tests);
//! * your own: see [`store`] for the trait and a complete example.
//!
//! # Errors
//!
//! Every session call returns [`SessionError`];
//! [`http_status`](SessionError::http_status) and
//! [`client_message`](SessionError::client_message) say what to answer, so
//! a backend failure's text never reaches a client. The adapters map it
//! for you.
//!
//! # Features
//!
//! * `http`: `livesession::http`, starting and finishing sessions from the
//!   `http` crate's requests and responses (the adapters use it).
//! * `testing`: `livesession::testing`, the behaviour suites every store
//!   must pass and a fault-injecting store wrapper.
//!
//! Metrics are reported through the `metrics` facade: see [`metrics`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
pub mod config;
// Wire-level helpers (Cookie-header parsing, Set-Cookie formatting, id
// checks): public for the adapters, benchmarks and fuzz targets, not part
// of the API a handler uses.
#[doc(hidden)]
pub mod cookie;
mod core;
pub mod error;
// Feature `http` (documented in the module; the crate does not build docs with docsrs cfgs).
#[cfg(feature = "http")]
pub mod http;
#[doc(hidden)]
pub mod id;
mod manager;
pub mod metrics;
mod owner;
mod session;
pub mod signing;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod user_session;

pub use config::{ConfigError, CookieConfig, Limits, Secure, SessionConfig, SessionConfigBuilder};
pub use cookie::SameSite;
pub use error::SessionError;
pub use manager::{RequestInfo, SessionManager, Stats};
pub use session::{CookieOptions, RequestSession, Session};
pub use store::{SessionStore, StoreError};
pub use user_session::UserSession;
