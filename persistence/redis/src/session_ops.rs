//! The session operations: load, create and save (by the app server's
//! clock), touch, compare-and-set commit, and delete and end (tombstones),
//! each one script (or command) plus its index upkeep.

use crate::keys::{hex, user_tag};
use crate::store::backend;
use crate::{reply, scripts, RedisStore};
use livesession::store::{
    codec, Committed, Lifetime, SessionKey, SessionRecord, StoreError, Touched, Versioned,
};
use std::time::Duration;

/// The longest timeout or expiry distance the store writes: 100 years, in ms.
const MAX_MS: u64 = 100 * 365 * 24 * 3_600_000;

/// The latest expiry `save` writes (the year 3000, Unix ms).
const MAX_EXPIRY_MS: u64 = 32_503_680_000_000;

impl RedisStore {
    pub(crate) async fn do_load(
        &self,
        key: &SessionKey,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let mut hmget = redis::cmd("HMGET");
        hmget
            .arg(self.keys().session(&hex(key.as_bytes())))
            .arg("r")
            .arg("d");
        let reply = self.conn().query(&hmget).await.map_err(backend)?;
        let fields = reply::array(&reply, "HMGET")?;
        let tombstone = reply::bytes(reply::at(fields, 1, "HMGET")?, "HMGET")? == Some(b"1");
        match reply::bytes(reply::at(fields, 0, "HMGET")?, "HMGET")? {
            Some(bytes) if !tombstone => codec::decode(bytes).map(Some),
            _ => Ok(None),
        }
    }

    /// `save` (`nx` false) and `create` (`nx` true) with the record's own
    /// expiry, by the app server's clock.
    pub(crate) async fn write(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        nx: bool,
    ) -> Result<(), StoreError> {
        let member = hex(key.as_bytes());
        let bytes = codec::encode(record)?;
        if let Some(user) = record.user.as_deref() {
            self.bind_user(user, &member).await?;
        }
        let mut invocation = scripts::SAVE_SCRIPT.prepare_invoke();
        invocation
            .key(self.keys().session(&member))
            .arg(bytes)
            .arg(
                record
                    .expires_at_ms
                    .map_or(0, |t| t.clamp(1, MAX_EXPIRY_MS)),
            )
            .arg(record.user.as_deref().map(user_tag).unwrap_or_default())
            .arg(if nx { "nx" } else { "set" });
        let reply = self.script(&invocation).await?;
        let items = reply::array(&reply, "save script")?;
        match reply::int(reply::at(items, 0, "save script")?, "save script")? {
            0 => Err(StoreError::AlreadyExists),
            1 => {
                let expiry = reply::int(reply::at(items, 1, "save script")?, "save script")?;
                self.index(key, &member, expiry).await;
                Ok(())
            }
            2 => {
                tracing::debug!(?key, "redis store: save left a tombstone in place");
                Ok(())
            }
            _ => Err(reply::unexpected("save script")),
        }
    }

    /// `delete` (`ended` false) and `end` (`ended` true: the tombstone
    /// remembers when).
    pub(crate) async fn do_delete(
        &self,
        key: &SessionKey,
        ended: bool,
    ) -> Result<bool, StoreError> {
        let member = hex(key.as_bytes());
        let mut invocation = scripts::DELETE_SCRIPT.prepare_invoke();
        invocation
            .key(self.keys().session(&member))
            .arg(if ended { "end" } else { "" });
        let reply = self.script(&invocation).await?;
        let items = reply::array(&reply, "delete script")?;
        if reply::int(reply::at(items, 0, "delete script")?, "delete script")? == 0 {
            return Ok(false);
        }
        let tag = reply::bytes(reply::at(items, 1, "delete script")?, "delete script")?
            .unwrap_or_default();
        let mut cmds = Vec::with_capacity(2);
        let mut zrem = redis::cmd("ZREM");
        zrem.arg(self.keys().index()).arg(&member);
        cmds.push(zrem);
        if !tag.is_empty() {
            let tag = String::from_utf8_lossy(tag);
            let mut zrem = redis::cmd("ZREM");
            zrem.arg(self.keys().user(&tag)).arg(&member);
            cmds.push(zrem);
        }
        if let Err(e) = self.conn().all(cmds).await {
            tracing::warn!(?key, error = %e, "redis store: cannot unindex a deleted session (the indexes prune it later)");
        }
        if let Some((replicas, timeout)) = self.wait_replicas() {
            self.wait(key, replicas, timeout).await;
        }
        Ok(true)
    }

    /// `WAIT replicas timeout`, logging when fewer replicas acknowledged.
    async fn wait(&self, key: &SessionKey, replicas: usize, timeout: Duration) {
        let mut wait = redis::cmd("WAIT");
        wait.arg(replicas)
            .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        match self.conn().query(&wait).await {
            Ok(reply) => match reply::int(&reply, "WAIT") {
                Ok(acked) if acked >= replicas as i64 => {}
                Ok(acked) => tracing::warn!(
                    ?key,
                    acked,
                    wanted = replicas,
                    "redis store: a delete reached fewer replicas than asked within the timeout"
                ),
                Err(e) => {
                    tracing::warn!(?key, error = %e, "redis store: WAIT after a delete failed")
                }
            },
            Err(e) => tracing::warn!(?key, error = %e, "redis store: WAIT after a delete failed"),
        }
    }

