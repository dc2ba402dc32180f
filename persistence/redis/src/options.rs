//! [`RedisOptions`]: how a [`RedisStore`] connects and names its keys.

#[cfg(doc)]
use crate::RedisStore;
use std::time::Duration;

/// How a [`RedisStore`] connects and names its keys.
///
/// ```
/// use livesession_redis::RedisOptions;
/// use std::time::Duration;
///
/// let options = RedisOptions::new()
///     .prefix("shop:sessions:")
///     .wait_replicas(1, Duration::from_millis(50));
/// assert_eq!(options.prefix, "shop:sessions:");
/// assert_eq!(RedisOptions::default().prefix, "livesession:");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Starts every key the store writes. Default `livesession:`. Must not
    /// contain `{` or `}` (the session keys' Cluster hash tags).
    pub prefix: String,
    /// After a `delete` (logout, regenerate, revoke), wait with `WAIT` until
    /// this many replicas acknowledged it, at most this long, so that a
    /// failover right after a logout does not bring the session back. Fewer
    /// acknowledgements are logged as a warning; the delete still succeeds.
    /// Default `None`: no waiting.
    pub wait_replicas: Option<(usize, Duration)>,
    /// How long one connection attempt may take. Default 2 s.
    pub connect_timeout: Duration,
    /// How long one command may wait for its reply. Default 5 s.
    pub response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "livesession:".to_owned(),
            wait_replicas: None,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`prefix`](Self::prefix).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets [`wait_replicas`](Self::wait_replicas) to `replicas` within `timeout`.
    pub fn wait_replicas(mut self, replicas: usize, timeout: Duration) -> Self {
        self.wait_replicas = Some((replicas, timeout));
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`response_timeout`](Self::response_timeout).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }
}
