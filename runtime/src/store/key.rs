use sha2::{Digest, Sha256};
use std::fmt;

/// The storage and routing key of a session: SHA-256 of its id.
///
/// The raw id exists only in the client's cookie and in the live actor's
/// memory; everything that is written down uses this hash.
///
/// ```
/// use livesession::store::SessionKey;
/// let a = SessionKey::of_id("abc");
/// assert_eq!(a, SessionKey::of_id("abc"));
/// assert_ne!(a, SessionKey::of_id("abd"));
/// assert_eq!(SessionKey::from_bytes(*a.as_bytes()), a);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey([u8; 32]);

impl SessionKey {
    /// Hashes a session id.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionKey;
    /// let key = SessionKey::of_id("the-session-id");
    /// assert_eq!(key.as_bytes().len(), 32);
    /// // Only a prefix of the hash shows in logs:
    /// assert!(format!("{key:?}").starts_with("SessionKey("));
    /// ```
    pub fn of_id(id: &str) -> Self {
        SessionKey(Sha256::digest(id.as_bytes()).into())
    }

    /// Rebuilds a key from its 32 bytes (as read back from a store).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionKey;
    /// let key = SessionKey::of_id("the-session-id");
    /// let stored: Vec<u8> = key.as_bytes().to_vec(); // as a backend writes it
    /// let read_back = SessionKey::from_bytes(stored.try_into().unwrap());
    /// assert_eq!(read_back, key);
    /// ```
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SessionKey(bytes)
    }

    /// The 32 bytes of the hash.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionKey;
    /// let key = SessionKey::of_id("the-session-id");
    /// // A backend's key for the record, e.g. hex in a key-value store:
    /// let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    /// assert_eq!(hex.len(), 64);
    /// ```
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Short prefix only: enough to correlate log lines, useless to an attacker.
        write!(f, "SessionKey(")?;
        for b in &self.0[..6] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "..)")
    }
}