    pub(crate) async fn do_create_shared(
        &self,
        key: &SessionKey,
        record: &SessionRecord,
        lifetime: Lifetime,
    ) -> Result<u64, StoreError> {
        let member = hex(key.as_bytes());
        let bytes = codec::encode(record)?;
        if let Some(user) = record.user.as_deref() {
            self.bind_user(user, &member).await?;
        }
        let mut invocation = scripts::CREATE_SCRIPT.prepare_invoke();
        invocation
            .key(self.keys().session(&member))
            .arg(bytes)
            .arg(timeout_ms(lifetime.idle_ms))
            .arg(timeout_ms(lifetime.absolute_ms))
            .arg(record.user.as_deref().map(user_tag).unwrap_or_default());
        let reply = self.script(&invocation).await?;
        let items = reply::array(&reply, "create script")?;
        match reply::int(reply::at(items, 0, "create script")?, "create script")? {
            0 => Err(StoreError::AlreadyExists),
            1 => {
                let expiry = reply::int(reply::at(items, 1, "create script")?, "create script")?;
                self.index(key, &member, expiry).await;
                Ok(1)
            }
            _ => Err(reply::unexpected("create script")),
        }
    }

    pub(crate) async fn do_touch(
        &self,
        key: &SessionKey,
        known: Option<u64>,
    ) -> Result<Touched, StoreError> {
        let member = hex(key.as_bytes());
        let mut invocation = scripts::TOUCH_SCRIPT.prepare_invoke();
        invocation
            .key(self.keys().session(&member))
            .arg(known.map(|v| v.to_string()).unwrap_or_default());
        let reply = self.script(&invocation).await?;
        let items = reply::array(&reply, "touch script")?;
        let what = "touch script";
        match reply::int(reply::at(items, 0, what)?, what)? {
            0 => Ok(Touched::Gone),
            3 => Ok(Touched::Ended {
                ago_ms: reply::uint(reply::at(items, 1, what)?, what)?,
            }),
            answer @ (1 | 2) => {
                let version = reply::uint(reply::at(items, 1, what)?, what)?;
                let score = reply::int(reply::at(items, 2, what)?, what)?;
                let touched = if answer == 1 {
                    Touched::Unchanged
                } else {
                    let bytes =
                        reply::bytes(reply::at(items, 3, what)?, what)?.ok_or_else(|| {
                            StoreError::Corrupt("session hash without a record".into())
                        })?;
                    Touched::Changed(Versioned {
                        version,
                        record: codec::decode(bytes)?,
                    })
                };
                self.index(key, &member, score).await;
                Ok(touched)
            }
            _ => Err(reply::unexpected(what)),
        }
    }

    pub(crate) async fn do_commit(
        &self,
        key: &SessionKey,
        expected: u64,
        record: &SessionRecord,
        lifetime: Lifetime,
        new_user: Option<&str>,
    ) -> Result<Committed, StoreError> {
        let member = hex(key.as_bytes());
        let bytes = codec::encode(record)?;
        if let Some(user) = new_user {
            self.bind_user(user, &member).await?;
        }
        let mut invocation = scripts::COMMIT_SCRIPT.prepare_invoke();
        invocation
            .key(self.keys().session(&member))
            .arg(expected)
            .arg(bytes)
            .arg(timeout_ms(lifetime.idle_ms))
            .arg(record.user.as_deref().map(user_tag).unwrap_or_default());
        let reply = self.script(&invocation).await?;
        let what = "commit script";
        let items = reply::array(&reply, what)?;
        match reply::int(reply::at(items, 0, what)?, what)? {
            0 => Ok(Committed::Gone),
            1 => {
                let version = reply::uint(reply::at(items, 1, what)?, what)?;
                let score = reply::int(reply::at(items, 2, what)?, what)?;
                self.index(key, &member, score).await;
                Ok(Committed::Done(version))
            }
            2 => {
                let version = reply::uint(reply::at(items, 1, what)?, what)?;
                let bytes = reply::bytes(reply::at(items, 2, what)?, what)?
                    .ok_or_else(|| StoreError::Corrupt("session hash without a record".into()))?;
                Ok(Committed::Conflict(Versioned {
                    version,
                    record: codec::decode(bytes)?,
                }))
            }
            _ => Err(reply::unexpected(what)),
        }
    }
}

/// A timeout for the scripts: 0 for none, otherwise 1 ms to 100 years.
fn timeout_ms(ms: Option<u64>) -> u64 {
    ms.map_or(0, |ms| ms.clamp(1, MAX_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_clamped() {
        assert_eq!(timeout_ms(None), 0);
        assert_eq!(timeout_ms(Some(0)), 1);
        assert_eq!(timeout_ms(Some(300)), 300);
        assert_eq!(timeout_ms(Some(u64::MAX)), MAX_MS);
    }
}
