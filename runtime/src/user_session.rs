//! What [`SessionManager::sessions_of_user`](crate::SessionManager::sessions_of_user)
//! reports about one session of a user ("your devices"), and the handle that
//! names it.

use crate::store::SessionKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// One unexpired session bound to a user, as listed by
/// [`SessionManager::sessions_of_user`](crate::SessionManager::sessions_of_user):
/// what a "your devices" page shows, with a handle to end it by
/// ([`SessionManager::end_session_of_user`](crate::SessionManager::end_session_of_user)).
///
/// Times are Unix milliseconds by the configured clock.
///
/// ```
/// use livesession::{RequestInfo, SessionConfig, SessionManager};
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SessionManager::new(
///     SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap(),
/// );
/// // alice logs in on two devices
/// for _ in 0..2 {
///     let session = manager.start(&RequestInfo { path: "/", ..Default::default() });
///     session.bind_user("alice").await.unwrap();
///     session.finish().await.unwrap();
/// }
/// let devices = manager.sessions_of_user("alice").await.unwrap();
/// assert_eq!(devices.len(), 2);
/// let device = &devices[0]; // the newest
/// assert!(device.created_at_ms <= device.last_seen_at_ms);
/// assert!(device.expires_at_ms.is_some()); // 24 h idle timeout by default
///
/// // "log out that device"
/// assert!(manager.end_session_of_user("alice", &device.handle).await.unwrap());
/// assert_eq!(manager.sessions_of_user("alice").await.unwrap().len(), 1);
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserSession {
    /// Names the session to [`end_session_of_user`]: 22 URL-safe base64
    /// characters, the same on every process sharing the store and across
    /// restarts. It is not the id, its signature or the store key, and cannot
    /// be turned into a cookie: showing it to the user (or in a URL) gives
    /// nobody access to the session.
    ///
    /// [`end_session_of_user`]: crate::SessionManager::end_session_of_user
    pub handle: String,
    /// When this session id was created (a login that regenerates the id
    /// starts a new one).
    pub created_at_ms: u64,
    /// When a request last loaded the session, as far as this process knows:
    ///
    /// * live in this process (without a shared store): exactly its idle
    ///   clock, the time of its last load;
    /// * only in the store (passivated, or written before a restart): derived
    ///   from the stored record, `expires_at_ms - max age` when the stored
    ///   expiry is the idle end. That is the last load when the record was
    ///   last written (at passivation or shutdown: exact; after a crash, up
    ///   to a quarter of the max age earlier). Where the expiry is not the
    ///   idle end (no max age, or the absolute deadline comes first) it is a
    ///   lower bound, and `created_at_ms` at the least;
    /// * on a shared store: the later of the last write to the record by any
    ///   process (derived as above) and the last load through this process.
    ///   Reads through other processes extend the session in the store
    ///   without rewriting the record, so other processes may answer an
    ///   earlier time.
    pub last_seen_at_ms: u64,
    /// When the session ends if nothing uses it until then (the earlier of
    /// the idle end and the absolute deadline); `None`: never (no max age,
    /// no fixed expiry, no absolute timeout). On a shared store it is
    /// computed from `last_seen_at_ms` as above, so it is the earliest the
    /// store may end the session: requests through other processes push the
    /// store's own expiry later.
    pub expires_at_ms: Option<u64>,
}

/// Domain separation of handles from every other use of the key's bytes.
const HANDLE_DOMAIN: &[u8] = b"livesession/user-session-handle/v1\0";

/// The handle of the session stored under `key`: URL-safe base64 (no
/// padding) of the first 16 bytes of SHA-256(domain || key). A function of
/// the key alone, so every process and every restart agrees on it; one-way,
/// so it reveals neither the key nor the id.
pub(crate) fn handle_of(key: &SessionKey) -> String {
    let mut hash = Sha256::new();
    hash.update(HANDLE_DOMAIN);
    hash.update(key.as_bytes());
    URL_SAFE_NO_PAD.encode(&hash.finalize()[..16])
}

#[cfg(test)]
mod tests {
    use super::handle_of;
    use crate::store::SessionKey;

    #[test]
    fn handles_are_stable_distinct_and_not_the_key() {
        let a = SessionKey::of_id("session-a");
        let b = SessionKey::of_id("session-b");
        assert_eq!(handle_of(&a), handle_of(&SessionKey::of_id("session-a")));
        assert_ne!(handle_of(&a), handle_of(&b));
        let h = handle_of(&a);
        assert_eq!(h.len(), 22);
        assert!(h
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        use base64::Engine;
        let key_b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(a.as_bytes());
        assert!(
            !key_b64.starts_with(&h),
            "the handle is a prefix of the key"
        );
    }
}
