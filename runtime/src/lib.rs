//! livesession: a session runtime where every live session is an actor.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod store;
