//! Index upkeep: the user index (binding before the write, listing and
//! pruning a user's sessions) and the count index (scores after a write,
//! rechecking due entries on `count`).

use crate::keys::{hex, parse_key, user_tag};
use crate::store::backend;
use crate::{reply, scripts, RedisStore};
use livesession::store::{SessionKey, StoreError};

/// How many due count-index entries one `count` rechecks.
const COUNT_RECHECK_LIMIT: usize = 1000;

/// How many sessions one pipeline of `keys_for_user` probes.
const PROBE_BATCH: usize = 500;

/// How long a user-index entry whose session is missing or bound elsewhere
/// is kept: the binding write may still be on its way.
const USER_INDEX_GRACE_MS: u64 = 60_000;

/// A user index is pruned (as `keys_for_user` prunes it) when a binding
/// brings it to this size, and again each time it doubles: without that,
/// the entries of sessions that simply expired would pile up for a user who
/// never lists or revokes their sessions.
const USER_INDEX_PRUNE_FROM: u64 = 64;

impl RedisStore {
    /// Adds the session to the user's index, scored by Redis time; prunes
    /// the index when it has grown (best effort: a failure is logged).
    pub(crate) async fn bind_user(&self, user: &str, member: &str) -> Result<(), StoreError> {
        let mut invocation = scripts::USER_ADD_SCRIPT.prepare_invoke();
        invocation
            .key(self.keys().user(&user_tag(user)))
            .arg(member);
        let size = reply::uint(&self.script(&invocation).await?, "USER_ADD")?;
        if size >= USER_INDEX_PRUNE_FROM && size.is_power_of_two() {
            if let Err(e) = self.do_keys_for_user(user).await {
                tracing::warn!(error = %e, "redis store: cannot prune a grown user index");
            }
        }
        Ok(())
    }

    /// Writes a count-index score from a script's reply (`-1`: nothing to
    /// write, `0`: no expiry). Best effort: a failure is logged.
    pub(crate) async fn index(&self, key: &SessionKey, member: &str, score: i64) {
        let score = match score {
            s if s < 0 => return,
            0 => "+inf".to_owned(),
            s => s.to_string(),
        };
        let mut zadd = redis::cmd("ZADD");
        zadd.arg(self.keys().index()).arg(score).arg(member);
        if let Err(e) = self.conn().query(&zadd).await {
            tracing::warn!(?key, error = %e, "redis store: cannot update the count index (count() repairs it)");
        }
    }

    pub(crate) async fn do_keys_for_user(&self, user: &str) -> Result<Vec<SessionKey>, StoreError> {
        let tag = user_tag(user);
        let user_key = self.keys().user(&tag);
        let mut zrange = redis::cmd("ZRANGE");
        zrange.arg(&user_key).arg(0).arg(-1);
        let reply = self.conn().query(&zrange).await.map_err(backend)?;
        let mut members = Vec::new();
        for m in reply::array(&reply, "ZRANGE")? {
            if let Some(m) = reply::bytes(m, "ZRANGE")? {
                members.push(m.to_vec());
            }
        }

        let mut live = Vec::new();
        // (member, mode): `t` remove now, `s` remove once past the grace.
        let mut prune: Vec<(Vec<u8>, &str)> = Vec::new();
        for batch in members.chunks(PROBE_BATCH) {
            let mut probes = Vec::with_capacity(batch.len());
            let mut keyed = Vec::with_capacity(batch.len());
            for m in batch {
                match parse_key(m) {
                    Some(key) => {
                        let mut hmget = redis::cmd("HMGET");
                        hmget
                            .arg(self.keys().session(&hex(key.as_bytes())))
                            .arg("d")
                            .arg("u");
                        probes.push(hmget);
                        keyed.push((m, key));
                    }
                    None => prune.push((m.clone(), "t")),
                }
            }
            let replies = self.conn().all(probes).await.map_err(backend)?;
            if replies.len() != keyed.len() {
                return Err(reply::unexpected("HMGET pipeline"));
            }
            for ((m, key), fields) in keyed.into_iter().zip(&replies) {
                let fields = reply::array(fields, "HMGET")?;
                let d = reply::bytes(reply::at(fields, 0, "HMGET")?, "HMGET")?;
                let u = reply::bytes(reply::at(fields, 1, "HMGET")?, "HMGET")?;
                if d == Some(b"1") {
                    prune.push((m.clone(), "t"));
                } else if u == Some(tag.as_bytes()) {
                    live.push(key);
                } else {
                    // Gone, or bound to someone else: perhaps its binding
                    // write has not landed yet.
                    prune.push((m.clone(), "s"));
                }
            }
        }

        if !prune.is_empty() {
            let mut invocation = scripts::USER_PRUNE_SCRIPT.prepare_invoke();
            invocation.key(&user_key).arg(USER_INDEX_GRACE_MS);
            for (m, mode) in &prune {
                invocation.arg(m.as_slice()).arg(*mode);
            }
            if let Err(e) = self.script(&invocation).await {
                tracing::warn!(error = %e, "redis store: cannot prune a user index");
            }
        }
        Ok(live)
    }

    pub(crate) async fn do_count(&self) -> Result<u64, StoreError> {
        let index = self.keys().index();
        let mut invocation = scripts::COUNT_DUE_SCRIPT.prepare_invoke();
        invocation.key(&index).arg(COUNT_RECHECK_LIMIT);
        let reply = self.script(&invocation).await?;
        let items = reply::array(&reply, "count script")?;
        let cardinality = reply::uint(reply::at(items, 0, "count script")?, "count script")?;
        let due = reply::array(reply::at(items, 1, "count script")?, "count script")?;
        if due.is_empty() {
            return Ok(cardinality);
        }

        // (member, score seen): probe each with HGET d + PEXPIRETIME.
        let mut seen = Vec::with_capacity(due.len() / 2);
        let mut probes = Vec::with_capacity(due.len());
        for pair in due.chunks(2) {
            let [member, score] = pair else {
                return Err(reply::unexpected("count script"));
            };
            let member = reply::bytes(member, "count script")?.unwrap_or_default();
            let score = reply::bytes(score, "count script")?.unwrap_or_default();
            let session = self.keys().session(&String::from_utf8_lossy(member));
            let mut hget = redis::cmd("HGET");
            hget.arg(&session).arg("d");
            let mut pexpiretime = redis::cmd("PEXPIRETIME");
            pexpiretime.arg(&session);
            probes.push(hget);
            probes.push(pexpiretime);
            seen.push((member, score));
        }
        let replies = self.conn().all(probes).await.map_err(backend)?;
        if replies.len() != seen.len() * 2 {
            return Err(reply::unexpected("count probes"));
        }

        let mut fix = scripts::COUNT_FIX_SCRIPT.prepare_invoke();
        fix.key(&index);
        for ((member, score), probe) in seen.into_iter().zip(replies.chunks(2)) {
            let tombstone = reply::bytes(&probe[0], "HGET")? == Some(b"1");
            let expires = reply::int(&probe[1], "PEXPIRETIME")?;
            let new_score = match expires {
                _ if tombstone || parse_key(member).is_none() => String::new(),
                -2 => String::new(),
                -1 => "+inf".to_owned(),
                t => t.to_string(),
            };
            fix.arg(member).arg(score).arg(new_score);
        }
        let reply = self.script(&fix).await?;
        reply::uint(&reply, "count fix script")
    }
}
