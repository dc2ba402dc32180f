//! `cookie`: arbitrary bytes as a `Cookie` request header.
//!
//! 1. `find_cookie(header, "sessionId")` never panics and returns a non-empty
//!    value of at most `MAX_COOKIE_VALUE` bytes.
//! 2. With an optional `s:` prefix stripped, `HmacSigner::unsign` never
//!    panics, and whatever it accepts is exactly what `sign` produces for the
//!    id it returns: no signature is accepted that the secret did not make
//!    (no malleable base64, no second encoding of the same MAC).
//! 3. `sign` then `unsign` round-trips every non-empty id.
//! 4. A memory-only `SessionManager` (express-style `s:` prefix, same secret)
//!    handling a request with this header never panics, never adopts an id
//!    from the client (the header names no live session: every session this
//!    target creates is destroyed before the next input), and the session it
//!    issues works on the next request and stays dead after `destroy`, which
//!    leaves no live session behind.
//! 5. The `cookie` crate (0.18) agrees, as a differential oracle (the same
//!    comparison as ../runtime/tests/cookie_oracle.rs): `find_cookie` finds
//!    the value the crate's `Cookie::split_parse` finds (first cookie of the
//!    name, `value_trimmed`, percent-decoded) whenever the header has no
//!    white space but spaces and tabs (the crate trims all Unicode white
//!    space, the runtime only RFC 6265's spaces and tabs, as the `cookie`
//!    npm package does: a deliberate difference); and the `Set-Cookie` the
//!    manager issues, and the one clearing it, parse back with
//!    `Cookie::parse` into the same name, value and attributes.
#![no_main]

use cookie::Cookie;
use libfuzzer_sys::fuzz_target;
use livesession::cookie::{find_cookie, MAX_COOKIE_HEADER, MAX_COOKIE_VALUE};
use livesession::signing::{HmacSigner, Signer, Unsigned};
use livesession::{RequestInfo, SessionConfig, SessionManager};
use std::borrow::Cow;
use std::sync::OnceLock;

/// The one secret both the bare signer and the manager use, so signed seeds
/// reach the manager's store lookup.
const SECRET: &str = "cNaoPYAwF60HZJzkcNaoPYAwF60HZJzk";
const NAME: &str = "sessionId";
const PREFIX: &str = "s:";

struct Env {
    signer: HmacSigner,
    rt: tokio::runtime::Runtime,
    manager: SessionManager,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let manager = rt.block_on(async {
            SessionManager::new(
                SessionConfig::builder()
                    .secret(SECRET)
                    .cookie_prefix(PREFIX)
                    // finish() creates (and names) a session even when the
                    // handler only read it: the id it returns is checked.
                    .save_uninitialized(true)
                    .build()
                    .expect("config"),
            )
        });
        Env {
            signer: HmacSigner::new([SECRET]).expect("signer"),
            rt,
            manager,
        }
    })
}

/// The `(value, id)` of our `Set-Cookie`, `value` without the prefix.
fn issued(set_cookies: &[String]) -> Option<(String, String)> {
    let set = set_cookies
        .iter()
        .find(|c| c.starts_with("sessionId=") && !c.contains("Max-Age=0"))?;
    let pair = set.split(';').next().unwrap();
    let value = pair.strip_prefix("sessionId=").unwrap();
    let value = value
        .strip_prefix(PREFIX)
        .unwrap_or_else(|| panic!("issued cookie without the prefix: {set:?}"));
    let (id, _sig) = value
        .rsplit_once('.')
        .unwrap_or_else(|| panic!("issued cookie is not id.sig: {set:?}"));
    Some((value.to_string(), id.to_string()))
}

/// The session value as the `cookie` crate finds it, with the runtime's
/// policy on top (see ../runtime/tests/cookie_oracle.rs): first cookie of
/// the name in the first `MAX_COOKIE_HEADER` bytes, quotes trimmed,
/// percent-decoded; empty, oversized or not UTF-8 is no value.
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
    percent_encoding::percent_decode_str(v)
        .decode_utf8()
        .ok()
        .map(Cow::into_owned)
}

