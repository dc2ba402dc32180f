//! A Redis (or Redis Cluster) session store for
//! [livesession](https://docs.rs/livesession) shared by several app servers.
//!
//! [`RedisStore`] is a *shared* store ([`SessionStore::is_shared`] is true):
//! Redis holds the truth about every session, each app server keeps only a
//! cache, and every write is a compare-and-set on a version the store keeps.
//! Two servers writing one session at once never lose an update (the second
//! gets [`Committed::Conflict`] with the current record and re-applies its
//! changes), a logout on one server is final on all of them (a deleted
//! session leaves a tombstone that no later write can bring back), and
//! expiry is measured by the Redis node's clock, so the servers' clocks do
//! not matter.
//!
//! ```no_run
//! use livesession::{SessionConfig, SessionManager};
//! use livesession_redis::{RedisOptions, RedisStore};
//! use std::sync::Arc;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::connect(
//!     "redis://127.0.0.1:6379/",
//!     RedisOptions::new().prefix("myapp:sessions:"),
//! )
//! .await?;
//! let manager = SessionManager::new(
//!     SessionConfig::builder()
//!         .secret(std::env::var("SESSION_SECRET")?)
//!         .store(Arc::new(store))
//!         .build()?,
//! );
//! # let _ = manager;
//! # Ok(())
//! # }
//! ```
//!
//! A Cluster: [`RedisStore::connect_cluster`] with the URLs of some of its
//! nodes. Needs Redis 7.0 or later (or Valkey 7.2 or later).
//!
//! # Keys
//!
//! Nothing in Redis names a raw session id or a raw user name: the runtime
//! hands the store only [`SessionKey`]s (SHA-256 of the id), and users are
//! indexed by the SHA-256 of their name. With the default prefix
//! `livesession:`:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `livesession:s:{<hex of the session key>}` | hash | one session: `v` version, `r` the record ([`codec`] bytes), `i` idle timeout ms (0: none), `a` absolute end ms by Redis time (0: none), `u` hex SHA-256 of the bound user, `x` the expiry last written to the count index, `d` = 1 for a tombstone (which has no `r`), `e` when [`end`](SessionStore::end) made it one (Redis time ms) |
//! | `livesession:u:{<hex SHA-256 of the user>}` | sorted set | the user's sessions (hex keys), scored by the Redis time they were bound |
//! | `livesession:index` | sorted set | every live session (hex key), scored by its expiry ms (`+inf`: none), for [`count`](SessionStore::count) |
//!
//! The braces are a Cluster hash tag. Every script touches exactly one key,
//! so it runs on the one node that owns it; the user index and the count
//! index are written by separate commands. The count index is a single key:
//! on a Cluster, one node takes every session's index writes.
//!
//! A session key expires (`PEXPIREAT`) at the earlier of its idle end (the
//! last create, touch or commit + its idle timeout) and its absolute end,
//! both by the time Redis reads inside the script (`TIME`); with neither it
//! never expires. A tombstone keeps the expiry of the session it ends.
//!
//! # Round trips
//!
//! | call | round trips |
//! | --- | --- |
//! | [`touch`](SessionStore::touch) | 1 script; + 1 `ZADD` when the expiry moved by more than a quarter of the idle timeout since the count index last heard of it |
//! | [`commit`](SessionStore::commit) | 1 script (+ 1 `ZADD` as for touch, or when the expiry moved earlier); + 1 before it when it binds a user |
//! | [`create_shared`](SessionStore::create_shared) | 1 script + 1 `ZADD`; + 1 before them when the record has a user |
//! | [`delete`](SessionStore::delete), [`end`](SessionStore::end) | 1 script; + 1 (the index removals, pipelined) when it deleted something; + 1 `WAIT` when [`RedisOptions::wait_replicas`] is set |
//! | [`keys_for_user`](SessionStore::keys_for_user) | 1 `ZRANGE` + 1 pipeline of `HMGET`s (per 500 sessions) + 1 script when it prunes |
//! | [`count`](SessionStore::count) | 1 script; + 2 (a pipeline of probes, a script) when index entries are due for a recheck |
//! | [`load`](SessionStore::load) | 1 `HMGET` |
//! | [`save`](SessionStore::save), [`create`](SessionStore::create) (not used by the runtime on a shared store) | 1 script + 1 `ZADD`; + 1 before them when the record has a user |
//!
//! On a Cluster, a "pipeline" is the same commands sent concurrently, one
//! request each, over the multiplexed connections to the nodes.
//!
//! # Consistency and durability
//!
//! - A user is indexed *before* the write that binds the session to it, so
//!   a [`keys_for_user`](SessionStore::keys_for_user) (a revoke) that starts
//!   after `create_shared` or `commit` returned finds the session.
//!   `keys_for_user` returns only live sessions still bound to the user; it
//!   prunes tombstones from the index at once, and entries of sessions that
//!   are gone or bound to someone else once they were indexed more than a
//!   minute ago (until then their write may still be on its way).
//! - [`count`](SessionStore::count) is exact once expired entries are
//!   rechecked: each call first rechecks up to 1000 index entries whose
//!   indexed expiry has passed (removing the gone ones, re-scoring the live
//!   ones from `PEXPIRETIME`), then answers the index's size. Entries are
//!   never indexed later than their key expires, so only a backlog of more
//!   than 1000 due entries makes it count sessions that already ended.
//! - [`flush`](SessionStore::flush) returns at once: Redis acknowledges a
//!   write once it has applied it, and with `appendonly yes` and
//!   `appendfsync always` it is on disk by then (with `everysec`, up to a
//!   second of writes can be lost in a crash). Replication is asynchronous:
//!   a failover can lose acknowledged writes. [`RedisOptions::wait_replicas`]
//!   makes `delete` (logouts, revokes) wait for replicas with `WAIT`.
//! - Index upkeep after a decisive write (the `ZADD` after a create or
//!   commit, the removals after a delete) is best effort: a failure is
//!   logged and the write still counts, because a commit reported as failed
//!   would be retried and applied twice. The indexes repair themselves:
//!   `count` rechecks entries, `keys_for_user` prunes them, a later touch or
//!   commit indexes the session again.
//!
//! # Connections and outages
//!
//! [`RedisStore::connect`] connects at once and fails (after
//! [`RedisOptions::connect_timeout`] and two quick retries) when Redis is
//! unreachable, so a misconfigured server is noticed at startup. Once
//! connected, the store reconnects by itself: during an outage calls fail
//! with [`StoreError::Backend`] within a few connect timeouts, and the first
//! calls after Redis is back succeed again on the same store. Scripts are
//! sent as `EVALSHA` and loaded again when a restarted server lost them.
//!
//! [`codec`]: livesession::store::codec

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod conn;
mod keys;
mod reply;
mod scripts;

