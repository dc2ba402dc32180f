//! Size limits of one session, checked on every change.

/// Size limits of one session. Exceeding one fails the change with
/// [`SessionError::LimitExceeded`](crate::SessionError::LimitExceeded) and
/// leaves the session as it was.
///
/// # Examples
///
/// ```
/// use livesession::{Limits, SessionConfig};
/// let limits = Limits::default().max_keys(64).max_key_bytes(32);
/// assert_eq!(limits.max_session_bytes, 4 * 1024 * 1024);
/// let config = SessionConfig::builder()
///     .secret("a secret of at least thirty-two bytes!")
///     .limits(limits)
///     .build();
/// assert!(config.is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest session data, in bytes of its JSON encoding. Default 4 MiB.
    pub max_session_bytes: usize,
    /// Most keys in one session. Default 1024.
    pub max_keys: usize,
    /// Longest key, in bytes. Default 256.
    pub max_key_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_session_bytes: 4 * 1024 * 1024,
            max_keys: 1024,
            max_key_bytes: 256,
        }
    }
}

impl Limits {
    /// Checks session data against the limits.
    pub(crate) fn check(
        &self,
        data: &crate::store::SessionData,
    ) -> Result<(), crate::SessionError> {
        use crate::SessionError::LimitExceeded;
        if data.len() > self.max_keys {
            return Err(LimitExceeded(format!(
                "a session holds at most {} keys",
                self.max_keys
            )));
        }
        if let Some(k) = data.keys().find(|k| k.len() > self.max_key_bytes) {
            return Err(LimitExceeded(format!(
                "session keys are at most {} bytes (got {})",
                self.max_key_bytes,
                k.len()
            )));
        }
        let mut size = ByteCount(0);
        // Serializing a map of JSON values into a counter cannot fail.
        let _ = serde_json::to_writer(&mut size, data);
        if size.0 > self.max_session_bytes {
            return Err(LimitExceeded(format!(
                "session data is at most {} bytes of JSON (got {})",
                self.max_session_bytes, size.0
            )));
        }
        Ok(())
    }

    /// Sets the largest session data in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::Limits;
    /// let limits = Limits::default().max_session_bytes(64 * 1024);
    /// assert_eq!(limits.max_session_bytes, 64 * 1024);
    /// ```
    pub fn max_session_bytes(mut self, bytes: usize) -> Self {
        self.max_session_bytes = bytes;
        self
    }

    /// Sets the most keys per session.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::Limits;
    /// assert_eq!(Limits::default().max_keys(16).max_keys, 16);
    /// ```
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// Sets the longest key in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::Limits;
    /// assert_eq!(Limits::default().max_key_bytes(40).max_key_bytes, 40);
    /// ```
    pub fn max_key_bytes(mut self, bytes: usize) -> Self {
        self.max_key_bytes = bytes;
        self
    }
}

/// Counts bytes written, storing nothing.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
