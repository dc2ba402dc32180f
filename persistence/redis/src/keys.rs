//! The Redis key layout. No key or value holds a raw session id or a raw
//! user name: sessions are named by their [`SessionKey`] (SHA-256 of the
//! id) and users by the SHA-256 of the name.

use livesession::store::SessionKey;
use sha2::{Digest, Sha256};

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses 64 hex digits back into a key; `None` for anything else.
pub(crate) fn parse_key(text: &[u8]) -> Option<SessionKey> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if text.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (i, pair) in text.chunks_exact(2).enumerate() {
        bytes[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(SessionKey::from_bytes(bytes))
}

/// The tag of a user: hex of the SHA-256 of the name. Stored in a session's
/// `u` field and part of the user index's key.
pub(crate) fn user_tag(user: &str) -> String {
    hex(&Sha256::digest(user.as_bytes()))
}

/// Builds the keys of one store (one prefix).
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub(crate) fn new(prefix: String) -> Self {
        Keys { prefix }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `{prefix}s:{<hex key>}`: the session's hash.
    pub(crate) fn session(&self, member: &str) -> String {
        format!("{}s:{{{member}}}", self.prefix)
    }

    /// `{prefix}u:{<user tag>}`: the sorted set of a user's sessions.
    pub(crate) fn user(&self, tag: &str) -> String {
        format!("{}u:{{{tag}}}", self.prefix)
    }

    /// `{prefix}index`: the sorted set that `count` reads.
    pub(crate) fn index(&self) -> String {
        format!("{}index", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_keys() {
        let key = SessionKey::of_id("some id");
        let text = hex(key.as_bytes());
        assert_eq!(text.len(), 64);
        assert!(text
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(parse_key(text.as_bytes()), Some(key));
        assert_eq!(parse_key(text.to_uppercase().as_bytes()), Some(key));
        assert_eq!(parse_key(b"abc"), None);
        assert_eq!(parse_key(&[b'g'; 64]), None);
    }

    #[test]
    fn layout() {
        let keys = Keys::new("app:".into());
        assert_eq!(keys.session("ab"), "app:s:{ab}");
        assert_eq!(keys.user("cd"), "app:u:{cd}");
        assert_eq!(keys.index(), "app:index");
        assert_eq!(
            user_tag("alice"),
            "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90"
        );
    }
}