use conn::Conn;
use keys::{hex, parse_key, user_tag, Keys};
use livesession::store::{
    codec, Committed, Lifetime, SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture,
    Touched, Versioned,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::{RedisError, ScriptInvocation, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The longest timeout or expiry distance the store writes: 100 years, in ms.
const MAX_MS: u64 = 100 * 365 * 24 * 3_600_000;

/// The latest expiry `save` writes (the year 3000, Unix ms).
const MAX_EXPIRY_MS: u64 = 32_503_680_000_000;

/// How many due count-index entries one `count` rechecks.
const COUNT_RECHECK_LIMIT: usize = 1000;

/// How many sessions one pipeline of `keys_for_user` probes.
const PROBE_BATCH: usize = 500;

/// How long a user-index entry whose session is missing or bound elsewhere
/// is kept: the binding write may still be on its way.
const USER_INDEX_GRACE_MS: u64 = 60_000;

/// Reconnection attempts per failed connection (after the first), with
/// backoff from 100 ms up to 1 s.
const RECONNECT_RETRIES: usize = 2;

/// How a [`RedisStore`] connects and names its keys.
///
/// ```
/// use livesession_redis::RedisOptions;
/// use std::time::Duration;
///
/// let options = RedisOptions::new()
///     .prefix("shop:sessions:")
///     .wait_replicas(1, Duration::from_millis(50));
/// assert_eq!(options.prefix, "shop:sessions:");
/// assert_eq!(RedisOptions::default().prefix, "livesession:");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Starts every key the store writes. Default `livesession:`. Must not
    /// contain `{` or `}` (the session keys' Cluster hash tags).
    pub prefix: String,
    /// After a `delete` (logout, regenerate, revoke), wait with `WAIT` until
    /// this many replicas acknowledged it, at most this long, so that a
    /// failover right after a logout does not bring the session back. Fewer
    /// acknowledgements are logged as a warning; the delete still succeeds.
    /// Default `None`: no waiting.
    pub wait_replicas: Option<(usize, Duration)>,
    /// How long one connection attempt may take. Default 2 s.
    pub connect_timeout: Duration,
    /// How long one command may wait for its reply. Default 5 s.
    pub response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "livesession:".to_owned(),
            wait_replicas: None,
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
        }
    }
}

