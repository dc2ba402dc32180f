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
    /// Sets the idle timeout (and cookie lifetime) for this session.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets `HttpOnly`.
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = Some(on);
        self
    }

    /// Sets `Secure`.
    pub fn secure(mut self, secure: Secure) -> Self {
        self.secure = Some(secure);
        self
    }

    /// Sets `SameSite`.
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = Some(same_site);
        self
    }

    /// Sets `Domain`.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Sets `Partitioned`.
    pub fn partitioned(mut self, on: bool) -> Self {
        self.partitioned = Some(on);
        self
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
        domain: o.domain.as_deref().or(c.domain.as_deref()),
        path: &c.path,
        expires: None,
        http_only: o.http_only.unwrap_or(c.http_only),
        secure,
        partitioned: o.partitioned.unwrap_or(c.partitioned),
        same_site,
    }
}
