//! The session cookie: its attributes ([`CookieConfig`]) and the builder's
//! setters for its name, prefix and attributes.

use super::{Secure, SessionConfigBuilder};
use crate::cookie::SameSite;
use std::time::{Duration, SystemTime};

/// Cookie attributes of the session cookie.
///
/// # Examples
///
/// ```
/// use livesession::{CookieConfig, Secure};
/// use std::time::Duration;
/// let cookie = CookieConfig::default();
/// assert_eq!(cookie.path, "/");
/// assert!(cookie.http_only);
/// assert_eq!(cookie.secure, Secure::Auto);
/// assert_eq!(cookie.max_age, Some(Duration::from_secs(24 * 3600)));
/// ```
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

impl SessionConfigBuilder {
    /// Cookie name. Default `sessionId`.
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
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// Prefix written before the signed value and required on read
    /// (`s:` for express-session). Default empty.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let express = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .cookie_name("connect.sid")
    ///     .cookie_prefix("s:")
    ///     .build();
    /// assert!(express.is_ok());
    /// ```
    pub fn cookie_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.cookie_prefix = prefix.into();
        self
    }

    /// Cookie `Path`, which also scopes the session. Default `/`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .cookie_path("/app")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.cookie().path, "/app");
    /// ```
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie.path = path.into();
        self
    }

    /// Cookie `Domain`. Default none.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .cookie_domain(Some("example.com".into()))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.cookie().domain.as_deref(), Some("example.com"));
    /// ```
    pub fn cookie_domain(mut self, domain: Option<String>) -> Self {
        self.cookie.domain = domain;
        self
    }

    /// `HttpOnly`. Default `true`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .http_only(false)
    ///     .build()
    ///     .unwrap();
    /// assert!(!config.cookie().http_only);
    /// ```
    pub fn http_only(mut self, on: bool) -> Self {
        self.cookie.http_only = on;
        self
    }

    /// `Secure`. Default [`Secure::Auto`].
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{Secure, SessionConfig};
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .secure(Secure::Always)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.cookie().secure, Secure::Always);
    /// ```
    pub fn secure(mut self, secure: Secure) -> Self {
        self.cookie.secure = secure;
        self
    }

    /// `SameSite`. Default `Some(Lax)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{SameSite, Secure, SessionConfig};
    /// let builder = || SessionConfig::builder().secret("a secret of at least thirty-two bytes!");
    /// let strict = builder().same_site(Some(SameSite::Strict)).build().unwrap();
    /// assert_eq!(strict.cookie().same_site, Some(SameSite::Strict));
    /// // Browsers reject `SameSite=None` without `Secure`.
    /// let none = builder().same_site(Some(SameSite::None)).secure(Secure::Never).build();
    /// assert!(none.is_err());
    /// ```
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.cookie.same_site = same_site;
        self
    }

    /// `Partitioned`. Default `false`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .partitioned(true)
    ///     .build()
    ///     .unwrap();
    /// assert!(config.cookie().partitioned);
    /// ```
    pub fn partitioned(mut self, on: bool) -> Self {
        self.cookie.partitioned = on;
        self
    }

    /// Idle timeout and cookie lifetime. Default 24 h; `None` for browser-session
    /// cookies with no idle timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// use std::time::Duration;
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .max_age(Some(Duration::from_secs(1800)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.cookie().max_age, Some(Duration::from_secs(1800)));
    /// ```
    pub fn max_age(mut self, max_age: Option<Duration>) -> Self {
        self.cookie.max_age = max_age;
        self
    }

    /// Fixed cookie `Expires`, used only when `max_age` is `None`. Default none.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::SessionConfig;
    /// use std::time::{Duration, SystemTime};
    /// let at = SystemTime::now() + Duration::from_secs(7 * 24 * 3600);
    /// let config = SessionConfig::builder()
    ///     .secret("a secret of at least thirty-two bytes!")
    ///     .max_age(None)
    ///     .expires(Some(at))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(config.cookie().expires, Some(at));
    /// ```
    pub fn expires(mut self, at: Option<SystemTime>) -> Self {
        self.cookie.expires = at;
        self
    }
}
