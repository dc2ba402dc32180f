//! Cookie signatures: HMAC-SHA256 (or SHA-512), byte-compatible with
//! @fastify/session and express-session (`<id>.<base64 sig without padding>`).

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use constant_time_eq::constant_time_eq;
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

type HmacSha256 = Hmac<Sha256>;
type HmacSha512 = Hmac<Sha512>;

/// The HMAC hash (fastify's `algorithm` option).
///
/// # Examples
///
/// ```
/// use livesession::signing::{Algorithm, HmacSigner, Signer};
/// assert_eq!(Algorithm::default(), Algorithm::Sha256);
/// let sha512 = HmacSigner::with_algorithm(["a secret"], Algorithm::Sha512).unwrap();
/// let value = sha512.sign("some-id");
/// let (_, signature) = value.rsplit_once('.').unwrap();
/// assert_eq!(signature.len(), 86);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC-SHA256: 43-character signatures. The default, and express-session's.
    #[default]
    Sha256,
    /// HMAC-SHA512: 86-character signatures.
    Sha512,
}

/// The outcome of checking a signed cookie value.
///
/// # Examples
///
/// ```
/// use livesession::signing::{HmacSigner, Signer, Unsigned};
/// let signer = HmacSigner::new(["a secret of at least thirty-two bytes!"]).unwrap();
/// match signer.unsign(&signer.sign("some-id")) {
///     Unsigned::Valid { id, renew } => assert_eq!((id.as_str(), renew), ("some-id", false)),
///     Unsigned::Invalid => unreachable!(),
/// }
/// assert_eq!(signer.unsign("some-id.forged"), Unsigned::Invalid);
/// ```
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
/// schemes (fastify's signer object with `sign` / `unsign`) and hand it to
/// [`SessionConfigBuilder::signer`](crate::SessionConfigBuilder::signer);
/// the default is an [`HmacSigner`] over the configured secrets.
///
/// The runtime calls [`sign`](Self::sign) once per session id it issues,
/// puts the configured cookie prefix (empty by default) in front and sends
/// the result as is, so it must consist of cookie-value characters (no
/// white space, `;`, `,`, `"` or control characters). It calls
/// [`unsign`](Self::unsign) with the value of each incoming session cookie,
/// prefix stripped and percent-decoded; an id it returns that the runtime
/// could not have issued (ASCII letters, digits, `-` and `_`) is ignored.
///
/// # Examples
///
/// A signer that wraps [`HmacSigner`] and also accepts the cookies of a
/// legacy scheme, asking for them to be re-signed:
///
/// ```
/// use livesession::signing::{HmacSigner, Signer, Unsigned};
/// use livesession::SessionConfig;
///
/// struct Migrating {
///     hmac: HmacSigner,
/// }
///
/// impl Signer for Migrating {
///     fn sign(&self, id: &str) -> String {
///         self.hmac.sign(id)
///     }
///
///     fn unsign(&self, value: &str) -> Unsigned {
///         match value.strip_prefix("legacy:") {
///             // `renew: true`: the response carries the id signed by `sign`.
///             Some(id) if is_known_legacy_id(id) => Unsigned::Valid { id: id.to_owned(), renew: true },
///             Some(_) => Unsigned::Invalid,
///             None => self.hmac.unsign(value),
///         }
///     }
/// }
/// # fn is_known_legacy_id(id: &str) -> bool { id.len() == 32 }
///
/// let signer = Migrating { hmac: HmacSigner::new(["a secret of at least thirty-two bytes!"]).unwrap() };
/// let id = "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN";
/// assert_eq!(signer.unsign(&signer.sign(id)), Unsigned::Valid { id: id.into(), renew: false });
/// assert_eq!(signer.unsign(&format!("legacy:{id}")), Unsigned::Valid { id: id.into(), renew: true });
/// let config = SessionConfig::builder().signer(signer).build();
/// assert!(config.is_ok());
/// ```
pub trait Signer: Send + Sync + 'static {
    /// Returns the signed value for `id` (without any cookie prefix).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::signing::{HmacSigner, Signer};
    /// let signer = HmacSigner::new(["a secret of at least thirty-two bytes!"]).unwrap();
    /// let value = signer.sign("some-id");
    /// assert!(value.starts_with("some-id."));
    /// ```
    fn sign(&self, id: &str) -> String;

    /// Checks a signed value (prefix already stripped, percent-decoding done).
    ///
    /// # Examples
    ///
    /// A value signed by an older secret is valid, and asks for renewal:
    ///
    /// ```
    /// use livesession::signing::{HmacSigner, Signer, Unsigned};
    /// let old = HmacSigner::new(["the secret used until last week...."]).unwrap();
    /// let rotated = HmacSigner::new(["the secret used from now on........", "the secret used until last week...."]).unwrap();
    /// let value = old.sign("some-id");
    /// assert_eq!(rotated.unsign(&value), Unsigned::Valid { id: "some-id".into(), renew: true });
    /// assert_eq!(rotated.unsign("some-id.AAAA"), Unsigned::Invalid);
    /// ```
    fn unsign(&self, value: &str) -> Unsigned;
}

/// HMAC signer with rotation: the first secret signs, all verify.
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
    keys: Keys,
}

#[derive(Clone)]
enum Keys {
    Sha256(Vec<HmacSha256>),
    Sha512(Vec<HmacSha512>),
}

impl std::fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (alg, n) = match &self.keys {
            Keys::Sha256(k) => ("sha256", k.len()),
            Keys::Sha512(k) => ("sha512", k.len()),
        };
        write!(f, "HmacSigner({alg}, {n} secrets)")
    }
}

