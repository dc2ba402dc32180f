//! The stored encoding of a [`SessionRecord`], shared by the backends.
//!
//! A record is one format-version byte ([`FORMAT_VERSION`]) followed by the
//! MessagePack encoding of the record with named fields (`rmp_serde::to_vec_named`).
//! MessagePack is self-describing, so arbitrary `serde_json::Value` session
//! data (nested objects, numbers, nulls) round-trips, and named fields let
//! later versions add optional fields.
//!
//! ```
//! use livesession::store::SessionRecord;
//! use livesession::store::codec;
//!
//! let mut record = SessionRecord::default();
//! record.data.insert("cart".into(), serde_json::json!({"items": [1, 2, null]}));
//! let bytes = codec::encode(&record).unwrap();
//! assert_eq!(bytes[0], codec::FORMAT_VERSION);
//! assert_eq!(codec::decode(&bytes).unwrap(), record);
//! assert!(codec::decode(b"\x07garbage").is_err());
//! ```

use super::{SessionRecord, StoreError};
use serde::Deserialize;
use serde_json::Value;

/// The version byte that starts every encoded record.
///
/// Still 1 after `CookieOverrides::secure` and `same_site` became typed
/// (`Secure`, `SameSite` instead of strings): they are written as the same
/// lowercase strings (`"true"`, `"false"`, `"auto"`; `"strict"`, `"lax"`,
/// `"none"`), so a record encodes to the very same bytes, and records
/// written before decode as they were read (any case; a string that names no
/// value as `None`, logged). `runtime/tests/record_format.rs` decodes bytes
/// written by the old encoder.
pub const FORMAT_VERSION: u8 = 1;

/// How deeply arrays and objects may nest inside one session data value
/// (the same limit `serde_json` applies when parsing). `[[1]]` has depth 2.
pub const MAX_DATA_DEPTH: usize = 128;

/// Nesting the decoder accepts: the data plus the record's own maps, with
/// slack. Bounded so that decoding a corrupt record cannot exhaust the stack.
const MAX_DECODE_DEPTH: usize = MAX_DATA_DEPTH + 32;

/// Encodes a record: the version byte, then named-field MessagePack.
///
/// Fails with [`StoreError::Backend`] (nothing is stored) when a data value
/// nests deeper than [`MAX_DATA_DEPTH`]: such a record could be written but
/// not read back.
///
/// # Examples
///
/// ```
/// use livesession::store::{codec, SessionRecord};
/// let mut record = SessionRecord::default();
/// record.data.insert("n".into(), serde_json::json!(1));
/// let bytes = codec::encode(&record).unwrap();
/// assert_eq!(bytes[0], codec::FORMAT_VERSION);
///
/// // Nesting deeper than MAX_DATA_DEPTH is refused before anything is stored:
/// let mut deep = serde_json::json!(0);
/// for _ in 0..=codec::MAX_DATA_DEPTH {
///     deep = serde_json::json!([deep]);
/// }
/// record.data.insert("deep".into(), deep);
/// assert!(codec::encode(&record).is_err());
/// ```
///
/// # Errors
///
/// [`StoreError::Backend`] when a data value nests deeper than
/// [`MAX_DATA_DEPTH`].
pub fn encode(record: &SessionRecord) -> Result<Vec<u8>, StoreError> {
    if data_too_deep(record) {
        return Err(StoreError::backend(format!(
            "cannot encode session record: data nested deeper than {MAX_DATA_DEPTH} levels"
        )));
    }
    let mut out = Vec::with_capacity(128);
    out.push(FORMAT_VERSION);
    let mut ser = rmp_serde::Serializer::new(&mut out).with_struct_map();
    serde::Serialize::serialize(record, &mut ser)
        .map_err(|e| StoreError::backend(format!("cannot encode session record: {e}")))?;
    Ok(out)
}

/// Decodes bytes produced by [`encode`].
///
/// Empty input, an unknown version byte, invalid MessagePack, a wrong shape
/// or trailing bytes all give [`StoreError::Corrupt`]; this never panics.
///
/// # Examples
///
/// ```
/// use livesession::store::{codec, SessionRecord, StoreError};
/// let bytes = codec::encode(&SessionRecord::default()).unwrap();
/// assert_eq!(codec::decode(&bytes).unwrap(), SessionRecord::default());
/// // A truncated record is corrupt, never a panic:
/// let cut = codec::decode(&bytes[..bytes.len() - 1]);
/// assert!(matches!(cut, Err(StoreError::Corrupt(_))));
/// ```
///
/// # Errors
///
/// [`StoreError::Corrupt`] for empty input, an unknown version byte,
/// invalid MessagePack, a wrong shape, trailing bytes, or data nested deeper
/// than [`MAX_DATA_DEPTH`].
pub fn decode(bytes: &[u8]) -> Result<SessionRecord, StoreError> {
    let record: SessionRecord = decode_as(bytes)?;
    // What decodes must also encode again (the fuzzer found records 129-157
    // levels deep that decoded but could never be saved back).
    if data_too_deep(&record) {
        return Err(StoreError::Corrupt(format!(
            "record data nested deeper than {MAX_DATA_DEPTH} levels"
        )));
    }
    Ok(record)
}

