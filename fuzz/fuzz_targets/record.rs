//! `record`: arbitrary bytes as a stored session record.
//!
//! `livesession::store::codec::decode` (the sled store's record format) must
//! never panic (nor overflow the stack) on any input, whatever its
//! format-version byte. Whatever it accepts must re-encode, and `encode`
//! then `decode` must give back an equal record.
//!
//! Found and fixed (seed `seeds/record/decodes-but-not-encodes`): decode
//! used to accept session data nested a little deeper than `MAX_DATA_DEPTH`,
//! which `encode` refuses. Strict by default now; `LIVESESSION_FUZZ_STRICT=0`
//! would tolerate it again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livesession::store::codec::{decode, encode, FORMAT_VERSION, MAX_DATA_DEPTH};
use livesession::store::SessionRecord;
use serde_json::Value;
use std::sync::OnceLock;

fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("LIVESESSION_FUZZ_STRICT").is_none_or(|v| v != "0"))
}

/// The deepest array/object nesting in the record's data (`[[1]]` is 2).
fn data_depth(record: &SessionRecord) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = record.data.values().map(|v| (v, 1)).collect();
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        deepest = deepest.max(depth);
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    deepest
}

fuzz_target!(|data: &[u8]| {
    let Ok(record) = decode(data) else {
        return;
    };
    assert_eq!(data[0], FORMAT_VERSION, "decoded an unknown format version");
    let bytes = match encode(&record) {
        Ok(bytes) => bytes,
        Err(e) if !strict() && data_depth(&record) > MAX_DATA_DEPTH => {
            // The known gap: encode refuses what decode accepted, as documented.
            assert!(e.to_string().contains("nested deeper"), "{e}");
            return;
        }
        Err(e) => panic!(
            "a record that decodes does not re-encode (data depth {}): {e}\n{record:?}",
            data_depth(&record)
        ),
    };
    let again = decode(&bytes)
        .unwrap_or_else(|e| panic!("encode produced bytes decode rejects: {e}\n{record:?}"));
    assert_eq!(again, record, "encode/decode does not round-trip");
});
