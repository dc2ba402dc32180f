//! The cookie half of the per-request hot path, without the runtime:
//!
//! * `cookie_verify`: find the session cookie in a realistic `Cookie` header,
//!   strip the prefix, check the HMAC signature and the id's shape (what
//!   `SessionManager::start` + the first session access do before the registry
//!   lookup).
//! * `sign_and_set_cookie`: sign the id and format the `Set-Cookie` value with
//!   `Expires` (what `Session::finish` does for a rolling session), with the
//!   formatted date cached (same second) and not (a new second every call).
//!
//! `cargo bench -p livesession-benches --bench cookie`

use criterion::{criterion_group, criterion_main, Criterion};
use livesession::cookie::{find_cookie, set_cookie, CookieAttributes};
use livesession::id::{is_valid_id, random_id};
use livesession::signing::{HmacSigner, Signer, Unsigned};
use livesession::SameSite;
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

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = cookie_verify, sign_and_set_cookie
}
criterion_main!(benches);
