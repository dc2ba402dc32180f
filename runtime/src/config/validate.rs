//! `build()`: every setting checked, then the validated [`SessionConfig`].

use super::builder::SecretSource;
use super::{ConfigError, Secure, SessionConfig, SessionConfigBuilder};
use crate::cookie::{is_attribute_value, is_cookie_octets, is_token, SameSite};
use crate::signing::{HmacSigner, Signer};
use crate::store::SessionStore;
use std::sync::Arc;
use std::time::Duration;

/// The shortest accepted signing secret, in bytes (as in @fastify/session).
///
/// # Examples
///
/// ```
/// use livesession::config::MIN_SECRET_LEN;
/// use livesession::SessionConfig;
/// let exactly = "x".repeat(MIN_SECRET_LEN);
/// assert!(SessionConfig::builder().secret(&exactly).build().is_ok());
/// assert!(SessionConfig::builder().secret(&exactly[1..]).build().is_err());
/// ```
pub const MIN_SECRET_LEN: usize = 32;

impl SessionConfigBuilder {
    /// Validates and builds the configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::{ConfigError, SessionConfig};
    /// assert!(SessionConfig::builder().secret("a secret of at least thirty-two bytes!").build().is_ok());
    /// assert_eq!(SessionConfig::builder().build().unwrap_err(), ConfigError::MissingSecret);
    /// ```
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