impl HmacSigner {
    /// An HMAC-SHA256 signer over `secrets`, first one signing; the others
    /// only verify (secret rotation). Length rules live in the config
    /// builder ([`MIN_SECRET_LEN`](crate::config::MIN_SECRET_LEN)), not here.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::signing::{HmacSigner, Signer, Unsigned};
    /// let signer = HmacSigner::new(["new secret", "previous secret"]).unwrap();
    /// let value = signer.sign("some-id");
    /// assert_eq!(signer.unsign(&value), Unsigned::Valid { id: "some-id".into(), renew: false });
    /// ```
    ///
    /// # Errors
    ///
    /// A message when `secrets` is empty or one of them is empty:
    ///
    /// ```
    /// use livesession::signing::HmacSigner;
    /// assert!(HmacSigner::new(Vec::<String>::new()).is_err());
    /// assert!(HmacSigner::new(["a secret", ""]).is_err());
    /// ```
    pub fn new<I, S>(secrets: I) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        Self::with_algorithm(secrets, Algorithm::Sha256)
    }

    /// A signer over `secrets` (first one signing) with the given HMAC hash.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::signing::{Algorithm, HmacSigner, Signer, Unsigned};
    /// let signer = HmacSigner::with_algorithm(["a secret"], Algorithm::Sha512).unwrap();
    /// let value = signer.sign("some-id");
    /// assert_eq!(value.len(), "some-id.".len() + 86); // 64 bytes, base64 without padding
    /// assert!(matches!(signer.unsign(&value), Unsigned::Valid { renew: false, .. }));
    /// ```
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new): a message when `secrets` is empty or one of
    /// them is empty.
    ///
    /// ```
    /// use livesession::signing::{Algorithm, HmacSigner};
    /// assert!(HmacSigner::with_algorithm([""], Algorithm::Sha512).is_err());
    /// ```
    pub fn with_algorithm<I, S>(secrets: I, algorithm: Algorithm) -> Result<Self, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let secrets: Vec<S> = secrets.into_iter().collect();
        if secrets.is_empty() {
            return Err("at least one secret is required".into());
        }
        if secrets.iter().any(|s| s.as_ref().is_empty()) {
            return Err("a secret must not be empty".to_string());
        }
        fn keyed<M: Mac + hmac::digest::KeyInit, S: AsRef<[u8]>>(
            secrets: &[S],
        ) -> Result<Vec<M>, String> {
            secrets
                .iter()
                .map(|s| <M as Mac>::new_from_slice(s.as_ref()).map_err(|e| e.to_string()))
                .collect()
        }
        let keys = match algorithm {
            Algorithm::Sha256 => Keys::Sha256(keyed(&secrets)?),
            Algorithm::Sha512 => Keys::Sha512(keyed(&secrets)?),
        };
        Ok(HmacSigner { keys })
    }
}

/// Signs with the first key; checks against every key in constant time,
/// without early exit, so the time taken does not tell which secret (if any)
/// matched.
fn sign_with<M: Mac + Clone>(keys: &[M], id: &str) -> String {
    let mut mac = keys[0].clone();
    mac.update(id.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut out = String::with_capacity(id.len() + 1 + tag.len() * 4 / 3 + 1);
    out.push_str(id);
    out.push('.');
    STANDARD_NO_PAD.encode_string(tag, &mut out);
    out
}

fn unsign_with<M: Mac + Clone>(keys: &[M], value: &str, tag_len: usize) -> Unsigned {
    let Some(dot) = value.rfind('.') else {
        return Unsigned::Invalid;
    };
    let (id, sig) = (&value[..dot], &value[dot + 1..]);
    let sig_len = (tag_len * 4).div_ceil(3);
    if id.is_empty() || sig.len() != sig_len {
        return Unsigned::Invalid;
    }
    let mut given = [0u8; 66];
    let given = match STANDARD_NO_PAD.decode_slice(sig, &mut given) {
        Ok(n) if n == tag_len => &given[..tag_len],
        _ => return Unsigned::Invalid,
    };
    let mut matched: Option<usize> = None;
    for (i, key) in keys.iter().enumerate() {
        let mut mac = key.clone();
        mac.update(id.as_bytes());
        let ok = constant_time_eq(mac.finalize().into_bytes().as_slice(), given);
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

impl Signer for HmacSigner {
    fn sign(&self, id: &str) -> String {
        match &self.keys {
            Keys::Sha256(k) => sign_with(k, id),
            Keys::Sha512(k) => sign_with(k, id),
        }
    }

    fn unsign(&self, value: &str) -> Unsigned {
        match &self.keys {
            Keys::Sha256(k) => unsign_with(k, value, 32),
            Keys::Sha512(k) => unsign_with(k, value, 64),
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
    fn sha512_vector() {
        let s = HmacSigner::with_algorithm([SECRET], Algorithm::Sha512).unwrap();
        let v = s.sign(ID1);
        assert_eq!(
            v,
            "Qk_XT2K7-clT-x1tVvoY6tIQ83iP72KN.0CCOVlVx4IaEoYbYpMPxgrjNOiHXOFMsbnOMEV1NZBHQf1i/UhVxpa2505ISVnas1H+knntsWSUEkNThlcGm9g"
        );
        assert!(matches!(s.unsign(&v), Unsigned::Valid { renew: false, .. }));
        let sha256 = HmacSigner::new([SECRET]).unwrap();
        assert_eq!(sha256.unsign(&v), Unsigned::Invalid);
        assert_eq!(s.unsign(&sha256.sign(ID1)), Unsigned::Invalid);
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
