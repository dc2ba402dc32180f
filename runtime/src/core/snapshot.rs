//! What readers see of a live session.

use crate::store::SessionRecord;

/// An immutable published version of a session. Readers load it without
/// messaging the actor; only the actor publishes new ones.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Increases by one with every published change.
    pub version: u64,
    /// The session's contents at that version.
    pub record: SessionRecord,
}
