//! Session configuration: every @fastify/session option plus absolute
//! timeout, trust proxy, persistence and passivation. Built with
//! [`SessionConfig::builder`]; invalid settings fail at `build()`.
//!
//! One file per concern: `session_config.rs` the validated
//! [`SessionConfig`], `builder.rs` its [`SessionConfigBuilder`] (secrets and
//! session behaviour), `cookie.rs` the cookie attributes ([`CookieConfig`])
//! and their setters, `durability.rs` the store and memory setters,
//! `limits.rs` the per-session [`Limits`], `error.rs` [`ConfigError`],
//! `validate.rs` the checks of `build()`.

mod builder;
mod cookie;
mod durability;
mod error;
mod limits;
mod session_config;
mod validate;

pub use builder::SessionConfigBuilder;
pub use cookie::CookieConfig;
// Defined beside `SameSite` (the store's records hold both); its path here stays.
pub use crate::cookie::Secure;
pub use error::ConfigError;
pub use limits::Limits;
pub use session_config::SessionConfig;
pub use validate::MIN_SECRET_LEN;
