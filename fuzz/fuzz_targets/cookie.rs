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
#![no_main]

use libfuzzer_sys::fuzz_target;
use livesession::cookie::{find_cookie, MAX_COOKIE_VALUE};
use livesession::signing::{HmacSigner, Signer, Unsigned};
use livesession::{RequestInfo, SessionConfig, SessionManager};
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
        let s3 = m.start(&req(&cookie));
        assert_eq!(s3.get::<i64>("n").await.expect("get"), None, "resurrected");
        assert_eq!(s3.id().await.expect("id"), None, "destroyed id reused");
        // Nothing is stored for s3: it only read, so give it no chance to
        // create a session that the next input would find.
        drop(s3);
        // The destroyed session left the registry: nothing is live.
        assert_eq!(m.stats().await.expect("stats").live, 0, "a session outlived destroy");
    });
});
