use super::SessionData;
use crate::cookie::{SameSite, Secure};
use serde::{Deserialize, Serialize};

/// Per-session cookie attribute overrides set with `Session::options`.
/// `None` means "use the configured default".
///
/// # Examples
///
/// ```
/// use livesession::store::{CookieOverrides, SessionRecord};
/// use livesession::SameSite;
/// let mut record = SessionRecord::default();
/// assert_eq!(record.cookie_overrides(), &CookieOverrides::default()); // none set
/// record.cookie = Some(Box::new(CookieOverrides {
///     max_age_ms: Some(30 * 86_400_000),
///     same_site: Some(SameSite::Strict),
///     ..CookieOverrides::default()
/// }));
/// assert_eq!(record.cookie_overrides().same_site, Some(SameSite::Strict));
/// assert_eq!(record.cookie_overrides().domain, None); // the configured domain
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CookieOverrides {
    /// Idle timeout in milliseconds for this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_ms: Option<u64>,
    /// `HttpOnly` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_only: Option<bool>,
    /// `Secure`. Stored as `"true"`, `"false"` or `"auto"`.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "secure_text")]
    pub secure: Option<Secure>,
    /// `SameSite`. Stored as `"strict"`, `"lax"` or `"none"`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "same_site_text"
    )]
    pub same_site: Option<SameSite>,
    /// `Domain` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `Partitioned` attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioned: Option<bool>,
}

/// Everything durable about one session. It never contains the raw id.
///
/// What a [`SessionStore`](super::SessionStore) stores under a
/// [`SessionKey`](super::SessionKey), usually through the shared
/// [`codec`](super::codec).
///
/// # Examples
///
/// ```
/// use livesession::store::SessionRecord;
/// let mut record = SessionRecord::default();
/// record.data.insert("theme".into(), serde_json::json!("dark"));
/// record.user = Some("alice".into());
/// record.expires_at_ms = Some(1_700_000_000_000);
/// assert_eq!(record.data.get("theme"), Some(&serde_json::json!("dark")));
/// assert!(record.is_expired(1_700_000_000_000));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's data: key -> JSON value ([`SessionData`]).
    pub data: SessionData,
    /// The user this session is bound to (login), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Creation time of this id, Unix milliseconds (the absolute clock's start).
    pub created_at_ms: u64,
    /// When the session ends if nothing touches it: the earlier of the idle end
    /// and the absolute end, Unix milliseconds. `None`: never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    /// The absolute deadline, Unix milliseconds, if an absolute timeout applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute_deadline_ms: Option<u64>,
    /// Cookie overrides set by the application for this session; `None`
    /// while it set none (most sessions: an unset one costs a pointer). Read
    /// them with [`cookie_overrides`](Self::cookie_overrides).
    #[serde(
        default,
        skip_serializing_if = "no_overrides",
        deserialize_with = "overrides"
    )]
    pub cookie: Option<Box<CookieOverrides>>,
}

/// No override set: what a record holds as `cookie: None`.
static NO_OVERRIDES: CookieOverrides = CookieOverrides {
    max_age_ms: None,
    http_only: None,
    secure: None,
    same_site: None,
    domain: None,
    partitioned: None,
};

impl CookieOverrides {
    /// The overrides in `cookie` (a [`SessionRecord::cookie`]), none when `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::{CookieOverrides, SessionRecord};
    /// let record = SessionRecord::default();
    /// assert_eq!(CookieOverrides::of(&record.cookie).http_only, None);
    /// ```
    pub fn of(cookie: &Option<Box<CookieOverrides>>) -> &CookieOverrides {
        cookie.as_deref().unwrap_or(&NO_OVERRIDES)
    }
}

/// Whether `cookie` sets nothing: the field is not written (as before it
/// was boxed, so records keep their bytes).
fn no_overrides(cookie: &Option<Box<CookieOverrides>>) -> bool {
    *CookieOverrides::of(cookie) == NO_OVERRIDES
}

/// A written `cookie` field; one that sets nothing reads as `None`.
fn overrides<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Box<CookieOverrides>>, D::Error> {
    let cookie = CookieOverrides::deserialize(d)?;
    Ok((cookie != NO_OVERRIDES).then(|| Box::new(cookie)))
}

impl SessionRecord {
    /// The cookie overrides of this session (none set when `cookie` is `None`).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::{CookieOverrides, SessionRecord};
    /// let record = SessionRecord {
    ///     cookie: Some(Box::new(CookieOverrides { http_only: Some(false), ..CookieOverrides::default() })),
    ///     ..SessionRecord::default()
    /// };
    /// assert_eq!(record.cookie_overrides().http_only, Some(false));
    /// assert_eq!(SessionRecord::default().cookie_overrides().http_only, None);
    /// ```
    pub fn cookie_overrides(&self) -> &CookieOverrides {
        CookieOverrides::of(&self.cookie)
    }

    /// Whether `other` holds what this record holds: what a request puts in
    /// a session before it exists (data, user, cookie overrides), not the
    /// clocks its creation sets.
    pub(crate) fn same_contents(&self, other: &SessionRecord) -> bool {
        self.data == other.data && self.user == other.user && self.cookie == other.cookie
    }

    /// Whether the record must no longer be served at `now_ms`.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::SessionRecord;
    /// let record = SessionRecord { expires_at_ms: Some(5_000), ..SessionRecord::default() };
    /// assert!(!record.is_expired(4_999));
    /// assert!(record.is_expired(5_000));
    /// assert!(!SessionRecord::default().is_expired(u64::MAX)); // no expiry: never
    /// ```
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|t| t <= now_ms)
    }
}

// The typed overrides are stored as the very strings the untyped fields held
// (they were `Option<String>`), so records keep the same bytes and format
// version 1 stands (see `codec::FORMAT_VERSION`). Reading stays as lenient as the old per-response parse:
// any case is accepted, and a string that names no value decodes as `None`
// (the configured default, which is what the old parse fell back to), with
// a warning, never as a corrupt record.

/// `Secure` as `"true"`, `"false"` or `"auto"`.
mod secure_text {
    use super::{lenient, Secure};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Secure>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(match v {
                Secure::Always => "true",
                Secure::Never => "false",
                Secure::Auto => "auto",
            }),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secure>, D::Error> {
        lenient(d, "secure")
    }
}

/// `SameSite` as `"strict"`, `"lax"` or `"none"`.
mod same_site_text {
    use super::{lenient, SameSite};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<SameSite>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(match v {
                SameSite::Strict => "strict",
                SameSite::Lax => "lax",
                SameSite::None => "none",
            }),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SameSite>, D::Error> {
        lenient(d, "same_site")
    }
}

/// An optional string parsed with `T`'s `FromStr` (case-insensitive for
/// both enums); one that names no value is `None`, logged. What is not a
/// string at all stays an error, as it was for `Option<String>`.
fn lenient<'de, D, T>(d: D, field: &'static str) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = String>,
{
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    match text.parse() {
        Ok(v) => Ok(Some(v)),
        Err(why) => {
            tracing::warn!(
                field,
                "stored cookie override ignored, the configured default applies: {why}"
            );
            Ok(None)
        }
    }
}