/// Decodes bytes produced by [`encode`] as any type whose fields are a
/// subset of the record's (a backend reading only its index fields, say),
/// with the same checks as [`decode`] except the data depth.
///
/// # Examples
///
/// ```
/// use livesession::store::{codec, SessionRecord};
/// #[derive(serde::Deserialize)]
/// struct Indexed {
///     user: Option<String>,
///     expires_at_ms: Option<u64>,
/// }
/// let record = SessionRecord { user: Some("alice".into()), ..SessionRecord::default() };
/// let bytes = codec::encode(&record).unwrap();
/// let indexed: Indexed = codec::decode_as(&bytes).unwrap(); // skips the data
/// assert_eq!(indexed.user.as_deref(), Some("alice"));
/// assert_eq!(indexed.expires_at_ms, None);
/// ```
///
/// # Errors
///
/// [`StoreError::Corrupt`] as for [`decode`].
pub fn decode_as<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| StoreError::Corrupt("empty record".into()))?;
    if version != FORMAT_VERSION {
        return Err(StoreError::Corrupt(format!(
            "unknown record format version {version}"
        )));
    }
    let mut rest = body;
    let mut de = rmp_serde::Deserializer::new(&mut rest);
    de.set_max_depth(MAX_DECODE_DEPTH);
    let value = T::deserialize(&mut de)
        .map_err(|e| StoreError::Corrupt(format!("undecodable record: {e}")))?;
    drop(de);
    if !rest.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "{} trailing bytes after record",
            rest.len()
        )));
    }
    Ok(value)
}

/// Whether any array or object in the record's data nests deeper than
/// [`MAX_DATA_DEPTH`]. Iterative, so it cannot overflow the stack itself,
/// and it allocates only for data that holds arrays or objects (a session
/// of scalars, the common case, is checked without touching the heap: this
/// runs on every durable write and every activation).
fn data_too_deep(record: &SessionRecord) -> bool {
    // Containers still to look into, with their depth (a top-level value
    // is at depth 1); empty, and so unallocated, while the data is flat.
    let containers = |v: &&Value| v.is_array() || v.is_object();
    let mut stack: Vec<(&Value, usize)> = Vec::new();
    stack.extend(record.data.values().filter(containers).map(|v| (v, 1)));
    while let Some((value, depth)) = stack.pop() {
        if depth > MAX_DATA_DEPTH {
            return true;
        }
        let below = depth + 1;
        match value {
            Value::Array(items) => {
                stack.extend(items.iter().filter(containers).map(|v| (v, below)))
            }
            Value::Object(map) => stack.extend(map.values().filter(containers).map(|v| (v, below))),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `leaf` wrapped in `levels` arrays or objects, alternately.
    fn nested(levels: usize, leaf: Value) -> Value {
        (0..levels).fold(leaf, |v, i| {
            if i % 2 == 0 {
                json!([v])
            } else {
                json!({ "k": v })
            }
        })
    }

    fn record_with(value: Value) -> SessionRecord {
        let mut record = SessionRecord::default();
        record.data.insert("flat".into(), json!("a string"));
        record.data.insert("v".into(), value);
        record
    }

    #[test]
    fn nesting_up_to_the_limit_encodes_and_one_more_level_is_refused() {
        for leaf in [json!(1), json!([]), json!({})] {
            // An empty container is itself a level.
            let extra = usize::from(leaf.is_array() || leaf.is_object());
            let at_limit = record_with(nested(MAX_DATA_DEPTH - extra, leaf.clone()));
            let bytes = encode(&at_limit).expect("MAX_DATA_DEPTH levels encode");
            assert_eq!(decode(&bytes).unwrap(), at_limit);
            let over = record_with(nested(MAX_DATA_DEPTH + 1 - extra, leaf));
            assert!(matches!(encode(&over), Err(StoreError::Backend(_))));
        }
    }

    #[test]
    fn a_deep_value_among_wide_and_flat_ones_is_found() {
        let mut record = record_with(json!({ "a": [1, 2, {"b": [3]}], "c": "d" }));
        for i in 0..64 {
            record.data.insert(format!("k{i}"), json!(i));
        }
        assert!(!data_too_deep(&record));
        record
            .data
            .insert("z".into(), nested(MAX_DATA_DEPTH + 1, json!(null)));
        assert!(data_too_deep(&record));
        assert!(!data_too_deep(&SessionRecord::default()));
    }
}