impl RedisOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets [`prefix`](Self::prefix).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets [`wait_replicas`](Self::wait_replicas) to `replicas` within `timeout`.
    pub fn wait_replicas(mut self, replicas: usize, timeout: Duration) -> Self {
        self.wait_replicas = Some((replicas, timeout));
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`response_timeout`](Self::response_timeout).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }
}

/// A [`SessionStore`] on Redis or a Redis Cluster, shared by every app
/// server that connects to it (see the [crate docs](crate)).
///
/// Clones share the connection.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    keys: Keys,
    wait_replicas: Option<(usize, Duration)>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.keys.prefix())
            .field("cluster", &self.inner.conn.is_cluster())
            .field("wait_replicas", &self.inner.wait_replicas)
            .finish()
    }
}

/// Why connecting failed: where to (without credentials), and the Redis
/// error as the source.
#[derive(Debug)]
struct ConnectError {
    target: String,
    source: RedisError,
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot connect to Redis at {}: {}",
            self.target, self.source
        )
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// `url` without its password (`redis://user:secret@host` -> `redis://***@host`).
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn backend(e: RedisError) -> StoreError {
    StoreError::backend(e)
}

impl RedisStore {
    /// Connects to a standalone Redis server (`redis://[user:password@]host:port/[db]`,
    /// or `rediss://` for TLS if the `redis` crate's TLS support is enabled).
    ///
    /// Fails with [`StoreError::Backend`] when the URL is invalid, the prefix
    /// has braces, or Redis cannot be reached within
    /// [`RedisOptions::connect_timeout`] (tried three times), or is older
    /// than 7.0. Once connected the store reconnects by itself.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<RedisStore, StoreError> {
        check_prefix(&options.prefix)?;
        let target = redact(url);
        let fail = |source| {
            StoreError::backend(ConnectError {
                target: target.clone(),
                source,
            })
        };
        let client = redis::Client::open(url).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(Duration::from_secs(1));
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(fail)?;
        Self::ready(Conn::Single(manager), options, &target).await
    }

    /// Connects to a Redis Cluster through some of its nodes' URLs (it
    /// discovers the rest). Fails as [`connect`](Self::connect) does.
    pub async fn connect_cluster(
        urls: &[String],
        options: RedisOptions,
    ) -> Result<RedisStore, StoreError> {
        check_prefix(&options.prefix)?;
        let target = urls
            .iter()
            .map(|u| redact(u))
            .collect::<Vec<_>>()
            .join(", ");
        let fail = |source| {
            StoreError::backend(ConnectError {
                target: target.clone(),
                source,
            })
        };
        let client = ClusterClient::builder(urls.iter().map(String::as_str))
            .connection_timeout(options.connect_timeout)
            .response_timeout(options.response_timeout)
            .retries(RECONNECT_RETRIES as u32)
            .build()
            .map_err(fail)?;
        let connection = client.get_async_connection().await.map_err(fail)?;
        Self::ready(Conn::Cluster(connection), options, &target).await
    }

    /// Checks that the server answers and knows `PEXPIRETIME` (Redis 7.0).
    async fn ready(
        conn: Conn,
        options: RedisOptions,
        target: &str,
    ) -> Result<RedisStore, StoreError> {
        let keys = Keys::new(options.prefix);
        let mut probe = redis::cmd("PEXPIRETIME");
        probe.arg(keys.index());
        conn.query(&probe).await.map_err(|source| {
            StoreError::backend(ConnectError {
                target: format!("{target} (which needs Redis 7.0 or later)"),
                source,
            })
        })?;
        Ok(RedisStore {
            inner: Arc::new(Inner {
                conn,
                keys,
                wait_replicas: options.wait_replicas,
            }),
        })
    }

    /// The prefix of every key this store writes.
    pub fn prefix(&self) -> &str {
        self.inner.keys.prefix()
    }

    fn conn(&self) -> &Conn {
        &self.inner.conn
    }

    fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    async fn script(&self, invocation: &ScriptInvocation<'_>) -> Result<Value, StoreError> {
        self.conn().script(invocation).await.map_err(backend)
    }

    /// Adds the session to the user's index, scored by Redis time.
    async fn bind_user(&self, user: &str, member: &str) -> Result<(), StoreError> {
        let mut invocation = scripts::USER_ADD_SCRIPT.prepare_invoke();
        invocation
            .key(self.keys().user(&user_tag(user)))
            .arg(member);
        self.script(&invocation).await.map(drop)
    }

    /// Writes a count-index score from a script's reply (`-1`: nothing to
    /// write, `0`: no expiry). Best effort: a failure is logged.
    async fn index(&self, key: &SessionKey, member: &str, score: i64) {
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

    async fn do_load(&self, key: &SessionKey) -> Result<Option<SessionRecord>, StoreError> {
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
    async fn write(
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
    async fn do_delete(&self, key: &SessionKey, ended: bool) -> Result<bool, StoreError> {
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
        if let Some((replicas, timeout)) = self.inner.wait_replicas {
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

    async fn do_keys_for_user(&self, user: &str) -> Result<Vec<SessionKey>, StoreError> {
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

    async fn do_count(&self) -> Result<u64, StoreError> {
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

    async fn do_create_shared(
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

    async fn do_touch(&self, key: &SessionKey, known: Option<u64>) -> Result<Touched, StoreError> {
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

    async fn do_commit(
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

fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    if prefix.contains(['{', '}']) {
        return Err(StoreError::backend(format!(
            "the Redis key prefix {prefix:?} must not contain braces (they are the keys' Cluster hash tags)"
        )));
    }
    Ok(())
}

impl SessionStore for RedisStore {
    /// The live record's `r`; `None` for no record or a tombstone.
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        Box::pin(self.do_load(key))
    }

    /// Stores a new record at version 1 with the record's own
    /// `expires_at_ms` (the app server's clock); the runtime uses
    /// [`create_shared`](SessionStore::create_shared) instead.
    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(self.write(key, record, true))
    }

    /// Writes unconditionally at the next version, expiring at the record's
    /// `expires_at_ms` (the app server's clock), keeping the idle timeout and
    /// absolute end of the last create; a tombstone stays a tombstone. The
    /// runtime never calls it on a shared store.
    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        Box::pin(self.write(key, record, false))
    }

    /// Turns a live record into a tombstone that keeps its expiry, and
    /// unindexes it; `false` when there was no live record.
    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        Box::pin(self.do_delete(key, false))
    }

    /// As [`delete`](SessionStore::delete), and the tombstone remembers when
    /// (Redis time), so [`touch`](SessionStore::touch) answers
    /// [`Touched::Ended`] until the tombstone expires with the session's
    /// last expiry.
    fn end<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        Box::pin(self.do_delete(key, true))
    }

    /// The live sessions bound to `user`, pruning the index on the way.
    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
        Box::pin(self.do_keys_for_user(user))
    }

    /// `Ok(0)`: Redis expires keys by itself.
    fn remove_expired<'a>(
        &'a self,
        _now_ms: u64,
        _limit: usize,
        _skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        Box::pin(async { Ok(0) })
    }

    /// Live sessions, from the count index (see the crate docs).
    fn count(&self) -> StoreFuture<'_, u64> {
        Box::pin(self.do_count())
    }

    /// `Ok(())` at once: Redis acknowledged every write once it applied it
    /// (see the crate docs on durability).
    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(async { Ok(()) })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn create_shared<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a SessionRecord,
        lifetime: Lifetime,
    ) -> StoreFuture<'a, u64> {
        Box::pin(self.do_create_shared(key, record, lifetime))
    }

    fn touch<'a>(&'a self, key: &'a SessionKey, known: Option<u64>) -> StoreFuture<'a, Touched> {
        Box::pin(self.do_touch(key, known))
    }

    fn commit<'a>(
        &'a self,
        key: &'a SessionKey,
        expected: u64,
        record: &'a SessionRecord,
        lifetime: Lifetime,
        new_user: Option<&'a str>,
    ) -> StoreFuture<'a, Committed> {
        Box::pin(self.do_commit(key, expected, record, lifetime, new_user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact("redis://user:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(redact("redis://host:6379/"), "redis://host:6379/");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn braces_are_refused_in_prefixes() {
        assert!(check_prefix("livesession:").is_ok());
        assert!(check_prefix("a{b}:").is_err());
    }

    #[test]
    fn timeouts_are_clamped() {
        assert_eq!(timeout_ms(None), 0);
        assert_eq!(timeout_ms(Some(0)), 1);
        assert_eq!(timeout_ms(Some(300)), 300);
        assert_eq!(timeout_ms(Some(u64::MAX)), MAX_MS);
    }
}
