//! The builder's setters for where sessions live: the durable store, its
//! deadlines, passivation and the bound on sessions live in memory.

use super::SessionConfigBuilder;
use crate::store::SessionStore;
use std::sync::Arc;
use std::time::Duration;

impl SessionConfigBuilder {
    /// A durable store. Default none: sessions live only in their actors.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{store::MemoryStore, SessionConfig};
    /// use std::sync::Arc;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .build()
    ///     .unwrap();
    /// assert!(config.is_durable());
    /// ```
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// With a store: a live session idle this long is written to the store and
    /// its actor stopped. Default 5 minutes.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{ConfigError, SessionConfig};
    /// use std::time::Duration;
    /// let builder = || SessionConfig::builder().secret("a secret of at least thirty-two bytes!");
    /// assert!(builder().passivate_after(Duration::from_secs(60)).build().is_ok());
    /// assert_eq!(
    ///     builder().passivate_after(Duration::ZERO).build().unwrap_err(),
    ///     ConfigError::ZeroDuration("passivate after"),
    /// );
    /// ```
    pub fn passivate_after(mut self, idle: Duration) -> Self {
        self.passivate_after = idle;
        self
    }

    /// How long a session's owner actor keeps running after its last message.
    /// Then it hibernates: the session stays live in memory (readable, with
    /// its clocks parked in a shared alarm queue) and the next change spawns
    /// a new owner. Default 1 s. Longer keeps hot sessions' actors warm;
    /// shorter saves memory.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// use std::time::Duration;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .hibernate_after(Duration::from_millis(250))
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn hibernate_after(mut self, idle: Duration) -> Self {
        self.hibernate_after = idle;
        self
    }

    /// With a store: how often expired records are swept. Default 1 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// use std::time::Duration;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .sweep_interval(Duration::from_secs(30))
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn sweep_interval(mut self, every: Duration) -> Self {
        self.sweep_interval = every;
        self
    }

    /// With a store: the deadline of each store call; a call that takes
    /// longer fails the request with a store error instead of hanging it.
    /// Default 5 s.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{store::MemoryStore, SessionConfig};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .store(Arc::new(MemoryStore::new()))
    ///     .store_timeout(Duration::from_millis(500))
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn store_timeout(mut self, limit: Duration) -> Self {
        self.store_timeout = limit;
        self
    }

    /// At most this many sessions live in memory at once. With a store, when
    /// a session would pass the bound, the least recently used live sessions
    /// are passivated at once to make room (they stay readable: the next
    /// request activates them again), so memory stays flat whatever the
    /// traffic. Without a store there is nowhere to put them: a new session
    /// beyond the bound is refused with [`SessionError::Overloaded`] (503)
    /// and existing ones are untouched. Default: no bound.
    ///
    /// [`SessionError::Overloaded`]: crate::SessionError::Overloaded
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .max_live_sessions(Some(10_000))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.max_live_sessions(), Some(10_000));
    /// ```
    pub fn max_live_sessions(mut self, bound: Option<usize>) -> Self {
        self.max_live_sessions = bound;
        self
    }
}
