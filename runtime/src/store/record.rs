use super::SessionData;
use crate::cookie::{SameSite, Secure};
use serde::{Deserialize, Serialize};

/// Per-session cookie attribute overrides set with `Session::options`.
/// `None` means "use the configured default".
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's data: key -> JSON value.
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
    /// Cookie overrides set by the application for this session.
    #[serde(default, skip_serializing_if = "is_default")]
    pub cookie: CookieOverrides,
}

fn is_default(c: &CookieOverrides) -> bool {
    *c == CookieOverrides::default()
}

impl SessionRecord {
    /// Whether the record must no longer be served at `now_ms`.
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
