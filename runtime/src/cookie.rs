//! The session cookie on the wire: finding it in a `Cookie` header and
//! writing `Set-Cookie` values. No session logic lives here.

use percent_encoding::percent_decode_str;
use std::borrow::Cow;
use std::time::SystemTime;

/// The longest `Cookie` header value the runtime looks at, in bytes. Anything
/// past it is ignored, so a huge header costs no allocation.
pub const MAX_COOKIE_HEADER: usize = 16 * 1024;

/// The longest session cookie value considered; a longer one is treated as
/// garbage (a fresh session starts).
pub const MAX_COOKIE_VALUE: usize = 1024;

/// Finds the value of cookie `name` in a `Cookie` header: the first
/// occurrence wins, surrounding spaces are trimmed, then one pair of
/// surrounding double quotes (`"v"` reads as `v`, as in fastify's cookie
/// parser), and `%XX` sequences are decoded (express-session sends
/// `s%3A...`). Returns `None` when absent, empty, oversized or not valid
/// UTF-8 after decoding.
///
/// ```
/// use livesession::cookie::find_cookie;
/// let h = "a=1; sessionId=s%3Aabc.def; sessionId=second";
/// assert_eq!(find_cookie(h, "sessionId").as_deref(), Some("s:abc.def"));
/// assert_eq!(find_cookie(h, "missing"), None);
/// assert_eq!(find_cookie("sessionId=\"abc.def\"", "sessionId").as_deref(), Some("abc.def"));
/// ```
pub fn find_cookie<'a>(header: &'a str, name: &str) -> Option<Cow<'a, str>> {
    let header = truncate_to_char_boundary(header, MAX_COOKIE_HEADER);
    for pair in header.split(';') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        if k.trim_matches([' ', '\t']) != name {
            continue;
        }
        let v = unquote(v.trim_matches([' ', '\t']));
        if v.is_empty() || v.len() > MAX_COOKIE_VALUE {
            return None;
        }
        if !v.contains('%') {
            return Some(Cow::Borrowed(v));
        }
        return percent_decode_str(v).decode_utf8().ok();
    }
    None
}

/// `v` without one pair of surrounding double quotes, if it has them.
fn unquote(v: &str) -> &str {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner,
        None => v,
    }
}

/// The text of a request's `Cookie` header(s), for [`find_cookie`], from
/// their raw bytes: several headers (HTTP/2 may split them) are joined with
/// `"; "`. Bytes that are not UTF-8 (a latin1 cookie another app on the
/// domain set) become U+FFFD instead of hiding the whole header, so the
/// other cookies, and the session cookie, which is ASCII, still read.
/// Borrows when there is one header and it is UTF-8. Only the first
/// [`MAX_COOKIE_HEADER`] bytes matter to [`find_cookie`], so longer input
/// is cut about there (at a UTF-8 boundary) before it is decoded or joined.
/// `None` without any header.
///
/// ```
/// use livesession::cookie::join_cookie_headers;
/// use std::borrow::Cow;
/// assert!(matches!(join_cookie_headers([&b"a=1"[..]]), Some(Cow::Borrowed("a=1"))));
/// assert_eq!(join_cookie_headers([&b"a=1"[..], b"b=2"]).as_deref(), Some("a=1; b=2"));
/// assert_eq!(join_cookie_headers([&b"a=caf\xe9; b=2"[..]]).as_deref(), Some("a=caf\u{fffd}; b=2"));
/// assert_eq!(join_cookie_headers(Vec::<&[u8]>::new()), None);
/// ```
pub fn join_cookie_headers<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Cow<'a, str>> {
    let mut values = values.into_iter();
    let first = header_text(values.next()?);
    let Some(second) = values.next() else {
        return Some(first);
    };
    let mut joined = first.into_owned();
    for v in std::iter::once(second).chain(values) {
        if joined.len() >= MAX_COOKIE_HEADER {
            break;
        }
        joined.push_str("; ");
        joined.push_str(&header_text(v));
    }
    Some(Cow::Owned(joined))
}

/// A header value as text: borrowed when it is UTF-8 (the common case
/// allocates nothing), otherwise with each invalid sequence replaced by
/// U+FFFD, which never swallows the ASCII around it. At most
/// [`MAX_COOKIE_HEADER`] bytes are read, cut back to a UTF-8 boundary.
fn header_text(bytes: &[u8]) -> Cow<'_, str> {
    let mut end = bytes.len().min(MAX_COOKIE_HEADER);
    // back off over at most 3 continuation bytes so a character is not cut
    let floor = end.saturating_sub(3);
    while end > floor && end < bytes.len() && bytes[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    let bytes = &bytes[..end];
    // `from_utf8` validates faster than the lossy decoder walks its chunks.
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

fn truncate_to_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// When to send the `Secure` cookie attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Secure {
    /// Always (fastify's default `true`).
    Always,
    /// Never.
    Never,
    /// Only when the request came over https (or `X-Forwarded-Proto: https`
    /// with trust proxy). Over plain http, `SameSite=None` is sent as `Lax`.
    Auto,
}

