//! The validated configuration a `SessionManager` runs with.

use super::{CookieConfig, Limits, SessionConfigBuilder};
use crate::clock::Clock;
use crate::id::IdGenerator;
use crate::signing::Signer;
use crate::store::SessionStore;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The validated configuration of a [`SessionManager`](crate::SessionManager).
///
/// # Examples
///
/// ```
/// use livesession::{SessionConfig, SessionManager};
/// let config = SessionConfig::builder()
///     .secret("a secret of at least thirty-two bytes!")
///     .build()
///     .unwrap();
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let manager = SessionManager::new(config);
/// # drop(manager);
/// # });
/// ```
#[derive(Clone)]
pub struct SessionConfig {
    pub(crate) signer: Arc<dyn Signer>,
    pub(crate) cookie_name: String,
    pub(crate) cookie_prefix: String,
    pub(crate) cookie: CookieConfig,
    pub(crate) save_uninitialized: bool,
    pub(crate) rolling: bool,
    pub(crate) id_generator: Option<IdGenerator>,
    pub(crate) absolute_timeout: Option<Duration>,
    pub(crate) trust_proxy: bool,
    pub(crate) store: Option<Arc<dyn SessionStore>>,
    /// The store without the deadline wrapper: an owner's writes to its
    /// record run to their end (see `owner::actor::write_to_end`).
    pub(crate) unbounded_store: Option<Arc<dyn SessionStore>>,
    pub(crate) store_timeout: Duration,
    pub(crate) max_live_sessions: Option<usize>,
    pub(crate) passivate_after: Duration,
    pub(crate) hibernate_after: Duration,
    pub(crate) sweep_interval: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) limits: Limits,
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("cookie_name", &self.cookie_name)
            .field("cookie_prefix", &self.cookie_prefix)
            .field("cookie", &self.cookie)
            .field("save_uninitialized", &self.save_uninitialized)
            .field("rolling", &self.rolling)
            .field("absolute_timeout", &self.absolute_timeout)
            .field("trust_proxy", &self.trust_proxy)
            .field("durable", &self.store.is_some())
            .field("passivate_after", &self.passivate_after)
            .field("hibernate_after", &self.hibernate_after)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl SessionConfig {
    /// Starts a builder. Only a secret (or signer) is required.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// use std::time::Duration;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .max_age(Some(Duration::from_secs(3600)))
    ///     .absolute_timeout(Some(Duration::from_secs(12 * 3600)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.cookie_name(), "sessionId");
    /// assert!(SessionConfig::builder().secret("short").build().is_err());
    /// ```
    pub fn builder() -> SessionConfigBuilder {
        SessionConfigBuilder::default()
    }

    /// The cookie name.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .cookie_name("sid")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.cookie_name(), "sid");
    /// ```
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The cookie attributes.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{SameSite, SessionConfig};
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.cookie().path, "/");
    /// assert_eq!(config.cookie().same_site, Some(SameSite::Lax));
    /// ```
    pub fn cookie(&self) -> &CookieConfig {
        &self.cookie
    }

    /// The bound on sessions live in memory
    /// ([`SessionConfigBuilder::max_live_sessions`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.max_live_sessions(), None);
    /// ```
    pub fn max_live_sessions(&self) -> Option<usize> {
        self.max_live_sessions
    }

    /// Whether a durable store is configured.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{store::MemoryStore, SessionConfig};
    /// use std::sync::Arc;
    /// let builder = || SessionConfig::builder().secret("a secret of at least thirty-two bytes!");
    /// assert!(!builder().build().unwrap().is_durable());
    /// let durable = builder().store(Arc::new(MemoryStore::new())).build().unwrap();
    /// assert!(durable.is_durable());
    /// ```
    pub fn is_durable(&self) -> bool {
        self.store.is_some()
    }
}
