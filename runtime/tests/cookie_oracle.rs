//! The hand-written cookie code (`livesession::cookie`) against the `cookie`
//! crate (0.18), the Rust ecosystem's standard, as a differential oracle.
//!
//! The runtime keeps its own parser and formatter because the crate costs
//! more than the project's 100 ns per request budget on the hot path (see
//! README, "Why hand-written"); these properties check that the two agree:
//!
//! * `find_cookie` finds the same session value as the crate's
//!   `Cookie::split_parse` (first cookie of that name, `value_trimmed`, then
//!   percent-decoded), for `Cookie` headers of several cookies, spaces and
//!   tabs, quotes, percent escapes (valid, malformed, not UTF-8), bytes that
//!   are not UTF-8, duplicate names, missing `=`, empty names and values, and
//!   split headers;
//! * every `Set-Cookie` and clearing cookie the runtime writes parses back
//!   with `Cookie::parse` into the same name, value and attributes.
//!
//! Where the two differ on purpose (the runtime follows the `cookie` npm
//! package that @fastify/session uses), the `deliberate_*` tests pin it.

use cookie::time::Duration as CrateDuration;
use cookie::Cookie;
use livesession::cookie::{
    clear_cookie, find_cookie, is_attribute_value, is_cookie_octets, is_token, join_cookie_headers,
    set_cookie, CookieAttributes, MAX_COOKIE_HEADER, MAX_COOKIE_VALUE,
};
use livesession::SameSite;
use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

const NAME: &str = "sessionId";

/// The session value as the crate finds it, with the runtime's policy on
/// top: the first cookie the crate parses named `name`, one pair of
/// surrounding double quotes trimmed (`value_trimmed`), then percent-decoded
/// (the crate's own `percent-encode` feature uses the same
/// `percent-encoding` crate); empty, longer than [`MAX_COOKIE_VALUE`] or not
/// UTF-8 once decoded is no value. Only the first [`MAX_COOKIE_HEADER`]
/// bytes of the header count, as in the runtime.
fn crate_find(header: &str, name: &str) -> Option<String> {
    let mut end = header.len().min(MAX_COOKIE_HEADER);
    while !header.is_char_boundary(end) {
        end -= 1;
    }
    let c = Cookie::split_parse(&header[..end])
        .filter_map(Result::ok)
        .find(|c| c.name() == name)?;
    let v = c.value_trimmed();
    if v.is_empty() || v.len() > MAX_COOKIE_VALUE {
        return None;
    }
    percent_decode_str(v)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

fn runtime_find(header: &str) -> Option<String> {
    find_cookie(header, NAME).map(Cow::into_owned)
}

/// Bytes of one cookie value: cookie octets, percent escapes (valid,
/// malformed, encoding invalid UTF-8), quotes, `=`, spaces and tabs, UTF-8
/// and bytes that are not UTF-8.
fn value_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<&'static [u8]> = vec![
        b"s%3A",
        b"s%3A",
        b"%2F",
        b"%2b",
        b"%C3%A9",
        b"%FF",
        b"%zz",
        b"%",
        b"%22",
        b"\"",
        b"\"",
        b"=",
        b" ",
        b"\t",
        b",",
        "\u{e9}".as_bytes(),
        b"\xe9",
        b"\xff\xfe",
        b"\xf0\x9f",
    ];
    let token = prop_oneof![
        3 => "[A-Za-z0-9+/._:-]{1,8}".prop_map(String::into_bytes),
        2 => prop::sample::select(fixed).prop_map(<[u8]>::to_vec),
    ];
    prop_oneof![
        40 => prop::collection::vec(token, 0..6).prop_map(|t| t.concat()),
        // past MAX_COOKIE_VALUE
        1 => Just(vec![b'a'; MAX_COOKIE_VALUE + 1]),
        // two of them pass MAX_COOKIE_HEADER
        4 => Just(vec![b'b'; MAX_COOKIE_HEADER / 2 + 1]),
    ]
}

