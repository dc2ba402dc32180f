//! The builder: its options and their defaults, the signing secrets, and
//! the setters for how sessions behave. The cookie setters are in
//! `cookie.rs`, the store and memory ones in `durability.rs`, `build()` in
//! `validate.rs`.

use super::{CookieConfig, Limits};
use crate::clock::{Clock, SystemClock};
use crate::id::IdGenerator;
use crate::signing::{Algorithm, Signer};
use crate::store::SessionStore;
use std::sync::Arc;
use std::time::Duration;

/// Where the signer comes from.
pub(super) enum SecretSource {
    None,
    Secrets(Vec<Vec<u8>>),
    Signer(Arc<dyn Signer>),
}

/// Builder for [`SessionConfig`](super::SessionConfig); each setter documents its default.
///
/// # Examples
///
/// ```
/// use livesession::{SessionConfig, SessionConfigBuilder};
/// let builder: SessionConfigBuilder = SessionConfig::builder();
/// let config = builder
///     .secret("a secret of at least thirty-two bytes!")
///     .cookie_name("sid")
///     .build()
///     .unwrap();
/// assert_eq!(config.cookie_name(), "sid");
/// ```
pub struct SessionConfigBuilder {
    pub(super) secrets: SecretSource,
    pub(super) algorithm: Algorithm,
    pub(super) cookie_name: String,
    pub(super) cookie_prefix: String,
    pub(super) cookie: CookieConfig,
    pub(super) save_uninitialized: bool,
    pub(super) rolling: bool,
    pub(super) id_generator: Option<IdGenerator>,
    pub(super) absolute_timeout: Option<Duration>,
    pub(super) trust_proxy: bool,
    pub(super) store: Option<Arc<dyn SessionStore>>,
    pub(super) passivate_after: Duration,
    pub(super) hibernate_after: Duration,
    pub(super) sweep_interval: Duration,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) limits: Limits,
    pub(super) store_timeout: Duration,
    pub(super) max_live_sessions: Option<usize>,
}

impl Default for SessionConfigBuilder {
    fn default() -> Self {
        SessionConfigBuilder {
            secrets: SecretSource::None,
            algorithm: Algorithm::Sha256,
            cookie_name: "sessionId".into(),
            cookie_prefix: String::new(),
            cookie: CookieConfig::default(),
            save_uninitialized: false,
            rolling: true,
            id_generator: None,
            absolute_timeout: None,
            trust_proxy: false,
            store: None,
            passivate_after: Duration::from_secs(300),
            hibernate_after: Duration::from_secs(1),
            sweep_interval: Duration::from_secs(1),
            clock: Arc::new(SystemClock),
            limits: Limits::default(),
            store_timeout: Duration::from_secs(5),
            max_live_sessions: None,
        }
    }
}

impl SessionConfigBuilder {
    /// One signing secret of at least 32 bytes. Required (or `secrets`/`signer`).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// assert!(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().is_ok());
    /// assert!(SessionConfig::builder().secret("too short").build().is_err());
    /// ```
    pub fn secret(self, secret: impl AsRef<[u8]>) -> Self {
        self.secrets([secret])
    }

    /// Secrets for rotation: the first signs (at least 32 bytes), all verify,
    /// in order. A cookie verified by a later secret is re-signed with the
    /// first on that response.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secrets(["the new secret of at least thirty-two bytes", "the old one"])
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn secrets<I, S>(mut self, secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        self.secrets =
            SecretSource::Secrets(secrets.into_iter().map(|s| s.as_ref().to_vec()).collect());
        self
    }

    /// The HMAC hash for `secret`/`secrets` (fastify's `algorithm`).
    /// Default [`Algorithm::Sha256`].
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{signing::Algorithm, SessionConfig};
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .algorithm(Algorithm::Sha512)
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// A custom signer instead of HMAC-SHA256 secrets.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{signing::HmacSigner, SessionConfig};
    /// let signer = HmacSigner::new(["a secret of at least thirty-two bytes!"]).unwrap();
    /// let config = SessionConfig::builder().signer(signer).build();
    /// assert!(config.is_ok());
    /// ```
    pub fn signer(mut self, signer: impl Signer) -> Self {
        self.secrets = SecretSource::Signer(Arc::new(signer));
        self
    }

    /// Store and send a cookie for new sessions that were never modified.
    /// Default `false` (fastify: `true`).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .save_uninitialized(true)
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn save_uninitialized(mut self, on: bool) -> Self {
        self.save_uninitialized = on;
        self
    }

    /// Re-send the cookie with a fresh `Expires` on every response that loaded
    /// a session. Idle expiry is extended by every load either way. Default `true`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .rolling(false)
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn rolling(mut self, on: bool) -> Self {
        self.rolling = on;
        self
    }

    /// Custom id generator (fastify's `idGenerator`). Ids must be unguessable,
    /// 1..=256 chars of `A-Za-z0-9-_`. Default: 192 random bits, base64url.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{ConfigError, SessionConfig};
    /// let builder = || SessionConfig::builder().secret("a secret of at least thirty-two bytes!");
    /// // `build()` checks one sample id.
    /// let bad = builder().id_generator(|| "not/an/id".to_string()).build();
    /// assert_eq!(bad.unwrap_err(), ConfigError::IdGenerator("not/an/id".into()));
    /// ```
    pub fn id_generator(mut self, f: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.id_generator = Some(Arc::new(f));
        self
    }

    /// End every session this long after its id was created, however active.
    /// Default none.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// use std::time::Duration;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .absolute_timeout(Some(Duration::from_secs(12 * 3600)))
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Honour `X-Forwarded-Proto` for `Secure` auto. Default `false`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let behind_a_proxy = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .trust_proxy(true)
    ///     .build();
    /// assert!(behind_a_proxy.is_ok());
    /// ```
    pub fn trust_proxy(mut self, on: bool) -> Self {
        self.trust_proxy = on;
        self
    }

    /// The clock for session deadlines. Default: the system clock. Tests use
    /// [`ManualClock`](crate::clock::ManualClock) to expire sessions without sleeping.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{clock::ManualClock, SessionConfig};
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .clock(ManualClock::new(0))
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Size limits per session. Default [`Limits::default`] (4 MiB, 1024
    /// keys, 256-byte keys).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{Limits, SessionConfig};
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .limits(Limits::default().max_session_bytes(64 * 1024))
    ///     .build();
    /// assert!(config.is_ok());
    /// ```
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}