/// `set` parsed by the crate: named `sessionId`, with `value`, `Path=/`,
/// `HttpOnly`, `SameSite=Lax` (the config's defaults), and an `Expires`
/// (and `Max-Age=0`) as issued or cleared.
fn assert_crate_reads(set: &str, value: &str, cleared: bool) {
    let c = Cookie::parse(set).unwrap_or_else(|e| panic!("the crate cannot parse {set:?}: {e}"));
    assert_eq!(c.name(), NAME, "{set:?}");
    assert_eq!(c.value(), value, "{set:?}");
    assert_eq!(c.path(), Some("/"), "{set:?}");
    assert_eq!(c.domain(), None, "{set:?}");
    assert_eq!(c.http_only(), Some(true), "{set:?}");
    assert_eq!(c.same_site(), Some(cookie::SameSite::Lax), "{set:?}");
    let expires = c
        .expires_datetime()
        .unwrap_or_else(|| panic!("no Expires the crate reads in {set:?}"))
        .unix_timestamp();
    if cleared {
        assert_eq!(c.max_age(), Some(cookie::time::Duration::ZERO), "{set:?}");
        assert_eq!(expires, 0, "{set:?}");
    } else {
        assert_eq!(c.max_age(), None, "{set:?}");
        assert!(expires > 0, "{set:?}");
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    // Lossy: every input reaches the parser (invalid bytes become U+FFFD).
    let header = String::from_utf8_lossy(data);
    let env = env();
    let signer = &env.signer;

    // 1-3: the parser and the signer on their own.
    if let Some(v) = find_cookie(&header, NAME) {
        assert!(!v.is_empty(), "find_cookie returned an empty value");
        assert!(
            v.len() <= MAX_COOKIE_VALUE,
            "find_cookie returned {} bytes",
            v.len()
        );
        let value = v.strip_prefix(PREFIX).unwrap_or(&v);
        match signer.unsign(value) {
            Unsigned::Valid { id, renew } => {
                assert!(!renew, "one secret, yet renew was asked for");
                assert_eq!(
                    signer.sign(&id),
                    value,
                    "unsign accepted a value that sign({id:?}) does not produce"
                );
            }
            Unsigned::Invalid => {}
        }
        if !value.is_empty() {
            let signed = signer.sign(value);
            assert_eq!(
                signer.unsign(&signed),
                Unsigned::Valid {
                    id: value.to_string(),
                    renew: false
                },
                "sign/unsign does not round-trip {value:?}"
            );
        }
    }

    // 5 (its Set-Cookie half is in 4): the crate finds the same session value.
    if !header
        .chars()
        .any(|c| c.is_whitespace() && c != ' ' && c != '\t')
    {
        assert_eq!(
            find_cookie(&header, NAME).map(Cow::into_owned),
            crate_find(&header, NAME),
            "find_cookie and the cookie crate disagree on {header:?}"
        );
    }

    // 4: a whole request through the manager.
    env.rt.block_on(async {
        let m = &env.manager;
        let req = |cookie| RequestInfo {
            cookie_header: Some(cookie),
            path: "/",
            ..Default::default()
        };

        let s = m.start(&req(&header));
        let n = s.get::<i64>("n").await.expect("get on a new session");
        assert_eq!(n, None, "a client cookie opened a session with data");
        assert_eq!(
            s.id().await.expect("id"),
            None,
            "a client cookie was adopted as a live session"
        );
        s.save().await.expect("save");
        let id = s.id().await.expect("id").expect("saved: an id");
        let set = s.finish().await.expect("finish");
        let (value, cookie_id) =
            issued(&set).unwrap_or_else(|| panic!("no session cookie in {set:?}"));
        assert_eq!(cookie_id, id, "Set-Cookie names another id");
        let set_cookie = set
            .iter()
            .find(|c| c.starts_with("sessionId=") && !c.contains("Max-Age=0"))
            .unwrap();
        assert_crate_reads(set_cookie, &format!("{PREFIX}{value}"), false);
        assert!(
            matches!(s.id().await, Err(livesession::SessionError::Finished)),
            "a session answered after its response was sent"
        );
        assert!(
            !contains(data, id.as_bytes()) && !header.contains(&id),
            "the issued id {id:?} came from the client's input"
        );

        // The issued cookie opens the session; destroying it ends it for good.
        let cookie = format!("sessionId={PREFIX}{value}");
        let s2 = m.start(&req(&cookie));
        assert_eq!(s2.id().await.expect("id"), Some(id.clone()));
        s2.insert("n", 1).await.expect("insert");
        s2.destroy().await.expect("destroy");
        let cleared = s2.finish().await.expect("finish after destroy");
        assert!(
            cleared.iter().any(|c| c.contains("Max-Age=0")),
            "destroy did not clear the cookie: {cleared:?}"
        );
        for c in cleared.iter().filter(|c| c.contains("Max-Age=0")) {
            assert_crate_reads(c, "", true);
        }
        let s3 = m.start(&req(&cookie));
        assert_eq!(s3.get::<i64>("n").await.expect("get"), None, "resurrected");
        assert_eq!(s3.id().await.expect("id"), None, "destroyed id reused");
        // Nothing is stored for s3: it only read, so give it no chance to
        // create a session that the next input would find.
        drop(s3);
        // The destroyed session left the registry: nothing is live.
        assert_eq!(
            m.stats().await.expect("stats").live,
            0,
            "a session outlived destroy"
        );
    });
});
