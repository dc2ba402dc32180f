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
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_redis::RedisOptions;
    /// use std::time::Duration;
    /// let options = RedisOptions::new();
    /// assert_eq!(options.prefix, "livesession:");
    /// assert_eq!(options.wait_replicas, None);
    /// assert_eq!(options.connect_timeout, Duration::from_secs(2));
    /// assert_eq!(options.response_timeout, Duration::from_secs(5));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`prefix`](Self::prefix).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_redis::RedisOptions;
    /// // Two apps on one Redis keep apart by prefix:
    /// let shop = RedisOptions::new().prefix("shop:sessions:");
    /// let blog = RedisOptions::new().prefix("blog:sessions:");
    /// assert_ne!(shop.prefix, blog.prefix);
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets [`wait_replicas`](Self::wait_replicas) to `replicas` within `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_redis::RedisOptions;
    /// use std::time::Duration;
    /// // A logout survives a failover once one replica has it (waiting 100 ms at most):
    /// let options = RedisOptions::new().wait_replicas(1, Duration::from_millis(100));
    /// assert_eq!(options.wait_replicas, Some((1, Duration::from_millis(100))));
    /// ```
    pub fn wait_replicas(mut self, replicas: usize, timeout: Duration) -> Self {
        self.wait_replicas = Some((replicas, timeout));
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_redis::RedisOptions;
    /// use std::time::Duration;
    /// let options = RedisOptions::new().connect_timeout(Duration::from_millis(500));
    /// assert_eq!(options.connect_timeout, Duration::from_millis(500));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`response_timeout`](Self::response_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession_redis::RedisOptions;
    /// use std::time::Duration;
    /// // Give up on a reply after 1 s instead of 5 s:
    /// let options = RedisOptions::new().response_timeout(Duration::from_secs(1));
    /// assert_eq!(options.response_timeout, Duration::from_secs(1));
    /// ```
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }
}
