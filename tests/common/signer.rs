//! An independent implementation of the cookie signature of the contract:
//! `<id>.<base64(HMAC-SHA256(secret, id))>` with standard base64 and no
//! `=` padding (the @fastify/cookie / cookie-signature scheme).

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The signature part only.
pub fn signature(secret: &str, id: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(id.as_bytes());
    STANDARD_NO_PAD.encode(mac.finalize().into_bytes())
}

/// `id + "." + signature` (no prefix).
pub fn sign(secret: &str, id: &str) -> String {
    format!("{id}.{}", signature(secret, id))
}

/// Does `sig` sign `id` under `secret`?
pub fn verify(secret: &str, id: &str, sig: &str) -> bool {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(id.as_bytes());
    match STANDARD_NO_PAD.decode(sig) {
        Ok(raw) => mac.verify_slice(&raw).is_ok(),
        Err(_) => false,
    }
}

/// A random id of the server's shape (24 random bytes, base64url, 32 chars)
/// that the server has never issued.
pub fn random_id() -> String {
    let mut bytes = [0u8; 24];
    fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Cheap non-cryptographic randomness for test inputs (no extra crate):
/// a xorshift seeded from the clock, the pid and a global counter.
pub fn fill_random(buf: &mut [u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut x = nanos
        ^ (std::process::id() as u64).rotate_left(32)
        ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    if x == 0 {
        x = 1;
    }
    for b in buf.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = (x >> 24) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors from the @fastify/session fixtures
    /// (shared/reference/fastify-session-behaviour.md, section 1.1).
    #[test]
    fn signer_known_answer_vectors() {
        assert_eq!(
            sign(
                "cNaoPYAwF60HZJzkcNaoPYAwF60HZJzk",
                "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN"
            ),
            "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN.B7fUDYXU9fXF9pNuL3qm4NVmSduLJ6kzCOPh5JhHGoE"
        );
        assert_eq!(
            sign(
                "cNaoPYAwF60HZJzkcNaoPYAwF60HZJzk",
                "aYb4uTIhdBXCfk_ylik4QN6-u26K0u0e"
            ),
            "aYb4uTIhdBXCfk_ylik4QN6-u26K0u0e.eiVu2YbrcqbTUYTYaANks/jn+jta7QgpsxLO+OLN/4U"
        );
        assert_eq!(
            sign("geheim", "aYb4uTIhdBXCfk_ylik4QN6-u26K0u0e"),
            "aYb4uTIhdBXCfk_ylik4QN6-u26K0u0e.InCp31AuDa7DX/8rGBz8RMFiCpmUtjcF+S7Aco7tur8"
        );
        assert!(verify(
            "cNaoPYAwF60HZJzkcNaoPYAwF60HZJzk",
            "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN",
            "B7fUDYXU9fXF9pNuL3qm4NVmSduLJ6kzCOPh5JhHGoE"
        ));
        assert!(!verify(
            "geheim",
            "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN",
            "B7fUDYXU9fXF9pNuL3qm4NVmSduLJ6kzCOPh5JhHGoE"
        ));
    }

    #[test]
    fn random_ids_have_the_server_shape() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
