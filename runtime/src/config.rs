//! Session configuration: every @fastify/session option plus absolute
//! timeout, trust proxy, persistence and passivation. Built with
//! [`SessionConfig::builder`]; invalid settings fail at `build()`.

use crate::clock::{Clock, SystemClock};
use crate::cookie::{is_attribute_value, is_cookie_octets, is_token, SameSite};
// Defined beside `SameSite` (the store's records hold both); its path here stays.
pub use crate::cookie::Secure;
use crate::id::IdGenerator;
use crate::signing::{Algorithm, HmacSigner, Signer};
use crate::store::SessionStore;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The shortest accepted signing secret, in bytes (as in @fastify/session).
pub const MIN_SECRET_LEN: usize = 32;

/// Size limits of one session. Exceeding one fails the change with
/// [`SessionError::LimitExceeded`](crate::SessionError::LimitExceeded) and
/// leaves the session as it was.
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
    pub fn max_session_bytes(mut self, bytes: usize) -> Self {
        self.max_session_bytes = bytes;
        self
    }

    /// Sets the most keys per session.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.max_keys = keys;
        self
    }

    /// Sets the longest key in bytes.
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

/// A configuration error, reported by [`SessionConfigBuilder::build`].
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

/// Cookie attributes of the session cookie.
#[derive(Debug, Clone)]
pub struct CookieConfig {
    /// `Path`; also scopes the session: requests outside it get none. Default `/`.
    pub path: String,
    /// `Domain`. Default none.
    pub domain: Option<String>,
    /// `HttpOnly`. Default `true`.
    pub http_only: bool,
    /// `Secure`. Default [`Secure::Auto`].
    pub secure: Secure,
    /// `SameSite`. Default `Lax`.
    pub same_site: Option<SameSite>,
    /// `Partitioned`. Default `false`.
    pub partitioned: bool,
    /// Idle timeout: the cookie's `Expires` is now + max age, and a session
    /// not loaded for this long ends. Default 24 hours. `None`: browser-session
    /// cookie and no idle timeout.
    pub max_age: Option<Duration>,
    /// Fixed `Expires` for every cookie, used only when `max_age` is `None`
    /// (fastify's `cookie.expires`); the session also ends then.
    pub expires: Option<SystemTime>,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            path: "/".into(),
            domain: None,
            http_only: true,
            secure: Secure::Auto,
            same_site: Some(SameSite::Lax),
            partitioned: false,
            max_age: Some(Duration::from_secs(24 * 3600)),
            expires: None,
        }
    }
}

/// The validated configuration of a [`SessionManager`](crate::SessionManager).
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
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The cookie attributes.
    pub fn cookie(&self) -> &CookieConfig {
        &self.cookie
    }

    /// The bound on sessions live in memory
    /// ([`SessionConfigBuilder::max_live_sessions`]).
    pub fn max_live_sessions(&self) -> Option<usize> {
        self.max_live_sessions
    }

    /// Whether a durable store is configured.
    pub fn is_durable(&self) -> bool {
        self.store.is_some()
    }
}

enum SecretSource {
    None,
    Secrets(Vec<Vec<u8>>),
    Signer(Arc<dyn Signer>),
}

/// Builder for [`SessionConfig`]; each setter documents its default.
pub struct SessionConfigBuilder {
    secrets: SecretSource,
    algorithm: Algorithm,
    cookie_name: String,
    cookie_prefix: String,
    cookie: CookieConfig,
    save_uninitialized: bool,
    rolling: bool,
    id_generator: Option<IdGenerator>,
    absolute_timeout: Option<Duration>,
    trust_proxy: bool,
    store: Option<Arc<dyn SessionStore>>,
    passivate_after: Duration,
    hibernate_after: Duration,
    sweep_interval: Duration,
    clock: Arc<dyn Clock>,
    limits: Limits,
    store_timeout: Duration,
    max_live_sessions: Option<usize>,
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
    pub fn secret(self, secret: impl AsRef<[u8]>) -> Self {
        self.secrets([secret])
    }

    /// Secrets for rotation: the first signs (at least 32 bytes), all verify,
    /// in order. A cookie verified by a later secret is re-signed with the
    /// first on that response.
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
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// A custom signer instead of HMAC-SHA256 secrets.
    pub fn signer(mut self, signer: impl Signer) -> Self {
        self.secrets = SecretSource::Signer(Arc::new(signer));
        self
    }