/// One `name=value` pair, with optional spaces and tabs around the name and
/// the value, an optional pair of quotes around the value, or no `=`.
fn pair() -> impl Strategy<Value = Vec<u8>> {
    let ows = || prop_oneof![4 => Just(""), 2 => Just(" "), 1 => Just("\t"), 1 => Just(" \t ")];
    let names = vec![
        "sessionid",
        "sessionIdx",
        "xsessionId",
        "session Id",
        "\"sessionId\"",
        "session%49d",
        "",
        "caf\u{e9}",
    ];
    let name = prop_oneof![
        6 => Just(NAME.to_string()),
        4 => prop::sample::select(names).prop_map(str::to_string),
        4 => "[A-Za-z_][A-Za-z0-9_.-]{0,6}",
    ];
    (
        ows(),
        name,
        ows(),
        prop::bool::weighted(0.92),
        ows(),
        prop::bool::weighted(0.2),
        value_bytes(),
        ows(),
    )
        .prop_map(|(o1, name, o2, eq, o3, quoted, value, o4)| {
            let mut p = Vec::new();
            p.extend_from_slice(o1.as_bytes());
            p.extend_from_slice(name.as_bytes());
            p.extend_from_slice(o2.as_bytes());
            if eq {
                p.push(b'=');
            }
            p.extend_from_slice(o3.as_bytes());
            if quoted {
                p.push(b'"');
            }
            p.extend_from_slice(&value);
            if quoted {
                p.push(b'"');
            }
            p.extend_from_slice(o4.as_bytes());
            p
        })
}

/// One `Cookie` header: pairs joined by `;` with optional spaces and tabs,
/// empty pairs (`;;`), a leading or trailing `;`.
fn header() -> impl Strategy<Value = Vec<u8>> {
    let sep = prop_oneof![
        6 => Just("; "),
        2 => Just(";"),
        1 => Just(";\t"),
        1 => Just(" ; "),
        1 => Just(";; "),
    ];
    (
        prop::collection::vec((pair(), sep), 0..7),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(pairs, leading)| {
            let mut h = Vec::new();
            if leading {
                h.extend_from_slice(b"; ");
            }
            let n = pairs.len();
            for (i, (p, sep)) in pairs.into_iter().enumerate() {
                h.extend_from_slice(&p);
                if i + 1 < n || sep == ";; " {
                    h.extend_from_slice(sep.as_bytes());
                }
            }
            h
        })
}

/// Cookie octets (RFC 6265), the bytes a session cookie value is made of.
fn cookie_octets(max: usize) -> impl Strategy<Value = String> {
    let octets: Vec<char> = (0x21u8..0x7f)
        .filter(|&b| is_cookie_octets(std::str::from_utf8(&[b]).unwrap()))
        .map(char::from)
        .collect();
    prop::collection::vec(prop::sample::select(octets), 0..max)
        .prop_map(|v| v.into_iter().collect())
}

/// `Path` values the config accepts (visible ASCII and spaces, no `;`,
/// starting with `/`), without a trailing space (which the config refuses).
fn path() -> impl Strategy<Value = String> {
    let chars: Vec<char> = (0x20u8..0x7f)
        .filter(|&b| b != b';')
        .map(char::from)
        .collect();
    prop::collection::vec(prop::sample::select(chars), 0..16).prop_map(|v| {
        let mut p: String = std::iter::once('/').chain(v).collect();
        if p.ends_with(' ') {
            p.push('x');
        }
        p
    })
}

fn same_site() -> impl Strategy<Value = Option<SameSite>> {
    prop_oneof![
        Just(None),
        Just(Some(SameSite::Strict)),
        Just(Some(SameSite::Lax)),
        Just(Some(SameSite::None)),
    ]
}

fn crate_same_site(s: Option<SameSite>) -> Option<cookie::SameSite> {
    s.map(|s| match s {
        SameSite::Strict => cookie::SameSite::Strict,
        SameSite::Lax => cookie::SameSite::Lax,
        _ => cookie::SameSite::None,
    })
}

