//! Shared helpers of the black-box suites (`behaviour` and `durable`).
//!
//! Each suite's `main.rs` pulls this in with
//! `#[path = "../common/mod.rs"] mod common;`.
//!
//! - `server`: start a demo binary as a child process on a free loopback
//!   port, wait for `/health`, read its log, stop or kill it.
//! - `cfg`: the flags, secrets and environment a server starts with.
//! - `client`: send one request to a server; `/stats` and `/health`.
//! - `resp`: a response, fully read, and its session cookies.
//! - `agent`: a cookie jar for one session, and the demo routes as calls.
//! - `cookie`: parse `Set-Cookie`, percent-decode/encode, split values.
//! - `signer`: an independent HMAC-SHA256 signer (the @fastify/session
//!   scheme) to forge and verify cookie values.
//! - `httpdate`: parse the `Expires` attribute.
//! - `raw`: raw HTTP/1.1 over TCP, for bytes reqwest refuses to send.
#![allow(dead_code, unused_imports)]

/// Define the `poem` and `salvo` test modules for a list of
/// `async fn name(demo: Demo)` scenarios in the current module:
/// `<module>::poem::<name>` and `<module>::salvo::<name>`.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod poem {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Demo::Poem).await
                }
            )*
        }
        mod salvo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Demo::Salvo).await
                }
            )*
        }
    };
}

pub mod agent;
pub mod cfg;
pub mod client;
pub mod cookie;
pub mod httpdate;
pub mod raw;
pub mod resp;
pub mod server;
pub mod signer;

pub use agent::*;
pub use cfg::*;
pub use client::*;
pub use cookie::*;
pub use resp::*;
pub use server::*;
pub use signer::*;

/// The default secret the suites pass with `--secret` (32+ characters).
pub const SECRET: &str = "behaviour-suite-secret-0123456789abcdefXYZ";
/// A second, older secret for rotation tests.
pub const OLD_SECRET: &str = "an-older-secret-that-still-verifies-0123456";
/// A secret the server never knows.
pub const UNKNOWN_SECRET: &str = "a-secret-the-server-never-heard-of-98765432";
