//! The on-disk encoding of a record is the runtime's
//! [`livesession::store::codec`]; this module adds the index fields the sled
//! store reads without decoding the session data.

use livesession::store::codec::decode_as;
pub(crate) use livesession::store::codec::{decode, encode};
use livesession::store::{SessionRecord, StoreError};
use serde::Deserialize;

/// The fields of a record that the indexes are built from.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct IndexFields {
    #[serde(default)]
    pub(crate) user: Option<String>,
    /// The record's expiry rounded up to its [`EXPIRY_BUCKET_MS`] bucket.
    #[serde(default)]
    pub(crate) expires_at_ms: Option<u64>,
}

/// Granularity of the expiry index. A save that moves a session's expiry
/// within the same bucket (every request of an active session does) leaves
/// the index alone; the sweeper removes a record at most this much after its
/// exact expiry, and the runtime never serves an expired record meanwhile.
pub(crate) const EXPIRY_BUCKET_MS: u64 = 1000;

fn expiry_bucket(at_ms: u64) -> u64 {
    at_ms
        .div_ceil(EXPIRY_BUCKET_MS)
        .saturating_mul(EXPIRY_BUCKET_MS)
}

impl IndexFields {
    pub(crate) fn of(record: &SessionRecord) -> Self {
        IndexFields {
            user: record.user.clone(),
            expires_at_ms: record.expires_at_ms.map(expiry_bucket),
        }
    }
}

/// Decodes only the indexed fields (skips the session data without building it).
pub(crate) fn decode_index(bytes: &[u8]) -> Result<IndexFields, StoreError> {
    decode_as::<IndexFields>(bytes).map(|mut fields| {
        fields.expires_at_ms = fields.expires_at_ms.map(expiry_bucket);
        fields
    })
}