/// The last second an HTTP date can name (9999-12-31T23:59:59Z): the
/// runtime caps later expiries to it.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// Checks that `set` parses with the crate into `name`, `value`, `max_age`
/// and the attributes `a` (with `Expires` to the second).
fn assert_parses_back(
    set: &str,
    name: &str,
    value: &str,
    max_age: Option<CrateDuration>,
    a: &CookieAttributes<'_>,
) -> Result<(), TestCaseError> {
    let c = Cookie::parse(set).map_err(|e| TestCaseError::fail(format!("{set:?}: {e}")))?;
    prop_assert_eq!(c.name(), name, "{:?}", set);
    prop_assert_eq!(c.value(), value, "{:?}", set);
    // The crate reports a domain without one leading dot, as browsers read it.
    prop_assert_eq!(
        c.domain(),
        a.domain.map(|d| d.strip_prefix('.').unwrap_or(d)),
        "{:?}",
        set
    );
    prop_assert_eq!(c.path(), Some(a.path), "{:?}", set);
    let secs = a.expires.map(|t| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .min(LAST_HTTP_DATE) as i64
    });
    prop_assert_eq!(
        c.expires_datetime().map(|t| t.unix_timestamp()),
        secs,
        "{:?}",
        set
    );
    prop_assert_eq!(c.max_age(), max_age, "{:?}", set);
    prop_assert_eq!(c.http_only(), a.http_only.then_some(true), "{:?}", set);
    prop_assert_eq!(c.secure(), a.secure.then_some(true), "{:?}", set);
    prop_assert_eq!(c.partitioned(), a.partitioned.then_some(true), "{:?}", set);
    prop_assert_eq!(c.same_site(), crate_same_site(a.same_site), "{:?}", set);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The runtime finds the session cookie the crate finds, in one or
    /// several `Cookie` headers (joined as the adapters join them).
    #[test]
    fn find_cookie_agrees_with_the_crate(headers in prop::collection::vec(header(), 1..4)) {
        let joined = join_cookie_headers(headers.iter().map(Vec::as_slice)).unwrap();
        let total: usize = headers.iter().map(|h| h.len() + 2).sum();
        if total < MAX_COOKIE_HEADER / 2 {
            // joined as the crate would see them: lossy, then "; "
            let lossy: Vec<Cow<'_, str>> =
                headers.iter().map(|h| String::from_utf8_lossy(h)).collect();
            prop_assert_eq!(&*joined, lossy.join("; "));
        }
        prop_assert_eq!(runtime_find(&joined), crate_find(&joined, NAME), "header {:?}", joined);
    }

    /// The runtime's `Set-Cookie` and clearing cookie parse back with the
    /// crate into the same name, value and attributes.
    #[test]
    fn set_cookie_parses_back_with_the_crate(
        name in "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}",
        prefix in prop_oneof![Just(""), Just("s:")],
        value in cookie_octets(48),
        domain in prop::option::of("\\.?[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,10}){0,2}"),
        path in path(),
        expires in prop::option::of(prop_oneof![
            4 => (0..=LAST_HTTP_DATE, 0..1_000_000_000u32),
            1 => (LAST_HTTP_DATE..u64::MAX / 4, 0..1_000_000_000u32),
        ]),
        http_only: bool,
        secure: bool,
        partitioned: bool,
        same_site in same_site(),
    ) {
        prop_assert!(is_token(&name));
        prop_assert!(is_attribute_value(&path));
        if let Some(d) = &domain {
            prop_assert!(is_attribute_value(d));
        }
        let value = format!("{prefix}{value}");
        let a = CookieAttributes {
            domain: domain.as_deref(),
            path: &path,
            expires: expires.map(|(s, n)| SystemTime::UNIX_EPOCH + Duration::new(s, n)),
            http_only,
            secure,
            partitioned,
            same_site,
        };
        assert_parses_back(&set_cookie(&name, &value, &a), &name, &value, None, &a)?;
        let cleared = CookieAttributes { expires: Some(SystemTime::UNIX_EPOCH), ..a };
        assert_parses_back(
            &clear_cookie(&name, &a),
            &name,
            "",
            Some(CrateDuration::ZERO),
            &cleared,
        )?;
    }
}

