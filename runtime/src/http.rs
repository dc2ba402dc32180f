//! Requests and responses of the [`http`](https://docs.rs/http/1) 1.x
//! crate in and out of sessions: the translation every adapter over a
//! framework built on `http` (Poem, Salvo, ...) needs, so that an adapter is
//! only its framework's idiom around [`start`] and [`finish`]. Feature `http`.
//!
//! ```
//! use livesession::{SessionConfig, SessionManager};
//! use ::http::{header, HeaderMap, HeaderValue, Uri};
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let manager = SessionManager::new(
//!     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
//! );
//! let uri: Uri = "/counter?x=1".parse().unwrap();
//!
//! // first request: no cookie
//! let session = livesession::http::start(&manager, &HeaderMap::new(), &uri, false);
//! session.insert("n", 1).await.unwrap();
//! let mut response_headers = HeaderMap::new();
//! livesession::http::finish(&session, &mut response_headers).await.unwrap();
//! let set_cookie = response_headers[header::SET_COOKIE].to_str().unwrap();
//!
//! // the browser sends the cookie back
//! let mut request_headers = HeaderMap::new();
//! let cookie = set_cookie.split(';').next().unwrap();
//! request_headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
//! let session = livesession::http::start(&manager, &request_headers, &uri, false);
//! assert_eq!(session.get::<i64>("n").await.unwrap(), Some(1));
//! # });
//! ```

use crate::cookie::join_cookie_headers;
use crate::{RequestInfo, RequestSession, SessionError, SessionManager};
use ::http::header::{COOKIE, SET_COOKIE};
use ::http::{HeaderMap, HeaderValue, Uri};

/// The `X-Forwarded-Proto` header, honoured only with
/// [`trust_proxy`](crate::SessionConfigBuilder::trust_proxy).
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// The session handle for one request, from its headers, its URI and
/// whether its connection is TLS ([`SessionManager::start`] over `http`
/// types).
///
/// Every `Cookie` header counts (joined as bytes, so a non-UTF-8 cookie of
/// another app does not hide the session), the path is the URI's (without
/// the query), and `X-Forwarded-Proto` (its first value) makes the request
/// https only when the manager's config trusts the proxy.
///
/// ```
/// use livesession::{SessionConfig, SessionManager};
/// use ::http::{HeaderMap, HeaderValue};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SessionManager::new(
///     SessionConfig::builder()
///         .secret("a secret of at least thirty-two bytes!")
///         .trust_proxy(true)
///         .build()
///         .unwrap(),
/// );
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
/// let session = livesession::http::start(&manager, &headers, &"/".parse().unwrap(), false);
/// session.insert("n", 1).await.unwrap();
/// let cookies = session.finish().await.unwrap();
/// assert!(cookies[0].contains("; Secure"));
/// # });
/// ```
pub fn start(
    manager: &SessionManager,
    headers: &HeaderMap,
    uri: &Uri,
    is_https: bool,
) -> RequestSession {
    let cookie_header =
        join_cookie_headers(headers.get_all(COOKIE).iter().map(HeaderValue::as_bytes));
    manager.start(&RequestInfo {
        cookie_header: cookie_header.as_deref(),
        path: uri.path(),
        tls: is_https,
        forwarded_proto: headers.get(X_FORWARDED_PROTO).and_then(|v| v.to_str().ok()),
    })
}

/// Finishes the request ([`RequestSession::finish`]) and appends one `Set-Cookie`
/// header per value it returns to `headers`, after those already there.
/// Call it after the handler, whatever its outcome.
///
/// ```
/// use livesession::{SessionConfig, SessionManager};
/// use ::http::{header::SET_COOKIE, HeaderMap, HeaderValue};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// # let manager = SessionManager::new(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
/// let session = livesession::http::start(&manager, &HeaderMap::new(), &"/".parse().unwrap(), false);
/// session.insert("n", 1).await.unwrap();
/// let mut headers = HeaderMap::new();
/// headers.insert(SET_COOKIE, HeaderValue::from_static("theme=dark"));
/// livesession::http::finish(&session, &mut headers).await.unwrap();
/// let all: Vec<_> = headers.get_all(SET_COOKIE).iter().collect();
/// assert_eq!(all.len(), 2);
/// assert!(all[1].to_str().unwrap().starts_with("sessionId="));
/// # });
/// ```
///
/// # Errors
///
/// What [`RequestSession::finish`] fails with (a new session that the store could
/// not create, a second call), and [`SessionError::Invalid`] when a
/// `Set-Cookie` value is not a valid header value (a custom
/// [`Signer`](crate::signing::Signer) that puts control characters in the
/// cookie). On an error nothing is appended; answer 500.
pub async fn finish(session: &RequestSession, headers: &mut HeaderMap) -> Result<(), SessionError> {
    append_set_cookies(headers, session.finish().await?)
}

/// Appends every value as a `Set-Cookie` header, or none of them if one is
/// not a valid header value.
fn append_set_cookies(headers: &mut HeaderMap, cookies: Vec<String>) -> Result<(), SessionError> {
    let values = cookies
        .into_iter()
        .map(|c| {
            // The value holds the session id: the error does not quote it.
            HeaderValue::try_from(c).map_err(|_| {
                SessionError::Invalid("a Set-Cookie value is not a valid header value".into())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    for v in values {
        headers.append(SET_COOKIE, v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{HmacSigner, Signer, Unsigned};
    use crate::store::MemoryStore;
    use crate::testing::{FaultyStore, Op};
    use crate::{Secure, SessionConfig, SessionConfigBuilder};
    use std::sync::Arc;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn manager(build: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder) -> SessionManager {
        SessionManager::new(
            build(SessionConfig::builder().secret(SECRET))
                .build()
                .unwrap(),
        )
    }

    fn uri(s: &str) -> Uri {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        h
    }

    fn set_cookies(h: &HeaderMap) -> Vec<String> {
        h.get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    /// A session holding `n = 1`, and its `name=value` cookie pair.
    async fn stored_session(m: &SessionManager, path: &str) -> String {
        let s = start(m, &HeaderMap::new(), &uri(path), false);
        s.insert("n", 1).await.unwrap();
        let mut h = HeaderMap::new();
        finish(&s, &mut h).await.unwrap();
        let cookies = set_cookies(&h);
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        cookies[0].split(';').next().unwrap().to_string()
    }

    async fn n(s: &crate::Session) -> Option<i64> {
        s.get::<i64>("n").await.unwrap()
    }

    /// Whether a new session started with these request parts gets a
    /// `Secure` cookie.
    async fn secure_cookie(m: &SessionManager, h: &HeaderMap, is_https: bool) -> bool {
        let s = start(m, h, &uri("/"), is_https);
        s.insert("n", 1).await.unwrap();
        let mut out = HeaderMap::new();
        finish(&s, &mut out).await.unwrap();
        set_cookies(&out)[0].contains("; Secure")
    }

    #[tokio::test]
    async fn the_session_cookie_is_found_in_any_cookie_header() {
        let m = manager(|b| b);
        let pair = stored_session(&m, "/").await;
        let h = headers(&[
            ("cookie", b"theme=dark; lang=fr"),
            ("cookie", pair.as_bytes()),
        ]);
        assert_eq!(n(&start(&m, &h, &uri("/"), false)).await, Some(1));
        let h = headers(&[("cookie", format!("a=1; {pair}; b=2").as_bytes())]);
        assert_eq!(n(&start(&m, &h, &uri("/"), false)).await, Some(1));
    }

    #[tokio::test]
    async fn a_non_utf8_cookie_of_another_app_does_not_hide_the_session() {
        let m = manager(|b| b);
        let pair = stored_session(&m, "/").await;
        let h = headers(&[("cookie", b"other=caf\xe9"), ("cookie", pair.as_bytes())]);
        assert_eq!(n(&start(&m, &h, &uri("/"), false)).await, Some(1));
    }

    #[tokio::test]
    async fn the_path_comes_from_the_uri_without_its_query() {
        let m = manager(|b| b.cookie_path("/app"));
        let pair = stored_session(&m, "/app/login?next=%2F").await;
        let h = headers(&[("cookie", pair.as_bytes())]);
        let inside = start(&m, &h, &uri("http://example.com/app/x?y=1"), false);
        assert_eq!(n(&inside).await, Some(1));
        // outside the cookie path: a scratch session, no cookie
        let outside = start(&m, &h, &uri("/other?app"), false);
        assert_eq!(n(&outside).await, None);
        outside.insert("n", 2).await.unwrap();
        let mut out = HeaderMap::new();
        finish(&outside, &mut out).await.unwrap();
        assert!(set_cookies(&out).is_empty());
    }

    #[tokio::test]
    async fn tls_makes_the_cookie_secure() {
        let m = manager(|b| b.secure(Secure::Auto));
        assert!(secure_cookie(&m, &HeaderMap::new(), true).await);
        assert!(!secure_cookie(&m, &HeaderMap::new(), false).await);
    }

    #[tokio::test]
    async fn x_forwarded_proto_counts_only_with_trust_proxy() {
        let https = headers(&[("x-forwarded-proto", b"HTTPS")]);
        let first_https = headers(&[("x-forwarded-proto", b"https, http")]);
        let first_http = headers(&[("x-forwarded-proto", b"http, https")]);
        let trusting = manager(|b| b.secure(Secure::Auto).trust_proxy(true));
        assert!(secure_cookie(&trusting, &https, false).await);
        assert!(secure_cookie(&trusting, &first_https, false).await);
        assert!(!secure_cookie(&trusting, &first_http, false).await);
        let plain = manager(|b| b.secure(Secure::Auto));
        assert!(!secure_cookie(&plain, &https, false).await);
    }

    #[tokio::test]
    async fn finish_appends_after_the_handlers_set_cookie_headers() {
        let m = manager(|b| b);
        let s = start(&m, &HeaderMap::new(), &uri("/"), false);
        s.insert("n", 1).await.unwrap();
        let mut h = headers(&[("set-cookie", b"theme=dark")]);
        finish(&s, &mut h).await.unwrap();
        let all = set_cookies(&h);
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(all[0], "theme=dark");
        assert!(all[1].starts_with("sessionId="), "{all:?}");
    }

    #[tokio::test]
    async fn an_untouched_request_gets_no_set_cookie() {
        let m = manager(|b| b);
        let s = start(&m, &HeaderMap::new(), &uri("/"), false);
        let mut h = HeaderMap::new();
        finish(&s, &mut h).await.unwrap();
        assert!(h.is_empty());
    }

    #[test]
    fn every_value_is_appended_as_its_own_header() {
        let mut h = HeaderMap::new();
        append_set_cookies(&mut h, vec!["a=; Path=/".into(), "b=2; Path=/".into()]).unwrap();
        assert_eq!(set_cookies(&h), ["a=; Path=/", "b=2; Path=/"]);
    }

    #[test]
    fn an_invalid_value_is_an_error_and_nothing_is_appended() {
        let mut h = HeaderMap::new();
        let err = append_set_cookies(&mut h, vec!["a=1".into(), "b=2\r\nX-Injected: 1".into()])
            .unwrap_err();
        assert!(matches!(err, SessionError::Invalid(_)), "{err:?}");
        assert!(
            !err.to_string().contains("b=2"),
            "the error quotes the cookie: {err}"
        );
        assert!(h.is_empty());
    }

    /// Signs like HMAC but ends every signature with a line break.
    struct BrokenSigner(HmacSigner);

    impl Signer for BrokenSigner {
        fn sign(&self, id: &str) -> String {
            format!("{}\n", self.0.sign(id))
        }
        fn unsign(&self, value: &str) -> Unsigned {
            self.0.unsign(value.trim_end())
        }
    }

    #[tokio::test]
    async fn a_signer_that_breaks_the_header_fails_finish_without_a_panic() {
        let signer = BrokenSigner(HmacSigner::new([SECRET]).unwrap());
        let m = SessionManager::new(SessionConfig::builder().signer(signer).build().unwrap());
        let s = start(&m, &HeaderMap::new(), &uri("/"), false);
        s.insert("n", 1).await.unwrap();
        let mut h = HeaderMap::new();
        let err = finish(&s, &mut h).await.unwrap_err();
        assert!(matches!(err, SessionError::Invalid(_)), "{err:?}");
        assert!(h.is_empty());
    }

    #[tokio::test]
    async fn a_store_failure_in_finish_is_returned_and_nothing_is_appended() {
        let store = FaultyStore::new(MemoryStore::new());
        let m = manager(|b| b.store(Arc::new(store.clone())));
        store.fail(Op::Create, true);
        let s = start(&m, &HeaderMap::new(), &uri("/"), false);
        s.insert("n", 1).await.unwrap();
        let mut h = HeaderMap::new();
        let err = finish(&s, &mut h).await.unwrap_err();
        assert!(err.is_backend_failure(), "{err:?}");
        assert!(h.is_empty());
        // and a second finish is refused
        assert!(matches!(
            finish(&s, &mut h).await,
            Err(SessionError::Finished)
        ));
    }
}