    /// Cookie name. Default `sessionId`.
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// Prefix written before the signed value and required on read
    /// (`s:` for express-session). Default empty.
    pub fn cookie_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.cookie_prefix = prefix.into();
        self
    }

    /// Cookie `Path`, which also scopes the session. Default `/`.
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// Cookie `Domain`. Default none.
    pub fn cookie_domain(mut self, domain: Option<String>) -> Self {
        self.cookie.domain = domain;
        self
    }

    /// `HttpOnly`. Default `true`.
    pub fn http_only(mut self, on: bool) -> Self {
        self.cookie.http_only = on;
        self
    }

    /// `Secure`. Default [`Secure::Auto`].
    pub fn secure(mut self, secure: Secure) -> Self {
        self.cookie.secure = secure;
        self
    }

    /// `SameSite`. Default `Some(Lax)`.
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// `Partitioned`. Default `false`.
    pub fn partitioned(mut self, on: bool) -> Self {
        self.cookie.partitioned = on;
        self
    }

    /// Idle timeout and cookie lifetime. Default 24 h; `None` for browser-session
    /// cookies with no idle timeout.
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.cookie.max_age = max_age;
        self
    }

    /// Fixed cookie `Expires`, used only when `max_age` is `None`. Default none.
    pub fn expires(mut self, at: Option<SystemTime>) -> Self {
        self.cookie.expires = at;
        self
    }

    /// Store and send a cookie for new sessions that were never modified.
    /// Default `false` (fastify: `true`).
    pub fn save_uninitialized(mut self, on: bool) -> Self {
        self.save_uninitialized = on;
        self
    }

    /// Re-send the cookie with a fresh `Expires` on every response that loaded
    /// a session. Idle expiry is extended by every load either way. Default `true`.
    pub fn rolling(mut self, on: bool) -> Self {
        self.rolling = on;
        self
    }

    /// Custom id generator (fastify's `idGenerator`). Ids must be unguessable,
    /// 1..=256 chars of `A-Za-z0-9-_`. Default: 192 random bits, base64url.
    pub fn id_generator(mut self, f: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.id_generator = Some(Arc::new(f));
        self
    }

    /// End every session this long after its id was created, however active.
    /// Default none.
    pub fn absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Honour `X-Forwarded-Proto` for `Secure` auto. Default `false`.
    pub fn trust_proxy(mut self, on: bool) -> Self {
        self.trust_proxy = on;
        self
    }

    /// A durable store. Default none: sessions live only in their actors.
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// With a store: a live session idle this long is written to the store and
    /// its actor stopped. Default 5 minutes.
    pub fn passivate_after(mut self, idle: Duration) -> Self {
        self.passivate_after = idle;
        self
    }

    /// How long a session's owner actor keeps running after its last message.
    /// Then it hibernates: the session stays live in memory (readable, with
    /// its clocks parked in a shared alarm queue) and the next change spawns
    /// a new owner. Default 1 s. Longer keeps hot sessions' actors warm;
    /// shorter saves memory.
    pub fn hibernate_after(mut self, idle: Duration) -> Self {
        self.hibernate_after = idle;
        self
    }

    /// With a store: how often expired records are swept. Default 1 s.
    pub fn sweep_interval(mut self, every: Duration) -> Self {
        self.sweep_interval = every;
        self
    }

    /// The clock for session deadlines. Default: the system clock. Tests use
    /// [`ManualClock`](crate::clock::ManualClock) to expire sessions without sleeping.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Size limits per session. Default [`Limits::default`] (4 MiB, 1024
    /// keys, 256-byte keys).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// With a store: the deadline of each store call; a call that takes
    /// longer fails the request with a store error instead of hanging it.
    /// Default 5 s.
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

    /// Validates and builds the configuration.
    pub fn build(self) -> Result<SessionConfig, ConfigError> {
        let signer: Arc<dyn Signer> = match self.secrets {
            SecretSource::None => return Err(ConfigError::MissingSecret),
            SecretSource::Signer(s) => s,
            SecretSource::Secrets(list) => {
                match list.first() {
                    None => return Err(ConfigError::MissingSecret),
                    Some(first) if first.len() < MIN_SECRET_LEN => {
                        return Err(ConfigError::SecretTooShort {
                            len: first.len(),
                            min: MIN_SECRET_LEN,
                        })
                    }
                    _ => {}
                }
                Arc::new(
                    HmacSigner::with_algorithm(&list, self.algorithm)
                        .map_err(ConfigError::InvalidSecret)?,
                )
            }
        };
        if !is_token(&self.cookie_name) {
            return Err(ConfigError::CookieName(self.cookie_name));
        }
        if !is_cookie_octets(&self.cookie_prefix) {
            return Err(ConfigError::CookiePrefix(self.cookie_prefix));
        }
        // A path ending in white space is read without it by browsers, so
        // the cookie would never come back to the path sessions are scoped to.
        if !self.cookie.path.starts_with('/')
            || !is_attribute_value(&self.cookie.path)
            || self.cookie.path.ends_with([' ', '\t'])
        {
            return Err(ConfigError::CookiePath(self.cookie.path));
        }
        if let Some(d) = &self.cookie.domain {
            if !is_attribute_value(d) || d.contains(' ') {
                return Err(ConfigError::CookieDomain(d.clone()));
            }
        }
        for (name, zero) in [
            ("max age", self.cookie.max_age == Some(Duration::ZERO)),
            (
                "absolute timeout",
                self.absolute_timeout == Some(Duration::ZERO),
            ),
            ("passivate after", self.passivate_after.is_zero()),
            ("sweep interval", self.sweep_interval.is_zero()),
            ("hibernate after", self.hibernate_after.is_zero()),
            ("store timeout", self.store_timeout.is_zero()),
        ] {
            if zero {
                return Err(ConfigError::ZeroDuration(name));
            }
        }
        if self.max_live_sessions == Some(0) {
            return Err(ConfigError::ZeroLiveSessions);
        }
        if self.cookie.same_site == Some(SameSite::None) && self.cookie.secure == Secure::Never {
            return Err(ConfigError::SameSiteNoneWithoutSecure);
        }
        if let Some(gen) = &self.id_generator {
            let sample = gen();
            if !crate::id::is_valid_id(&sample) {
                return Err(ConfigError::IdGenerator(sample));
            }
        }
        Ok(SessionConfig {
            signer,
            cookie_name: self.cookie_name,
            cookie_prefix: self.cookie_prefix,
            cookie: self.cookie,
            save_uninitialized: self.save_uninitialized,
            rolling: self.rolling,
            id_generator: self.id_generator,
            absolute_timeout: self.absolute_timeout,
            trust_proxy: self.trust_proxy,
            store: self.store.clone().map(|s| {
                Arc::new(crate::store::TimeoutStore::new(s, self.store_timeout))
                    as Arc<dyn SessionStore>
            }),
            unbounded_store: self.store,
            store_timeout: self.store_timeout,
            max_live_sessions: self.max_live_sessions,
            passivate_after: self.passivate_after,
            hibernate_after: self.hibernate_after,
            sweep_interval: self.sweep_interval,
            clock: self.clock,
            limits: self.limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "0123456789abcdef0123456789abcdef";

    fn err(b: SessionConfigBuilder) -> ConfigError {
        b.build().unwrap_err()
    }

    #[test]
    fn rejects_invalid_settings_with_typed_errors_and_clear_messages() {
        let b = SessionConfig::builder;
        assert_eq!(err(b()), ConfigError::MissingSecret);
        assert_eq!(
            err(b().secrets(Vec::<String>::new())),
            ConfigError::MissingSecret
        );
        let short = err(b().secret("short"));
        assert_eq!(short, ConfigError::SecretTooShort { len: 5, min: 32 });
        assert!(short.to_string().contains("at least 32 bytes"), "{short}");
        assert_eq!(
            err(b().secrets([S, ""])),
            ConfigError::InvalidSecret("a secret must not be empty".into())
        );
        assert_eq!(
            err(b().secret(S).cookie_name("a b")),
            ConfigError::CookieName("a b".into())
        );
        assert_eq!(
            err(b().secret(S).cookie_prefix("a;")),
            ConfigError::CookiePrefix("a;".into())
        );
        assert_eq!(
            err(b().secret(S).cookie_path("app")),
            ConfigError::CookiePath("app".into())
        );
        assert_eq!(
            err(b().secret(S).cookie_path("/app ")),
            ConfigError::CookiePath("/app ".into())
        );
        assert_eq!(
            err(b().secret(S).cookie_domain(Some("a b".into()))),
            ConfigError::CookieDomain("a b".into())
        );
        let zero = err(b().secret(S).max_age(Some(Duration::ZERO)));
        assert_eq!(zero, ConfigError::ZeroDuration("max age"));
        assert!(zero
            .to_string()
            .contains("max age must be greater than zero"));
        assert_eq!(
            err(b().secret(S).store_timeout(Duration::ZERO)),
            ConfigError::ZeroDuration("store timeout")
        );
        assert_eq!(
            err(b()
                .secret(S)
                .secure(Secure::Never)
                .same_site(Some(SameSite::None))),
            ConfigError::SameSiteNoneWithoutSecure
        );
        assert_eq!(
            err(b().secret(S).id_generator(|| "a.b".into())),
            ConfigError::IdGenerator("a.b".into())
        );
    }

    #[test]
    fn defaults_are_documented_values() {
        let c = SessionConfig::builder().secret(S).build().unwrap();
        assert_eq!(c.cookie_name, "sessionId");
        assert_eq!(c.cookie.path, "/");
        assert!(c.cookie.http_only);
        assert_eq!(c.cookie.secure, Secure::Auto);
        assert_eq!(c.cookie.same_site, Some(SameSite::Lax));
        assert_eq!(c.cookie.max_age, Some(Duration::from_secs(86400)));
        assert!(!c.save_uninitialized);
        assert!(c.rolling);
        // older secrets in a rotation list may be shorter: they only verify
        assert!(SessionConfig::builder().secrets([S, "old"]).build().is_ok());
    }
}