/// A session cookie as the runtime issues it (a signed id, express prefix)
/// reads back the same through both parsers, also percent-encoded by a
/// client and quoted.
#[test]
fn an_issued_cookie_reads_back_through_both() {
    use livesession::signing::{HmacSigner, Signer};
    let signer = HmacSigner::new(["0123456789abcdef0123456789abcdef"]).unwrap();
    let value = format!("s:{}", signer.sign(&livesession::id::random_id()));
    let a = CookieAttributes {
        domain: Some("example.com"),
        path: "/",
        expires: Some(SystemTime::now() + Duration::from_secs(86_400)),
        http_only: true,
        secure: true,
        partitioned: false,
        same_site: Some(SameSite::Lax),
    };
    let set = set_cookie(NAME, &value, &a);
    let c = Cookie::parse(set.as_str()).unwrap();
    let encoded = value
        .replace(':', "%3A")
        .replace('/', "%2F")
        .replace('+', "%2B");
    for sent in [
        format!("a=1; {}={}; b=\"2\"", c.name(), c.value()),
        format!("a=1; {NAME}={encoded}; b=2"),
        format!("a=caf\u{e9}; {NAME}=\"{encoded}\""),
    ] {
        assert_eq!(
            runtime_find(&sent).as_deref(),
            Some(value.as_str()),
            "{sent}"
        );
        assert_eq!(
            crate_find(&sent, NAME).as_deref(),
            Some(value.as_str()),
            "{sent}"
        );
    }
}

/// Past [`MAX_COOKIE_HEADER`] bytes neither reads a session cookie; one
/// that starts before the limit and ends after it is cut short in both.
#[test]
fn both_stop_at_the_header_limit() {
    let pad = format!("pad={}; ", "p".repeat(MAX_COOKIE_HEADER - 30));
    for (h, want) in [
        (format!("{pad}{NAME}=abcdef"), Some("abcdef")),
        (
            format!("{pad}x=\u{e9}\u{e9}; {NAME}=abcdefghijklmnopqrstuvwxyz"),
            Some("abcdefghijklm"),
        ),
        (format!("{pad}{pad}{NAME}=abcdef"), None),
    ] {
        let cut = runtime_find(&h);
        assert_eq!(cut, crate_find(&h, NAME));
        match want {
            Some(w) => assert!(cut.is_some_and(|c| w.starts_with(&c)), "{h}"),
            None => assert_eq!(cut, None),
        }
    }
}

/// Whitespace around names and values is spaces and tabs only (RFC 6265's
/// OWS, and what the `cookie` npm package trims); the crate trims every
/// Unicode white space (`str::trim`), so it reads a pair after a newline,
/// CR, form feed or no-break space that the runtime does not.
#[test]
fn deliberate_only_spaces_and_tabs_are_trimmed() {
    for ws in ["\n", "\r", "\x0b", "\x0c", "\u{a0}", "\u{85}", "\u{2028}"] {
        let h = format!("a=1;{ws}{NAME}=x");
        assert_eq!(runtime_find(&h), None, "{h:?}");
        assert_eq!(crate_find(&h, NAME).as_deref(), Some("x"), "{h:?}");
        let h = format!("{NAME}=x{ws}");
        assert_eq!(runtime_find(&h).as_deref(), Some(format!("x{ws}").as_str()));
        assert_eq!(crate_find(&h, NAME).as_deref(), Some("x"), "{h:?}");
    }
}

