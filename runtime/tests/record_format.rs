//! Stored records written before `CookieOverrides::secure` and `same_site`
//! were typed (they were `Option<String>`) decode into the typed record, and
//! the typed fields encode to the very same bytes, so the record format
//! stays version 1.
//!
//! The byte strings below were produced by the old encoder
//! (`codec::encode` at commit d1c5981, before the change) and must never be
//! regenerated: they are what the sled and Redis stores hold on disk.

mod common;

use common::Captured;
use livesession::store::{codec, CookieOverrides, SessionRecord, StoreError};
use livesession::{SameSite, Secure};

/// Every override set, as `Session::options` wrote them: secure "auto",
/// same_site "strict".
const V1_FULL: &str = "0186a46461746182a463737266b030313233343536373839616263646566a16e07\
a475736572a5616c696365ad637265617465645f61745f6d73cf0000018bcfe56800ad65787069726573\
5f61745f6d73cf0000018bd50bc400b46162736f6c7574655f646561646c696e655f6d73cf0000018bf3\
f1ec00a6636f6f6b696586aa6d61785f6167655f6d73ce05265c00a9687474705f6f6e6c79c2a6736563\
757265a46175746fa973616d655f73697465a6737472696374a6646f6d61696eab6578616d706c652e63\
6f6dab706172746974696f6e6564c3";
/// secure "true", same_site "lax".
const V1_TRUE_LAX: &str = "0183a46461746180ad637265617465645f61745f6d7301a6636f6f6b696582a6\
736563757265a474727565a973616d655f73697465a36c6178";
/// secure "false", same_site "none".
const V1_FALSE_NONE: &str = "0183a46461746180ad637265617465645f61745f6d7301a6636f6f6b696582\
a6736563757265a566616c7365a973616d655f73697465a46e6f6e65";
/// secure "TRUE", same_site "Lax": the old per-response parse ignored case.
const V1_UPPER_CASE: &str = "0183a46461746180ad637265617465645f61745f6d7301a6636f6f6b696582\
a6736563757265a454525545a973616d655f73697465a34c6178";
/// secure "sometimes", same_site "bogus": the public string fields allowed
/// them; the old parse fell back to the configured defaults.
const V1_UNKNOWN: &str = "0183a46461746180ad637265617465645f61745f6d7301a6636f6f6b696582a673\
6563757265a9736f6d6574696d6573a973616d655f73697465a5626f677573";
/// No overrides at all.
const V1_NONE: &str = "0182a46461746180ad637265617465645f61745f6d7301";

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A record with these overrides; none set is `cookie: None`.
fn with_cookie(cookie: CookieOverrides) -> SessionRecord {
    SessionRecord {
        created_at_ms: 1,
        cookie: (cookie != CookieOverrides::default()).then(|| Box::new(cookie)),
        ..SessionRecord::default()
    }
}

#[test]
fn a_version_1_record_decodes_into_the_typed_record_and_encodes_to_the_same_bytes() {
    let old = bytes(V1_FULL);
    assert_eq!(old[0], 1, "written as format version 1");
    let expected = SessionRecord {
        data: [
            ("n".to_owned(), serde_json::json!(7)),
            ("csrf".to_owned(), serde_json::json!("0123456789abcdef")),
        ]
        .into_iter()
        .collect(),
        user: Some("alice".into()),
        created_at_ms: 1_700_000_000_000,
        expires_at_ms: Some(1_700_086_400_000),
        absolute_deadline_ms: Some(1_700_604_800_000),
        cookie: Some(Box::new(CookieOverrides {
            max_age_ms: Some(86_400_000),
            http_only: Some(false),
            secure: Some(Secure::Auto),
            same_site: Some(SameSite::Strict),
            domain: Some("example.com".into()),
            partitioned: Some(true),
        })),
    };
    assert_eq!(codec::decode(&old).expect("decode"), expected);
    assert_eq!(codec::FORMAT_VERSION, 1, "the format did not change");
    assert_eq!(codec::encode(&expected).expect("encode"), old);
}

#[test]
fn every_value_the_old_options_wrote_keeps_its_bytes() {
    for (hex, secure, same_site) in [
        (V1_TRUE_LAX, Secure::Always, SameSite::Lax),
        (V1_FALSE_NONE, Secure::Never, SameSite::None),
    ] {
        let old = bytes(hex);
        let expected = with_cookie(CookieOverrides {
            secure: Some(secure),
            same_site: Some(same_site),
            ..CookieOverrides::default()
        });
        assert_eq!(codec::decode(&old).expect("decode"), expected);
        assert_eq!(codec::encode(&expected).expect("encode"), old);
    }
    let none = with_cookie(CookieOverrides::default());
    assert_eq!(codec::decode(&bytes(V1_NONE)).expect("decode"), none);
    assert_eq!(codec::encode(&none).expect("encode"), bytes(V1_NONE));
}

#[test]
fn old_strings_in_another_case_decode_as_the_old_parse_read_them() {
    let record = codec::decode(&bytes(V1_UPPER_CASE)).expect("decode");
    assert_eq!(record.cookie_overrides().secure, Some(Secure::Always));
    assert_eq!(record.cookie_overrides().same_site, Some(SameSite::Lax));
    // Written back in the canonical spelling, which decodes the same.
    let again = codec::encode(&record).expect("encode");
    assert_eq!(again, bytes(V1_TRUE_LAX));
}

#[test]
fn an_unknown_old_string_decodes_as_the_default_and_is_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let record = tracing::subscriber::with_default(subscriber, || {
        codec::decode(&bytes(V1_UNKNOWN)).expect("an unknown value is not corruption")
    });
    assert_eq!(record, with_cookie(CookieOverrides::default()));
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("\"sometimes\""), "{log}");
    assert!(log.contains("\"bogus\""), "{log}");
}

#[test]
fn an_override_that_is_not_a_string_is_still_corrupt() {
    // {"data": {}, "created_at_ms": 1, "cookie": {"secure": 1}}
    let mut old = bytes("0183a46461746180ad637265617465645f61745f6d7301a6636f6f6b696581");
    old.extend_from_slice(b"\xa6secure\x01");
    assert!(matches!(codec::decode(&old), Err(StoreError::Corrupt(_))));
}

#[test]
fn a_written_cookie_field_that_sets_nothing_reads_as_none() {
    // {"data": {}, "created_at_ms": 1, "cookie": {}}: no encoder writes it,
    // but it decodes as "no overrides" and encodes back without the field.
    let written = bytes("0183a46461746180ad637265617465645f61745f6d7301a6636f6f6b696580");
    let record = codec::decode(&written).expect("decode");
    assert_eq!(record.cookie, None);
    assert_eq!(codec::encode(&record).expect("encode"), bytes(V1_NONE));
}
