use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
    /// `Secure`: `Some("true"|"false"|"auto")`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure: Option<String>,
    /// `SameSite`: `Some("strict"|"lax"|"none")`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
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
    pub data: BTreeMap<String, serde_json::Value>,
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
