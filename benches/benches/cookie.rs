//! The cookie half of the per-request hot path, without the runtime:
//!
//! * `cookie_verify`: find the session cookie in a realistic `Cookie` header,
//!   strip the prefix, check the HMAC signature and the id's shape (what
//!   `SessionManager::start` + the first session access do before the registry
//!   lookup).
//! * `sign_and_set_cookie`: sign the id and format the `Set-Cookie` value with
//!   `Expires` (what `RequestSession::finish` does for a rolling session), with the
//!   formatted date cached (same second) and not (a new second every call).
//! * `crate_vs_hand_parse`, `crate_vs_hand_set_cookie`: the hand-written
//!   `find_cookie` and `set_cookie` side by side with the `cookie` crate
//!   (0.18) doing the same job, to price the crate on the hot path (the
//!   project rule: use the crate unless it costs more than 100 ns per
//!   request). Each pair is benchmarked hand, crate, hand, crate... in one
//!   group; run the whole bench several times and compare medians.
//!
//! `cargo bench -p livesession-benches --bench cookie`

use criterion::{criterion_group, criterion_main, Criterion};
use livesession::cookie::{find_cookie, set_cookie, CookieAttributes};
use livesession::id::{is_valid_id, random_id};
use livesession::signing::{HmacSigner, Signer, Unsigned};
use livesession::SameSite;
use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const NAME: &str = "sessionId";

/// A `Cookie` header as a browser sends it: analytics and preference cookies
/// around the session cookie (`value` is inserted as is).
fn header_with(value: &str) -> String {
    format!(
        "_ga=GA1.2.1234567890.1700000000; _gid=GA1.2.987654321.1700000000; \
         theme=dark; lang=en-GB; {NAME}={value}; \
         csrf_token=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg; consent=analytics%2Cads"
    )
}

/// The per-request verification, as the runtime does it: find, strip the
/// prefix, unsign, check the id. Returns the id.
fn verify(header: &str, prefix: &str, signer: &HmacSigner) -> Option<String> {
    let raw = find_cookie(header, NAME)?;
    let value = raw.strip_prefix(prefix)?;
    match signer.unsign(value) {
        Unsigned::Valid { id, .. } if is_valid_id(&id) => Some(id),
        _ => None,
    }
}

fn cookie_verify(c: &mut Criterion) {
    let signer = HmacSigner::new([SECRET]).expect("valid secret");
    let id = random_id();
    let signed = signer.sign(&id);

    // fastify style: no prefix, the value sent as is (`/` and `+` are cookie octets).
    let plain = header_with(&signed);
    // express-session style: prefix `s:`, percent-encoded by the client library.
    let express = header_with(&format!(
        "s%3A{}",
        signed.replace('/', "%2F").replace('+', "%2B")
    ));
    // A forged value: right id, signature of another secret.
    let forged = header_with(
        &HmacSigner::new(["another secret, thirty-two bytes!!"])
            .expect("valid secret")
            .sign(&id),
    );
    assert_eq!(verify(&plain, "", &signer).as_deref(), Some(id.as_str()));
    assert_eq!(
        verify(&express, "s:", &signer).as_deref(),
        Some(id.as_str())
    );
    assert_eq!(verify(&forged, "", &signer), None);

    let mut g = c.benchmark_group("cookie_verify");
    g.bench_function("valid", |b| {
        b.iter(|| verify(black_box(&plain), "", &signer))
    });
    g.bench_function("valid_express_prefix_encoded", |b| {
        b.iter(|| verify(black_box(&express), "s:", &signer))
    });
    g.bench_function("invalid_signature", |b| {
        b.iter(|| verify(black_box(&forged), "", &signer))
    });
    g.bench_function("find_cookie_only", |b| {
        b.iter(|| find_cookie(black_box(&plain), NAME))
    });
    g.finish();
}

fn sign_and_set_cookie(c: &mut Criterion) {
    let signer = HmacSigner::new([SECRET]).expect("valid secret");
    let id = random_id();
    let expires = SystemTime::now() + Duration::from_secs(24 * 3600);
    let attrs = CookieAttributes {
        domain: None,
        path: "/",
        expires: Some(expires),
        http_only: true,
        secure: true,
        partitioned: false,
        same_site: Some(SameSite::Lax),
    };

    let mut g = c.benchmark_group("sign_and_set_cookie");
    g.bench_function("sign_only", |b| b.iter(|| signer.sign(black_box(&id))));
    g.bench_function("sign_and_set_cookie", |b| {
        b.iter(|| {
            let signed = signer.sign(black_box(&id));
            set_cookie(NAME, &signed, black_box(&attrs))
        })
    });
    // `set_cookie` caches the formatted date per thread for one second; here
    // every call is a new second, so the date is formatted each time.
    let mut second = 0u64;
    g.bench_function("sign_and_set_cookie_new_second", |b| {
        b.iter(|| {
            second += 1;
            let attrs = CookieAttributes {
                expires: Some(expires + Duration::from_secs(second)),
                ..attrs
            };
            let signed = signer.sign(black_box(&id));
            set_cookie(NAME, &signed, black_box(&attrs))
        })
    });
    g.finish();
}

