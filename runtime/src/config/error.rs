//! What `build()` reports when a setting is invalid.

/// A configuration error, reported by [`SessionConfigBuilder::build`](super::SessionConfigBuilder::build).
///
/// # Examples
///
/// ```
/// use livesession::{ConfigError, SessionConfig};
/// let err = SessionConfig::builder().secret("too short").build().unwrap_err();
/// assert!(matches!(err, ConfigError::SecretTooShort { len: 9, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No secret, list of secrets or signer was given.
    #[error(
        "invalid session configuration: a secret (or a list of secrets, or a signer) is required"
    )]
    MissingSecret,
    /// The signing (first) secret is shorter than `min` bytes.
    #[error("invalid session configuration: the signing secret must be at least {min} bytes long (got {len})")]
    SecretTooShort {
        /// Its length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// A secret of the list is unusable (e.g. empty).
    #[error("invalid session configuration: {0}")]
    InvalidSecret(String),
    /// The cookie name is not an RFC 7230 token.
    #[error("invalid session configuration: invalid cookie name {0:?}")]
    CookieName(String),
    /// The cookie prefix holds characters a cookie value cannot.
    #[error("invalid session configuration: invalid cookie prefix {0:?}: only cookie-safe characters are allowed")]
    CookiePrefix(String),
    /// The cookie path does not start with `/` or cannot be an attribute.
    #[error("invalid session configuration: invalid cookie path {0:?}: it must start with '/'")]
    CookiePath(String),
    /// The cookie domain cannot be an attribute.
    #[error("invalid session configuration: invalid cookie domain {0:?}")]
    CookieDomain(String),
    /// A duration that must be positive is zero (its option's name).
    #[error("invalid session configuration: {0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// `SameSite=None` without `Secure`, which browsers reject.
    #[error(
        "invalid session configuration: SameSite=None requires Secure (use secure true or auto)"
    )]
    SameSiteNoneWithoutSecure,
    /// The id generator returned an id that is not 1..=256 chars of
    /// `A-Za-z0-9-_`.
    #[error("invalid session configuration: the id generator returned {0:?}: ids must be 1..=256 chars of A-Za-z0-9-_")]
    IdGenerator(String),
    /// `max_live_sessions` is zero: no session could ever be used.
    #[error("invalid session configuration: max live sessions must be at least 1")]
    ZeroLiveSessions,
}