impl std::str::FromStr for Secure {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "true" => Ok(Secure::Always),
            "false" => Ok(Secure::Never),
            "auto" => Ok(Secure::Auto),
            _ => Err(format!(
                "invalid secure value {s:?}: expected true, false or auto"
            )),
        }
    }
}

/// The `SameSite` cookie attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=None` (browsers require `Secure` with it).
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

impl std::str::FromStr for SameSite {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "strict" => Ok(SameSite::Strict),
            "lax" => Ok(SameSite::Lax),
            "none" => Ok(SameSite::None),
            _ => Err(format!(
                "invalid SameSite value {s:?}: expected strict, lax or none"
            )),
        }
    }
}

/// Resolved attributes of one `Set-Cookie` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookieAttributes<'a> {
    /// `Domain`, if any.
    pub domain: Option<&'a str>,
    /// `Path`.
    pub path: &'a str,
    /// `Expires`, if the cookie is not a browser-session cookie.
    pub expires: Option<SystemTime>,
    /// `HttpOnly`.
    pub http_only: bool,
    /// `Secure`.
    pub secure: bool,
    /// `Partitioned`.
    pub partitioned: bool,
    /// `SameSite`, if any.
    pub same_site: Option<SameSite>,
}

/// Formats `name=value; Domain=..; Path=..; Expires=..; HttpOnly; Secure;
/// Partitioned; SameSite=..` (the attribute order of the `cookie` package that
/// @fastify/session uses).
///
/// ```
/// use livesession::cookie::{set_cookie, CookieAttributes, SameSite};
/// let a = CookieAttributes { domain: None, path: "/", expires: None, http_only: true,
///     secure: false, partitioned: false, same_site: Some(SameSite::Lax) };
/// assert_eq!(set_cookie("sessionId", "v", &a), "sessionId=v; Path=/; HttpOnly; SameSite=Lax");
/// ```
pub fn set_cookie(name: &str, value: &str, a: &CookieAttributes<'_>) -> String {
    // Sized exactly: an exactly sized String becomes a header value's bytes
    // without a second allocation.
    let len = name.len()
        + 1
        + value.len()
        + a.domain.map_or(0, |d| "; Domain=".len() + d.len())
        + "; Path=".len()
        + a.path.len()
        + a.expires.map_or(0, |_| "; Expires=".len() + HTTP_DATE_LEN)
        + if a.http_only { "; HttpOnly".len() } else { 0 }
        + if a.secure { "; Secure".len() } else { 0 }
        + if a.partitioned {
            "; Partitioned".len()
        } else {
            0
        }
        + a.same_site
            .map_or(0, |s| "; SameSite=".len() + s.as_str().len());
    let mut out = String::with_capacity(len);
    out.push_str(name);
    out.push('=');
    out.push_str(value);
    if let Some(d) = a.domain {
        out.push_str("; Domain=");
        out.push_str(d);
    }
    out.push_str("; Path=");
    out.push_str(a.path);
    if let Some(t) = a.expires {
        out.push_str("; Expires=");
        push_http_date(&mut out, t);
    }
    if a.http_only {
        out.push_str("; HttpOnly");
    }
    if a.secure {
        out.push_str("; Secure");
    }
    if a.partitioned {
        out.push_str("; Partitioned");
    }
    if let Some(s) = a.same_site {
        out.push_str("; SameSite=");
        out.push_str(s.as_str());
    }
    out
}

/// Length of an IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`: every date
/// [`push_http_date`] writes (years 1970 to 9999).
const HTTP_DATE_LEN: usize = 29;

/// Appends `t` as an IMF-fixdate. The formatted date is cached per thread
/// for the current second: most responses of a busy server share it.
fn push_http_date(out: &mut String, t: SystemTime) {
    use std::cell::RefCell;
    thread_local! {
        static LAST: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    /// 9999-12-31T23:59:59Z, the last instant an HTTP date can name.
    const LAST_HTTP_DATE: u64 = 253_402_300_799;
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(LAST_HTTP_DATE);
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != secs {
            let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs);
            *last = (secs, httpdate::fmt_http_date(t));
        }
        out.push_str(&last.1);
    });
}

