//! What a response's `Set-Cookie` must be, and the sessions it creates.

use super::drive::expect_eq;
use super::spec::{id_of, Model, Phase, Request};
use super::COOKIE;
use livesession::signing::Signer;

/// What a response does to the client's cookie.
#[derive(Debug)]
pub(crate) enum JarEffect {
    None,
    Set(String),
    Clear,
}

impl Model {
    /// The cookie value the runtime sends for `id`.
    pub(crate) fn cookie_for(&self, id: &str) -> String {
        self.signer.sign(id)
    }

    /// Checks a response's `Set-Cookie` and records a created session.
    pub(crate) fn finish(
        &mut self,
        r: Request,
        set_cookie: &[String],
    ) -> Result<JarEffect, String> {
        let got = parse_set_cookie(set_cookie)?;
        let had_cookie = r.cookie.is_some();
        // No session to send: a cookie the client sent is cleared.
        let gone = |clear: bool| match (clear, &got) {
            (true, Some(SetCookie::Clear)) => Ok(JarEffect::Clear),
            (false, None) => Ok(JarEffect::None),
            (true, other) => Err(format!(
                "no session: expected the cookie to be cleared, got {other:?}"
            )),
            (false, other) => Err(format!("no session: expected no Set-Cookie, got {other:?}")),
        };
        match &r.phase {
            // Never used: nothing to answer.
            Phase::Unloaded => gone(false),
            Phase::Live { id, retired, .. } if self.alive(id) => match &got {
                Some(SetCookie::Value(v))
                    if id_of(v) == id && (r.id_changed || r.cookie.as_ref() == Some(v)) =>
                {
                    if *retired {
                        // Passivated since: finding it again is a load.
                        let now = self.now;
                        self.session(id).last_load = now;
                    }
                    expect_eq("cookie value", v.clone(), self.cookie_for(id))?;
                    Ok(JarEffect::Set(v.clone()))
                }
                other => Err(format!(
                    "live session {id}: expected its cookie (rolling), got {other:?}"
                )),
            },
            Phase::Live {
                retired: true, id, ..
            } if self.known.finish_resends_id_ended_after_passivation => match &got {
                Some(SetCookie::Value(v)) if r.cookie.as_ref() == Some(v) => {
                    Ok(JarEffect::Set(v.clone()))
                }
                other => Err(format!(
                    "session {id} ended after passivation: expected its cookie (known), got {other:?}"
                )),
            },
            // Ended by another request while this one was in flight: its id
            // is never sent again, and cleared only if it was not a logout or
            // login a moment ago (the browser holds a newer cookie then).
            Phase::Live { id, .. } => gone(had_cookie && !r.id_changed && !self.ended_recently(id))
                .map_err(|e| format!("session {id} ended: {e}")),
            // Its user was revoked before it was created: never created.
            Phase::Fresh(_) if (r.modified || r.must_create) && r.binding_revoked => {
                gone(had_cookie)
            }
            Phase::Fresh(view) if r.modified || r.must_create => match &got {
                Some(SetCookie::Value(v)) => {
                    expect_eq("cookie value", v.clone(), self.cookie_for(id_of(v)))?;
                    self.create(id_of(v), view.clone())?;
                    Ok(JarEffect::Set(v.clone()))
                }
                other => Err(format!("expected the cookie of a new session, got {other:?}")),
            },
            Phase::Destroyed => gone(had_cookie),
            Phase::Fresh(_) => {
                let stale = r.cookie.as_ref().is_some_and(|c| self.ended_recently(id_of(c)));
                gone(had_cookie && (r.destroyed_here || !stale))
            }
        }
    }
}

#[derive(Debug)]
/// What one response does to its cookie, as [`parse_set_cookie`] reads it.
pub enum SetCookie {
    /// Sets the cookie to this value.
    Value(String),
    /// Clears the cookie.
    Clear,
}

/// Reads a response's `Set-Cookie` values: none, or one for the session
/// cookie [`COOKIE`]; anything else is an error.
pub fn parse_set_cookie(set: &[String]) -> Result<Option<SetCookie>, String> {
    match set {
        [] => Ok(None),
        [one] => {
            let pair = one.split(';').next().unwrap_or_default();
            let value = pair
                .strip_prefix(COOKIE)
                .and_then(|v| v.strip_prefix('='))
                .ok_or_else(|| format!("unexpected Set-Cookie {one:?}"))?;
            if value.is_empty() || one.contains("Max-Age=0") {
                Ok(Some(SetCookie::Clear))
            } else {
                Ok(Some(SetCookie::Value(value.to_string())))
            }
        }
        more => Err(format!("more than one Set-Cookie: {more:?}")),
    }
}
