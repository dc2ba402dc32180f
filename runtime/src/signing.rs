//! Cookie signatures: HMAC-SHA256, byte-compatible with @fastify/session and
//! express-session (`<id>.<base64 sig without padding>`).

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The outcome of checking a signed cookie value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsigned {
    /// The signature is valid. `renew` is true when a non-first secret matched,
    /// so the response must carry the value re-signed with the first secret.
    Valid {
        /// The session id the value carries.
        id: String,
        /// Whether the value was signed by an older secret.
        renew: bool,
    },
    /// Not signed by any known secret, or malformed.
    Invalid,
}

/// Signs session ids and checks signed values. Bring your own for custom
/// schemes (fastify's signer object with `sign` / `unsign`).
pub trait Signer: Send + Sync + 'static {
    /// Returns the signed value for `id` (without any cookie prefix).
    fn sign(&self, id: &str) -> String;
    /// Checks a signed value (prefix already stripped, percent-decoding done).
    fn unsign(&self, value: &str) -> Unsigned;
}

/// HMAC-SHA256 signer with rotation: the first secret signs, all verify.
///
/// ```
/// use livesession::signing::{HmacSigner, Signer, Unsigned};
/// let signer = HmacSigner::new(["cNaoPYAwF60HZJzkcNaoPYAwF60HZJzk"]).unwrap();
/// let v = signer.sign("Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN");
/// assert_eq!(v, "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN.B7fUDYXU9fXF9pNuL3qm4NVmSduLJ6kzCOPh5JhHGoE");
/// assert!(matches!(signer.unsign(&v), Unsigned::Valid { renew: false, .. }));
/// ```
#[derive(Clone)]
pub struct HmacSigner {
    /// Keyed MAC states, cloned per use so the key schedule runs once.
    keys: Vec<HmacSha256>,
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacSigner({} secrets)", self.keys.len())
    }
}

/// Length of a base64 (no padding) HMAC-SHA256 signature.
const SIG_LEN: usize = 43;

impl HmacSigner {
    /// A signer over `secrets`, first one signing. Fails when the list is
    /// empty or a secret is empty. (Length rules live in the config builder.)
    pub fn new<I, S>(secrets: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let keys = secrets
            .into_iter()
            .map(|s| {
                let s = s.as_ref();
                if s.is_empty() {
                    return Err("a secret must not be empty".to_string());
                }
                HmacSha256::new_from_slice(s).map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        if keys.is_empty() {
            return Err("at least one secret is required".into());
        }
        Ok(HmacSigner { keys })
    }

    fn mac(key: &HmacSha256, id: &str) -> [u8; 32] {
        let mut mac = key.clone();
        mac.update(id.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl Signer for HmacSigner {
    fn sign(&self, id: &str) -> String {
        let mac = Self::mac(&self.keys[0], id);
        let mut out = String::with_capacity(id.len() + 1 + SIG_LEN);
        out.push_str(id);
        out.push('.');
        STANDARD_NO_PAD.encode_string(mac, &mut out);
        out
    }

    fn unsign(&self, value: &str) -> Unsigned {
        let Some(dot) = value.rfind('.') else {
            return Unsigned::Invalid;
        };
        let (id, sig) = (&value[..dot], &value[dot + 1..]);
        if id.is_empty() || sig.len() != SIG_LEN {
            return Unsigned::Invalid;
        }
        let mut given = [0u8; 33];
        let given = match STANDARD_NO_PAD.decode_slice(sig, &mut given) {
            Ok(32) => &given[..32],
            _ => return Unsigned::Invalid,
        };
        // Every key is tried and the outcome combined without early exit, so the
        // time taken does not tell which secret (if any) matched.
        let mut matched: Option<usize> = None;
        for (i, key) in self.keys.iter().enumerate() {
            let ok: bool = Self::mac(key, id).ct_eq(given).into();
            if ok && matched.is_none() {
                matched = Some(i);
            }
        }
        match matched {
            Some(i) => Unsigned::Valid {
                id: id.to_string(),
                renew: i != 0,
            },
            None => Unsigned::Invalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID1: &str = "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN";
    const ID2: &str = "aYb4uTIhdBXCfk_ylik4QN6-u26K0u0e";
    const SECRET: &str = "cNaoPYAwF60HZJzkcNaoPYAwF60HZJzk";

    #[test]
    fn known_answer_vectors() {
        let s = HmacSigner::new([SECRET]).unwrap();
        assert_eq!(
            s.sign(ID1),
            "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN.B7fUDYXU9fXF9pNuL3qm4NVmSduLJ6kzCOPh5JhHGoE"
        );
        assert_eq!(
            s.sign(ID2),
            "aYb4uTIhdBXCfk_ylik4QN6-u26K0u0e.eiVu2YbrcqbTUYTYaANks/jn+jta7QgpsxLO+OLN/4U"
        );
        let g = HmacSigner::new(["geheim"]).unwrap();
        assert_eq!(
            g.sign(ID2),
            "aYb4uTIhdBXCfk_ylik4QN6-u26K0u0e.InCp31AuDa7DX/8rGBz8RMFiCpmUtjcF+S7Aco7tur8"
        );
    }

    #[test]
    fn rotation_verifies_old_and_asks_for_renewal() {
        let old = HmacSigner::new(["geheim"]).unwrap();
        let rotated = HmacSigner::new([SECRET, "geheim"]).unwrap();
        let v = old.sign(ID2);
        assert_eq!(
            rotated.unsign(&v),
            Unsigned::Valid {
                id: ID2.into(),
                renew: true
            }
        );
        assert_eq!(
            rotated.unsign(&rotated.sign(ID2)),
            Unsigned::Valid {
                id: ID2.into(),
                renew: false
            }
        );
    }

    #[test]
    fn rejects_tampering_and_garbage() {
        let s = HmacSigner::new([SECRET]).unwrap();
        let v = s.sign(ID1);
        let mut tampered = v.clone().into_bytes();
        tampered[3] ^= 1;
        for bad in [
            String::from_utf8(tampered).unwrap(),
            ID1.to_string(),
            format!("{ID1}."),
            format!(".{}", &v[ID1.len() + 1..]),
            format!("{v}="),
            format!("{ID1}.{}", "A".repeat(43)),
            "x".repeat(10_000),
            String::new(),
            "é.é".into(),
        ] {
            assert_eq!(s.unsign(&bad), Unsigned::Invalid, "accepted {bad:?}");
        }
        assert_eq!(
            HmacSigner::new(["another secret entirely........"])
                .unwrap()
                .unsign(&v),
            Unsigned::Invalid
        );
    }

    #[test]
    fn refuses_empty_secret_lists() {
        assert!(HmacSigner::new(Vec::<String>::new()).is_err());
        assert!(HmacSigner::new([""]).is_err());
    }
}