/// The crate's `split_parse_encoded` (not the oracle above) differs in three
/// more ways, all on purpose: the runtime, like the `cookie` npm package,
/// decodes values only (never names), strips the quotes before decoding
/// (`%22` stays a quote), and lets the first cookie of the name win even
/// when its value does not decode (the crate drops that pair and reads a
/// later one).
#[test]
fn deliberate_split_parse_encoded_differences() {
    let encoded = |h: &str| {
        Cookie::split_parse_encoded(h)
            .filter_map(Result::ok)
            .find(|c| c.name() == NAME)
            .map(|c| c.value_trimmed().to_owned())
    };
    // names are not decoded
    let h = "session%49d=x";
    assert_eq!(runtime_find(h), None);
    assert_eq!(encoded(h).as_deref(), Some("x"));
    // unquote, then decode
    let h = "sessionId=%22abc%22";
    assert_eq!(runtime_find(h).as_deref(), Some("\"abc\""));
    assert_eq!(encoded(h).as_deref(), Some("abc"));
    // the first occurrence wins, even when it is garbage
    let h = "sessionId=%FF; sessionId=ok";
    assert_eq!(runtime_find(h), None);
    assert_eq!(encoded(h).as_deref(), Some("ok"));
    // and a value that does not decode hides nothing else from the runtime
    let h = "other=%FF; sessionId=ok";
    assert_eq!(runtime_find(h).as_deref(), Some("ok"));
    assert_eq!(crate_find(h, NAME).as_deref(), Some("ok"));
}

/// An empty value is a cookie to the crate and no session cookie to the
/// runtime (a fresh session starts), as is a value past
/// [`MAX_COOKIE_VALUE`]; both still stop the search (first wins).
#[test]
fn deliberate_empty_and_oversized_values_are_no_value() {
    for h in [
        "sessionId=; sessionId=x".to_string(),
        "sessionId=\"\"; sessionId=x".to_string(),
        format!(
            "sessionId={}; sessionId=x",
            "a".repeat(MAX_COOKIE_VALUE + 1)
        ),
    ] {
        let first = Cookie::split_parse(h.as_str())
            .filter_map(Result::ok)
            .find(|c| c.name() == NAME)
            .unwrap();
        assert_ne!(first.value_trimmed(), "x");
        assert_eq!(runtime_find(&h), None, "{h}");
        assert_eq!(crate_find(&h, NAME), None, "{h}");
    }
}

/// The crate writes attributes in its own order and adds `Secure` by itself
/// to a `Partitioned` or `SameSite=None` cookie; the runtime writes the
/// order of the `cookie` npm package (byte-compatible with
/// @fastify/session) and only the attributes it is given. Both parse to the
/// same cookie.
#[test]
fn deliberate_attribute_order_and_implied_secure() {
    let a = CookieAttributes {
        domain: Some("example.com"),
        path: "/",
        expires: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(34_214_461)),
        http_only: true,
        secure: false,
        partitioned: false,
        same_site: Some(SameSite::None),
    };
    assert_eq!(
        set_cookie("sid", "v", &a),
        "sid=v; Domain=example.com; Path=/; Expires=Mon, 01 Feb 1971 00:01:01 GMT; \
         HttpOnly; SameSite=None"
    );
    let by_crate = Cookie::build(("sid", "v"))
        .domain("example.com")
        .path("/")
        .expires(cookie::time::OffsetDateTime::from(a.expires.unwrap()))
        .http_only(true)
        .same_site(cookie::SameSite::None)
        .build()
        .to_string();
    assert_eq!(
        by_crate,
        "sid=v; HttpOnly; SameSite=None; Secure; Path=/; Domain=example.com; \
         Expires=Mon, 01 Feb 1971 00:01:01 GMT"
    );
}

/// A path ending in a space is read without it (RFC 6265 trims attribute
/// values), so the config refuses one: the session would never apply.
#[test]
fn a_path_ending_in_a_space_is_refused_by_the_config() {
    let a = CookieAttributes {
        domain: None,
        path: "/app ",
        expires: None,
        http_only: false,
        secure: false,
        partitioned: false,
        same_site: None,
    };
    let set = set_cookie("sid", "v", &a);
    assert_eq!(Cookie::parse(set.as_str()).unwrap().path(), Some("/app"));
    let refused = livesession::SessionConfig::builder()
        .secret("0123456789abcdef0123456789abcdef")
        .cookie_path("/app ")
        .build();
    assert!(
        refused.is_err(),
        "a path the browser would trim is accepted"
    );
}
