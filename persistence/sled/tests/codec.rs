//! The record codec: round-trips of arbitrary JSON-shaped user data, and
//! garbage that must decode to `Corrupt` without panicking.

use livesession::store::codec::{decode, encode, FORMAT_VERSION, MAX_DATA_DEPTH};
use livesession::store::{CookieOverrides, SessionRecord, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn with_data(entries: Vec<(&str, Value)>) -> SessionRecord {
    SessionRecord {
        data: entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        ..SessionRecord::default()
    }
}

fn round_trip(record: &SessionRecord) -> SessionRecord {
    let bytes = encode(record).expect("encode");
    assert_eq!(
        bytes[0], FORMAT_VERSION,
        "the first byte is the format version"
    );
    decode(&bytes).expect("decode")
}

#[test]
fn json_value_trees_round_trip() {
    let record = SessionRecord {
        user: Some("u-1".into()),
        created_at_ms: 1,
        expires_at_ms: Some(2),
        absolute_deadline_ms: Some(3),
        cookie: Some(Box::new(CookieOverrides {
            same_site: Some(livesession::SameSite::Lax),
            ..CookieOverrides::default()
        })),
        ..with_data(vec![
            ("null", Value::Null),
            ("bools", json!([true, false])),
            (
                "ints",
                json!([0, 1, -1, 127, 128, -33, 255, 65_536, u64::MAX, i64::MIN]),
            ),
            (
                "floats",
                json!([
                    0.0,
                    -0.5,
                    1e300,
                    f64::MIN_POSITIVE,
                    std::f64::consts::PI,
                    0.1 + 0.2
                ]),
            ),
            (
                "strings",
                json!(["", "a", "ünïcödé 🍪", "x".repeat(70_000)]),
            ),
            (
                "nested",
                json!({"a": {"b": {"c": [1, {"d": null, "e": [[], {}, [[[]]]]}]}}, "": {}}),
            ),
        ])
    };
    assert_eq!(round_trip(&record), record);
}

#[test]
fn float_and_integer_values_keep_their_kind() {
    let record = with_data(vec![("f", json!(1.0)), ("i", json!(1)), ("n", json!(-1))]);
    let back = round_trip(&record);
    assert!(back.data["f"].is_f64(), "1.0 must stay a float");
    assert!(back.data["i"].is_u64(), "1 must stay an integer");
    assert!(back.data["n"].is_i64(), "-1 must stay a signed integer");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
enum Tagged {
    Guest,
    Member { id: u64, roles: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Untagged {
    Num(i64),
    Text(String),
    Pair { a: bool, b: Option<u8> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Inner {
    theme: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Prefs {
    #[serde(flatten)]
    inner: Inner,
    #[serde(skip_serializing_if = "Option::is_none")]
    nick: Option<String>,
    #[serde(default)]
    extra: BTreeMap<String, u32>,
}

#[test]
fn user_types_stored_as_values_round_trip() {
    let tagged = vec![
        Tagged::Guest,
        Tagged::Member {
            id: 7,
            roles: vec!["admin".into()],
        },
    ];
    let untagged = vec![
        Untagged::Num(-3),
        Untagged::Text("x".into()),
        Untagged::Pair { a: true, b: None },
    ];
    let prefs = Prefs {
        inner: Inner {
            theme: "dark".into(),
        },
        nick: None,
        extra: BTreeMap::from([("k".into(), 1)]),
    };
    let record = with_data(vec![
        ("tagged", serde_json::to_value(&tagged).expect("to_value")),
        (
            "untagged",
            serde_json::to_value(&untagged).expect("to_value"),
        ),
        ("prefs", serde_json::to_value(&prefs).expect("to_value")),
    ]);
    let back = round_trip(&record);
    assert_eq!(back, record);
    let tagged_back: Vec<Tagged> =
        serde_json::from_value(back.data["tagged"].clone()).expect("tagged");
    let untagged_back: Vec<Untagged> =
        serde_json::from_value(back.data["untagged"].clone()).expect("untagged");
    let prefs_back: Prefs = serde_json::from_value(back.data["prefs"].clone()).expect("prefs");
    assert_eq!(tagged_back, tagged);
    assert_eq!(untagged_back, untagged);
    assert_eq!(prefs_back, prefs);
}

#[test]
fn unknown_fields_from_a_newer_writer_are_ignored() {
    #[derive(Serialize)]
    struct Newer {
        data: BTreeMap<String, Value>,
        user: Option<String>,
        created_at_ms: u64,
        future_field: Vec<u32>,
    }
    let newer = Newer {
        data: BTreeMap::from([("k".into(), json!("v"))]),
        user: Some("u".into()),
        created_at_ms: 5,
        future_field: vec![1, 2],
    };
    let mut bytes = vec![FORMAT_VERSION];
    bytes.extend(rmp_serde::to_vec_named(&newer).expect("encode"));
    let record = decode(&bytes).expect("extra fields must be ignored");
    assert_eq!(record.user.as_deref(), Some("u"));
    assert_eq!(record.created_at_ms, 5);
    assert_eq!(record.data["k"], json!("v"));
}

fn assert_corrupt(bytes: &[u8], what: &str) {
    match decode(bytes) {
        Err(StoreError::Corrupt(_)) => {}
        other => panic!("{what}: expected Corrupt, got {other:?}"),
    }
}

#[test]
fn bad_versions_and_framing_are_corrupt() {
    let good = encode(&with_data(vec![("k", json!([1, 2, 3]))])).expect("encode");
    assert_corrupt(&[], "empty input");
    assert_corrupt(&[FORMAT_VERSION], "version byte only");
    for version in [0u8, 2, 0x80, 0xff] {
        let mut bytes = good.clone();
        bytes[0] = version;
        assert_corrupt(&bytes, &format!("version {version}"));
    }
    let mut trailing = good.clone();
    trailing.push(0xc0);
    assert_corrupt(&trailing, "trailing byte");
    for len in 0..good.len() {
        assert_corrupt(&good[..len], &format!("truncated to {len} bytes"));
    }
    // A valid MessagePack value of the wrong shape.
    let mut wrong_shape = vec![FORMAT_VERSION];
    wrong_shape.extend(rmp_serde::to_vec_named(&json!([1, 2, 3])).expect("encode"));
    assert_corrupt(&wrong_shape, "an array instead of a record");
    let mut huge_len = vec![FORMAT_VERSION, 0xdf, 0xff, 0xff, 0xff, 0xff];
    huge_len.extend_from_slice(b"\xa4data");
    assert_corrupt(&huge_len, "a map claiming 4 billion entries");
    assert_corrupt(
        &[FORMAT_VERSION, 0xdb, 0xff, 0xff, 0xff, 0xff],
        "a 4 GiB string header",
    );
}

/// Deterministic xorshift PRNG (no extra dependency).
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_garbage_and_bit_flips_never_panic() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let good = encode(&SessionRecord {
        user: Some("bob".into()),
        expires_at_ms: Some(99),
        ..with_data(vec![(
            "cart",
            json!({"items": [1, "two", null, {"x": 1.5}]}),
        )])
    })
    .expect("encode");
    for _ in 0..20_000 {
        let len = (rng.next() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if let Some(first) = bytes.first_mut() {
            // Mostly past the version check, to exercise the decoder.
            if rng.next() % 4 != 0 {
                *first = FORMAT_VERSION;
            }
        }
        let _ = decode(&bytes);
    }
    for _ in 0..20_000 {
        let mut bytes = good.clone();
        for _ in 0..=(rng.next() % 3) {
            let at = 1 + (rng.next() as usize) % (bytes.len() - 1);
            bytes[at] ^= 1 << (rng.next() % 8);
        }
        // Either still decodable (a flipped bit inside a string) or Corrupt.
        if let Err(e) = decode(&bytes) {
            assert!(matches!(e, StoreError::Corrupt(_)), "{e:?}");
        }
    }
}

fn nested(depth: usize) -> Value {
    let mut value = json!(0);
    for _ in 0..depth {
        value = Value::Array(vec![value]);
    }
    value
}

#[test]
fn data_nested_up_to_the_limit_round_trips_and_deeper_is_refused() {
    let ok = with_data(vec![
        ("deep", nested(MAX_DATA_DEPTH)),
        ("obj", json!({"a": {"b": 1}})),
    ]);
    assert_eq!(round_trip(&ok), ok);
    let too_deep = with_data(vec![("deep", nested(MAX_DATA_DEPTH + 1))]);
    assert!(
        matches!(encode(&too_deep), Err(StoreError::Backend(_))),
        "data the decoder would refuse must not be written"
    );
}

#[test]
fn hostile_nesting_is_corrupt_not_a_stack_overflow() {
    // { "data": { "x": [[[[... 100k levels ...]]]] } } by hand.
    let mut bytes = vec![FORMAT_VERSION, 0x81, 0xa4];
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&[0x81, 0xa1, b'x']);
    bytes.extend(std::iter::repeat_n(0x91, 100_000));
    bytes.push(0x00);
    assert_corrupt(&bytes, "100k nested arrays");
}
