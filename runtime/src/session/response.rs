//! The session's `Set-Cookie`: configured attributes, per-session overrides
//! and the expiry rule.

use crate::clock::{ms, to_system_time};
use crate::config::Secure;
use crate::cookie::{clear_cookie, set_cookie, CookieAttributes, SameSite};
use crate::core::Core;
use crate::store::{CookieOverrides, SessionRecord};
use std::time::Duration;

/// Per-session cookie overrides for [`Session::options`](crate::Session::options)
/// (fastify's `session.options()`); `None` fields keep the configured value.
///
/// Start from `CookieOptions::default()` (nothing overridden) and set what
/// this session needs; each setter overrides one attribute of the session's
/// `Set-Cookie`, for this and every later response of the session (the
/// overrides are stored with it). The cookie's name and `Path` are not
/// among them: they are the configuration's
/// ([`SessionConfigBuilder::cookie_path`](crate::SessionConfigBuilder::cookie_path)),
/// the same for every session.
///
/// # Examples
///
/// ```
/// use livesession::{CookieOptions, Secure};
/// use std::time::Duration;
/// let remember_me = CookieOptions::default()
///     .max_age(Duration::from_secs(30 * 86400))
///     .secure(Secure::Always);
/// assert_eq!(remember_me.max_age, Some(Duration::from_secs(30 * 86400)));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CookieOptions {
    /// Idle timeout (and cookie lifetime) for this session.
    pub max_age: Option<Duration>,
    /// `HttpOnly`.
    pub http_only: Option<bool>,
    /// `Secure`.
    pub secure: Option<Secure>,
    /// `SameSite`.
    pub same_site: Option<SameSite>,
    /// `Domain`.
    pub domain: Option<String>,
    /// `Partitioned`.
    pub partitioned: Option<bool>,
}

impl CookieOptions {
    /// Sets the idle timeout (and cookie lifetime) for this session: its
    /// cookie's `Expires` is now + `max_age` (capped by the absolute
    /// timeout), and it ends after `max_age` without a request.
    ///
    /// # Examples
    ///
    /// "Remember me" for 30 days:
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = livesession::SessionManager::new(livesession::SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&livesession::RequestInfo { path: "/", ..Default::default() });
    /// use livesession::CookieOptions;
    /// use std::time::{Duration, SystemTime};
    ///
    /// session.options(CookieOptions::default().max_age(Duration::from_secs(30 * 86400))).await.unwrap();
    /// session.insert("user", "alice").await.unwrap();
    /// let set_cookie = session.finish().await.unwrap().remove(0);
    /// let expires = set_cookie.split("; ").find_map(|a| a.strip_prefix("Expires=")).unwrap();
    /// let expires = httpdate::parse_http_date(expires).unwrap();
    /// assert!(expires > SystemTime::now() + Duration::from_secs(29 * 86400));
    /// # });
    /// ```
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets whether the cookie is `HttpOnly` (hidden from scripts in the page).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = livesession::SessionManager::new(livesession::SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&livesession::RequestInfo { path: "/", ..Default::default() });
    /// use livesession::CookieOptions;
    /// session.options(CookieOptions::default().http_only(false)).await.unwrap();
    /// session.insert("user", "alice").await.unwrap();
    /// let set_cookie = session.finish().await.unwrap().remove(0);
    /// assert!(!set_cookie.contains("HttpOnly"));
    /// # });
    /// ```
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = Some(on);
        self
    }

    /// Sets when the cookie carries `Secure` (sent back over https only).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = livesession::SessionManager::new(livesession::SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&livesession::RequestInfo { path: "/", ..Default::default() });
    /// use livesession::{CookieOptions, Secure};
    /// session.options(CookieOptions::default().secure(Secure::Always)).await.unwrap();
    /// session.insert("user", "alice").await.unwrap();
    /// let set_cookie = session.finish().await.unwrap().remove(0);
    /// assert!(set_cookie.contains("; Secure")); // even though this request was plain http
    /// # });
    /// ```
    pub fn secure(mut self, secure: Secure) -> Self {
        self.secure = Some(secure);
        self
    }

    /// Sets the cookie's `SameSite` attribute (which cross-site requests
    /// carry it). Over plain http with [`Secure::Auto`], `SameSite=None` is
    /// sent as `Lax`: browsers reject `None` without `Secure`.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = livesession::SessionManager::new(livesession::SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&livesession::RequestInfo { path: "/", ..Default::default() });
    /// use livesession::{CookieOptions, SameSite};
    /// session.options(CookieOptions::default().same_site(SameSite::Strict)).await.unwrap();
    /// session.insert("user", "alice").await.unwrap();
    /// let set_cookie = session.finish().await.unwrap().remove(0);
    /// assert!(set_cookie.ends_with("; SameSite=Strict"));
    /// # });
    /// ```
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// Sets the cookie's `Domain` (the cookie is then sent to its
    /// subdomains too). Pass a domain of your own, never one taken from the
    /// request: it is written into the `Set-Cookie` as given.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = livesession::SessionManager::new(livesession::SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&livesession::RequestInfo { path: "/", ..Default::default() });
    /// use livesession::CookieOptions;
    /// session.options(CookieOptions::default().domain("example.com")).await.unwrap();
    /// session.insert("user", "alice").await.unwrap();
    /// let set_cookie = session.finish().await.unwrap().remove(0);
    /// assert!(set_cookie.contains("; Domain=example.com;"));
    /// # });
    /// ```
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets whether the cookie is `Partitioned` (CHIPS: kept per top-level
    /// site when the app is embedded in another site; browsers want
    /// `Secure` with it).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// # let manager = livesession::SessionManager::new(livesession::SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().unwrap());
    /// # let session = manager.start(&livesession::RequestInfo { path: "/", ..Default::default() });
    /// use livesession::{CookieOptions, Secure};
    /// session.options(CookieOptions::default().partitioned(true).secure(Secure::Always)).await.unwrap();
    /// session.insert("user", "alice").await.unwrap();
    /// let set_cookie = session.finish().await.unwrap().remove(0);
    /// assert!(set_cookie.contains("; Secure; Partitioned"));
    /// # });
    /// ```
    pub fn partitioned(mut self, on: bool) -> Self {
        self.partitioned = Some(on);
        self
    }

    /// Refuses options that cannot be written into a `Set-Cookie` as they
    /// are: a `Domain` with `;`, white space or control characters would
    /// add attributes (or headers) of its own.
    pub(crate) fn check(&self) -> Result<(), crate::SessionError> {
        match &self.domain {
            Some(d) if !crate::cookie::is_attribute_value(d) || d.contains(' ') => Err(
                crate::SessionError::Invalid(format!("invalid cookie domain {d:?}")),
            ),
            _ => Ok(()),
        }
    }

    pub(crate) fn apply(&self, overrides: &mut Option<Box<CookieOverrides>>) {
        if *self == CookieOptions::default() {
            return; // nothing to set: no overrides are made for it
        }
        let o = overrides.get_or_insert_default();
        if let Some(d) = self.max_age {
            o.max_age_ms = Some(ms(d).max(1));
        }
        if let Some(v) = self.http_only {
            o.http_only = Some(v);
        }
        if let Some(v) = self.secure {
            o.secure = Some(v);
        }
        if let Some(v) = self.same_site {
            o.same_site = Some(v);
        }
        if let Some(v) = &self.domain {
            o.domain = Some(v.clone());
        }
        if let Some(v) = self.partitioned {
            o.partitioned = Some(v);
        }
    }
}