/// A cookie that makes the browser drop `name`: empty value, `Max-Age=0` and
/// an `Expires` in 1970, with every other attribute as the cookie was set
/// (`Expires` in `a` is ignored). Browsers match a clear by name, path and
/// domain, refuse one for a `__Host-`/`__Secure-` name without `Secure`, and
/// keep a partitioned cookie unless the clear is partitioned too.
///
/// ```
/// use livesession::cookie::{clear_cookie, CookieAttributes, SameSite};
/// let set_with = CookieAttributes {
///     domain: None,
///     path: "/",
///     expires: None,
///     http_only: true,
///     secure: true,
///     partitioned: false,
///     same_site: Some(SameSite::Lax),
/// };
/// assert_eq!(clear_cookie("sessionId", &set_with),
///     "sessionId=; Max-Age=0; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax");
/// ```
pub fn clear_cookie(name: &str, a: &CookieAttributes<'_>) -> String {
    let cleared = CookieAttributes {
        expires: Some(SystemTime::UNIX_EPOCH),
        ..*a
    };
    let mut out = set_cookie(name, "", &cleared);
    out.insert_str(name.len() + 1, "; Max-Age=0");
    out
}

/// Whether `s` is a valid cookie name (an RFC 7230 token).
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether every byte of `s` is an RFC 6265 cookie-octet (a value or prefix
/// that needs no encoding).
pub fn is_cookie_octets(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E))
}

