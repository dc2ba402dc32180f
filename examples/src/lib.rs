//! What `poem-demo` and `salvo-demo` share: their command line, how they
//! build a [`SessionManager`](livesession::SessionManager) from it, and the
//! framework-neutral parts of their routes. Each binary keeps its handlers in
//! its framework's own idiom.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cli;
pub mod routes;
pub mod setup;