/// A realistic `Cookie` header for the crate-vs-hand comparison: five
/// cookies, the session cookie (express style, `s%3A`, percent-encoded by
/// the client) in the middle, and one double-quoted value before it.
fn mixed_header(signed: &str) -> String {
    format!(
        "_ga=GA1.2.1234567890.1700000000; theme=\"dark\"; \
         {NAME}=s%3A{}; lang=en-GB; csrf_token=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg",
        signed.replace('/', "%2F").replace('+', "%2B")
    )
}

/// The crate finding the session cookie with the runtime's semantics: the
/// first cookie named `name`, one pair of double quotes trimmed, then
/// percent-decoded (as @fastify/session's `cookie` package does).
fn crate_find_split_parse(header: &str, name: &str) -> Option<String> {
    let c = cookie::Cookie::split_parse(header)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)?;
    let v = percent_encoding::percent_decode_str(c.value_trimmed())
        .decode_utf8()
        .ok()?;
    Some(v.into_owned())
}

/// The same with the crate's own percent-decoding (`split_parse_encoded`
/// decodes every name and value, then the quotes are trimmed).
fn crate_find_split_parse_encoded(header: &str, name: &str) -> Option<String> {
    let c = cookie::Cookie::split_parse_encoded(header)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)?;
    Some(c.value_trimmed().to_owned())
}

fn crate_vs_hand_parse(c: &mut Criterion) {
    let signer = HmacSigner::new([SECRET]).expect("valid secret");
    let signed = signer.sign(&random_id());
    let header = mixed_header(&signed);
    let want = format!("s:{signed}");
    assert_eq!(find_cookie(&header, NAME).as_deref(), Some(want.as_str()));
    assert_eq!(
        crate_find_split_parse(&header, NAME).as_deref(),
        Some(want.as_str())
    );
    assert_eq!(
        crate_find_split_parse_encoded(&header, NAME).as_deref(),
        Some(want.as_str())
    );
    // Both return an owned value here: the session value is percent-encoded.
    assert!(matches!(find_cookie(&header, NAME), Some(Cow::Owned(_))));

    let mut g = c.benchmark_group("crate_vs_hand_parse");
    g.bench_function("hand_find_cookie", |b| {
        b.iter(|| find_cookie(black_box(&header), black_box(NAME)))
    });
    g.bench_function("crate_split_parse", |b| {
        b.iter(|| crate_find_split_parse(black_box(&header), black_box(NAME)))
    });
    g.bench_function("hand_find_cookie_again", |b| {
        b.iter(|| find_cookie(black_box(&header), black_box(NAME)))
    });
    g.bench_function("crate_split_parse_encoded", |b| {
        b.iter(|| crate_find_split_parse_encoded(black_box(&header), black_box(NAME)))
    });
    g.finish();
}

/// The session `Set-Cookie` built with the crate: same attributes as
/// `set_cookie` (the crate writes them in its own order).
fn crate_set_cookie(name: &str, value: &str, a: &CookieAttributes<'_>) -> String {
    let mut b = cookie::Cookie::build((name, value))
        .path(a.path)
        .http_only(a.http_only)
        .secure(a.secure);
    if let Some(d) = a.domain {
        b = b.domain(d);
    }
    if let Some(t) = a.expires {
        b = b.expires(cookie::time::OffsetDateTime::from(t));
    }
    if let Some(s) = a.same_site {
        b = b.same_site(match s {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            _ => cookie::SameSite::None,
        });
    }
    b.build().to_string()
}

fn crate_vs_hand_set_cookie(c: &mut Criterion) {
    let signer = HmacSigner::new([SECRET]).expect("valid secret");
    let signed = signer.sign(&random_id());
    let expires = SystemTime::now() + Duration::from_secs(24 * 3600);
    let attrs = CookieAttributes {
        domain: Some("example.com"),
        path: "/",
        expires: Some(expires),
        http_only: true,
        secure: true,
        partitioned: false,
        same_site: Some(SameSite::Lax),
    };
    // Same cookie, attributes in another order.
    let sorted = |s: &str| {
        let mut parts: Vec<String> = s.split("; ").map(str::to_owned).collect();
        parts.sort();
        parts
    };
    assert_eq!(
        sorted(&set_cookie(NAME, &signed, &attrs)),
        sorted(&crate_set_cookie(NAME, &signed, &attrs))
    );

    let mut g = c.benchmark_group("crate_vs_hand_set_cookie");
    // Same second: the hand-written formatter reuses its cached date (a busy
    // server's common case); the crate formats the date every time.
    g.bench_function("hand_same_second", |b| {
        b.iter(|| set_cookie(NAME, black_box(&signed), black_box(&attrs)))
    });
    g.bench_function("crate_same_second", |b| {
        b.iter(|| crate_set_cookie(NAME, black_box(&signed), black_box(&attrs)))
    });
    let mut second = 0u64;
    g.bench_function("hand_new_second", |b| {
        b.iter(|| {
            second += 1;
            let attrs = CookieAttributes {
                expires: Some(expires + Duration::from_secs(second)),
                ..attrs
            };
            set_cookie(NAME, black_box(&signed), black_box(&attrs))
        })
    });
    g.bench_function("crate_new_second", |b| {
        b.iter(|| {
            second += 1;
            let attrs = CookieAttributes {
                expires: Some(expires + Duration::from_secs(second)),
                ..attrs
            };
            crate_set_cookie(NAME, black_box(&signed), black_box(&attrs))
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = cookie_verify, sign_and_set_cookie, crate_vs_hand_parse, crate_vs_hand_set_cookie
}
criterion_main!(benches);
