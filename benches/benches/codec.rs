//! The durable store's record encoding (`livesession::store::codec`, the
//! format the sled store writes): what each durable write and each
//! activation from disk pays on top of sled.
//!
//! The record is a typical logged-in session: 5 keys (a counter, a CSRF
//! token, a user id, a flash message and a nested cart object), a bound user,
//! an expiry and an absolute deadline.
//!
//! `cargo bench -p livesession-benches --bench codec`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use livesession::store::codec::{decode, encode};
use livesession::store::SessionRecord;
use serde_json::json;
use std::hint::black_box;
use std::time::Duration;

fn record() -> SessionRecord {
    let mut r = SessionRecord {
        user: Some("user-4711".into()),
        created_at_ms: 1_760_000_000_000,
        expires_at_ms: Some(1_760_086_400_000),
        absolute_deadline_ms: Some(1_760_604_800_000),
        ..SessionRecord::default()
    };
    r.data.insert("n".into(), json!(42));
    r.data
        .insert("csrf".into(), json!("0123456789abcdef0123456789abcdef"));
    r.data.insert("userId".into(), json!(4711));
    r.data
        .insert("flash".into(), json!({"level": "info", "text": "Saved."}));
    r.data.insert(
        "cart".into(),
        json!({
            "items": [
                {"sku": "A-100", "qty": 2, "price": 19.99},
                {"sku": "B-200", "qty": 1, "price": 5.5, "gift": true},
                {"sku": "C-300", "qty": 3, "price": 0.99, "note": null}
            ],
            "currency": "EUR",
            "coupon": null
        }),
    );
    r
}

fn codec(c: &mut Criterion) {
    let rec = record();
    let bytes = encode(&rec).expect("encode");
    assert_eq!(decode(&bytes).expect("decode"), rec);

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode", |b| {
        b.iter(|| encode(black_box(&rec)).expect("encode"))
    });
    g.bench_function("decode", |b| {
        b.iter(|| decode(black_box(&bytes)).expect("decode"))
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
    targets = codec
}
criterion_main!(benches);