/// The `Set-Cookie` value for a live session. `Expires` is the earlier of
/// now + max age and the absolute deadline (or the fixed `expires`).
pub(crate) fn session_cookie(
    rt: &Core,
    value: &str,
    record: &SessionRecord,
    https: bool,
) -> String {
    let attributes = CookieAttributes {
        expires: rt.expires_at(record, rt.now_ms()).map(to_system_time),
        ..attributes(rt, record.cookie_overrides(), https)
    };
    set_cookie(&rt.config().cookie_name, value, &attributes)
}

/// The `Set-Cookie` that clears the session cookie, with the attributes it
/// was set with (the session's overrides `o` on top of the configuration),
/// so that browsers accept it.
pub(crate) fn clearing_cookie(rt: &Core, o: &Option<Box<CookieOverrides>>, https: bool) -> String {
    clear_cookie(
        &rt.config().cookie_name,
        &attributes(rt, CookieOverrides::of(o), https),
    )
}

/// The session cookie's attributes but `Expires`: the configuration with
/// the session's overrides `o` on top.
fn attributes<'a>(rt: &'a Core, o: &'a CookieOverrides, https: bool) -> CookieAttributes<'a> {
    let c = &rt.config().cookie;
    let secure_setting = o.secure.unwrap_or(c.secure);
    let secure = match secure_setting {
        Secure::Always => true,
        Secure::Never => false,
        Secure::Auto => https,
    };
    let mut same_site = o.same_site.or(c.same_site);
    if secure_setting == Secure::Auto && !https && same_site == Some(SameSite::None) {
        // Browsers reject SameSite=None without Secure (fastify does the same).
        same_site = Some(SameSite::Lax);
    }
    CookieAttributes {
        // `Session::options` refuses a bad domain; one read back from a
        // store is checked again before it goes into a header.
        domain: o
            .domain
            .as_deref()
            .filter(|d| crate::cookie::is_attribute_value(d) && !d.contains(' '))
            .or(c.domain.as_deref()),
        path: &c.path,
        expires: None,
        http_only: o.http_only.unwrap_or(c.http_only),
        secure,
        partitioned: o.partitioned.unwrap_or(c.partitioned),
        same_site,
    }
}