/// Whether `s` can be a cookie attribute value (`Path`, `Domain`): visible
/// ASCII without `;`.
pub fn is_attribute_value(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn finds_first_occurrence_and_decodes() {
        assert_eq!(
            find_cookie("sessionId=A; sessionId=B", "sessionId").as_deref(),
            Some("A")
        );
        assert_eq!(
            find_cookie(" x=1 ;\tsessionId = s%3Aid.sig%2B ", "sessionId").as_deref(),
            Some("s:id.sig+")
        );
        assert_eq!(find_cookie("sessionId=", "sessionId"), None);
        assert_eq!(find_cookie("sessionIdx=1", "sessionId"), None);
        assert_eq!(find_cookie("sessionId=%FF%FE", "sessionId"), None);
        // a malformed escape is kept as-is (like the `cookie` package)
        assert_eq!(
            find_cookie("sessionId=a%zz", "sessionId").as_deref(),
            Some("a%zz")
        );
    }

    #[test]
    fn strips_surrounding_double_quotes() {
        assert_eq!(
            find_cookie("sessionId=\"abc.sig\"", "sessionId").as_deref(),
            Some("abc.sig")
        );
        // spaces around the quotes are trimmed first; percent-decoding
        // applies to the unquoted value
        assert_eq!(
            find_cookie("a=1; sessionId = \"s%3Aabc.sig\" ; b=2", "sessionId").as_deref(),
            Some("s:abc.sig")
        );
        // only a matching pair is stripped, once
        assert_eq!(
            find_cookie("sessionId=\"abc", "sessionId").as_deref(),
            Some("\"abc")
        );
        assert_eq!(
            find_cookie("sessionId=abc\"", "sessionId").as_deref(),
            Some("abc\"")
        );
        assert_eq!(
            find_cookie("sessionId=\"\"q\"\"", "sessionId").as_deref(),
            Some("\"q\"")
        );
        assert_eq!(
            find_cookie("sessionId=\"", "sessionId").as_deref(),
            Some("\"")
        );
        // an empty quoted value is no value, and the first occurrence still wins
        assert_eq!(find_cookie("sessionId=\"\"", "sessionId"), None);
        assert_eq!(
            find_cookie("sessionId=\"\"; sessionId=x", "sessionId"),
            None
        );
    }

    #[test]
    fn cookie_header_bytes_outside_ascii_do_not_hide_the_session() {
        let read = |headers: &[&[u8]]| {
            let joined = join_cookie_headers(headers.iter().copied()).unwrap();
            find_cookie(&joined, "sessionId").map(Cow::into_owned)
        };
        let sid = Some("abc.sig".to_string());
        // UTF-8 text of another app: read as is, nothing allocated
        let utf8 = b"other=caf\xc3\xa9; sessionId=abc.sig";
        assert!(matches!(
            join_cookie_headers([&utf8[..]]),
            Some(Cow::Borrowed("other=café; sessionId=abc.sig"))
        ));
        assert_eq!(read(&[utf8]), sid);
        // latin1 (not UTF-8), before and after the session cookie
        assert_eq!(read(&[b"other=caf\xe9; sessionId=abc.sig"]), sid);
        assert_eq!(read(&[b"sessionId=abc.sig; other=caf\xe9"]), sid);
        // an invalid byte right before the separator does not eat it
        assert_eq!(read(&[b"other=\xe9\xe9;sessionId=abc.sig"]), sid);
        assert_eq!(read(&[b"other=\xf0\x9f; sessionId=abc.sig"]), sid);
        // split headers, the bad one first
        assert_eq!(read(&[b"other=caf\xe9", b"sessionId=abc.sig"]), sid);
        assert_eq!(
            join_cookie_headers([&b"a=\xff"[..], b"b=\xc3\xa9"]).as_deref(),
            Some("a=\u{fffd}; b=é")
        );
        // a session cookie value that is not ASCII is garbage, not a panic
        assert_eq!(
            read(&[b"sessionId=ab\xe9c"]).as_deref(),
            Some("ab\u{fffd}c")
        );
    }

    #[test]
    fn joined_cookie_headers_stop_near_the_header_limit() {
        let big = "a".repeat(MAX_COOKIE_HEADER + 100);
        let one = join_cookie_headers([big.as_bytes()]).unwrap();
        assert_eq!(one.len(), MAX_COOKIE_HEADER);
        let many = join_cookie_headers([big.as_bytes(), b"b=1", b"c=2"]).unwrap();
        assert_eq!(many.len(), MAX_COOKIE_HEADER);
        // a multi-byte character across the limit is not cut in two
        let mut long = vec![b'a'; MAX_COOKIE_HEADER - 1];
        long.extend_from_slice("é".as_bytes());
        let text = join_cookie_headers([&long[..]]).unwrap();
        assert!(matches!(text, Cow::Borrowed(_)));
        assert_eq!(text.len(), MAX_COOKIE_HEADER - 1);
        // below the limit every header is kept
        let small = join_cookie_headers([&b"a=1"[..], b"b=2", b"c=3"]).unwrap();
        assert_eq!(small, "a=1; b=2; c=3");
    }

    #[test]
    fn ignores_oversized_values_and_headers() {
        let long = format!("sessionId={}", "a".repeat(MAX_COOKIE_VALUE + 1));
        assert_eq!(find_cookie(&long, "sessionId"), None);
        let far = format!("{}; sessionId=x", "junk=1; ".repeat(4000));
        assert_eq!(find_cookie(&far, "sessionId"), None);
        let multibyte = "é".repeat(MAX_COOKIE_HEADER);
        assert_eq!(find_cookie(&multibyte, "sessionId"), None);
    }

    #[test]
    fn formats_every_attribute_in_order() {
        let a = CookieAttributes {
            domain: Some("example.com"),
            path: "/app",
            expires: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(34214461)),
            http_only: true,
            secure: true,
            partitioned: true,
            same_site: Some(SameSite::Strict),
        };
        assert_eq!(
            set_cookie("sid", "v.s", &a),
            "sid=v.s; Domain=example.com; Path=/app; Expires=Mon, 01 Feb 1971 00:01:01 GMT; \
             HttpOnly; Secure; Partitioned; SameSite=Strict"
        );
        assert_eq!(
            clear_cookie("sid", &a),
            "sid=; Max-Age=0; Domain=example.com; Path=/app; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; Partitioned; SameSite=Strict"
        );
    }

    #[test]
    fn a_set_cookie_value_has_no_spare_capacity() {
        // An exactly sized String becomes a header value's bytes as it is;
        // spare capacity costs a second allocation (and its atomic release)
        // on every response that carries the cookie.
        let dates = [
            None,
            Some(SystemTime::UNIX_EPOCH),
            Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 4)),
            Some(SystemTime::now()),
        ];
        for expires in dates {
            for flags in 0..16u8 {
                for same_site in [
                    None,
                    Some(SameSite::Strict),
                    Some(SameSite::Lax),
                    Some(SameSite::None),
                ] {
                    let a = CookieAttributes {
                        domain: (flags & 1 != 0).then_some("example.com"),
                        path: "/app",
                        expires,
                        http_only: flags & 2 != 0,
                        secure: flags & 4 != 0,
                        partitioned: flags & 8 != 0,
                        same_site,
                    };
                    let value = set_cookie("sessionId", "abc.sig", &a);
                    assert_eq!(value.capacity(), value.len(), "{value}");
                }
            }
        }
    }

    #[test]
    fn an_expiry_past_year_9999_is_capped_instead_of_panicking() {
        let far = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(u64::MAX / 4);
        let a = CookieAttributes {
            domain: None,
            path: "/",
            expires: Some(far),
            http_only: false,
            secure: false,
            partitioned: false,
            same_site: None,
        };
        assert!(set_cookie("sid", "v", &a).contains("Expires=Fri, 31 Dec 9999 23:59:59 GMT"));
    }

    #[test]
    fn validates_names_and_octets() {
        assert!(is_token("connect.sid"));
        assert!(!is_token("bad name"));
        assert!(!is_token(""));
        assert!(is_cookie_octets("s:"));
        assert!(!is_cookie_octets("a;b"));
        assert!(!is_cookie_octets("a b"));
        assert!("LAX".parse::<SameSite>().is_ok());
        assert!("foo".parse::<SameSite>().is_err());
    }
}
