//! Keeping sessions live: activation from the store, each session's owner
//! (a kameo actor that applies its changes in batches and keeps its clocks),
//! the hand-off of changes to it, the background alarm and sweeper tasks,
//! and a user's sessions (list, end one).
//! Everything here extends [`Core`](crate::core::Core).

mod activation;
mod actor;
mod background;
mod batch;
mod devices;
mod eviction;
mod handoff;
mod messages;
