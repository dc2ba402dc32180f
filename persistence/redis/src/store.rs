//! [`RedisStore`]: connecting (standalone or Cluster), checking the server,
//! and the [`SessionStore`] impl, which delegates to the session operations
//! (`session_ops.rs`) and the index upkeep (`indexes.rs`).

use crate::conn::Conn;
use crate::keys::Keys;
use crate::RedisOptions;
use livesession::store::{
    Committed, Lifetime, SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture, Touched,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::{RedisError, ScriptInvocation, Value};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Reconnection attempts per failed connection (after the first), with
/// backoff from 100 ms up to 1 s.
const RECONNECT_RETRIES: usize = 2;

/// A [`SessionStore`] on Redis or a Redis Cluster, shared by every app
/// server that connects to it (see the [crate docs](crate)).
///
/// Clones share the connection.
///
/// # Examples
///
/// Two app servers (here two managers) on one Redis: a login on one is
/// seen by the other, a logout on either is final on both.
///
/// ```no_run
/// use livesession::{RequestInfo, SessionConfig, SessionManager};
/// use livesession_redis::{RedisOptions, RedisStore};
/// use std::sync::Arc;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(RedisStore::connect("redis://127.0.0.1:6379/", RedisOptions::new()).await?);
/// let server = || -> Result<SessionManager, livesession::ConfigError> {
///     Ok(SessionManager::new(
///         SessionConfig::builder()
///             .secret("a secret of at least thirty-two bytes!")
///             .store(store.clone())
///             .build()?,
///     ))
/// };
/// let (a, b) = (server()?, server()?);
/// let login = a.start(&RequestInfo { path: "/login", ..Default::default() });
/// login.bind_user("alice").await?;
/// let cookie = login.finish().await?.remove(0);
/// let cookie = cookie.split(';').next().unwrap_or_default();
/// let next = b.start(&RequestInfo { cookie_header: Some(cookie), path: "/", ..Default::default() });
/// assert_eq!(next.user().await?.as_deref(), Some("alice"));
/// # Ok(())
/// # }
/// ```
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

pub(crate) fn backend(e: RedisError) -> StoreError {
    StoreError::backend(e)
}

impl RedisStore {
    /// Connects to a standalone Redis server (`redis://[user:password@]host:port/[db]`,
    /// or `rediss://` for TLS if the `redis` crate's TLS support is enabled).
    /// Once connected the store reconnects by itself.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livesession_redis::{RedisOptions, RedisStore};
    /// use std::time::Duration;
    ///
    /// # async fn run() -> Result<(), livesession::StoreError> {
    /// let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".into());
    /// let store = RedisStore::connect(
    ///     &url,
    ///     RedisOptions::new().prefix("shop:sessions:").connect_timeout(Duration::from_secs(1)),
    /// )
    /// .await?; // fails at startup if Redis is unreachable
    /// assert_eq!(store.prefix(), "shop:sessions:");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the URL is invalid, the prefix has
    /// braces, or Redis cannot be reached within
    /// [`RedisOptions::connect_timeout`] (tried three times), or is older
    /// than 7.0.
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
    /// discovers the rest).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livesession_redis::{RedisOptions, RedisStore};
    ///
    /// # async fn run() -> Result<(), livesession::StoreError> {
    /// let nodes = vec![
    ///     "redis://10.0.0.1:6379/".to_string(),
    ///     "redis://10.0.0.2:6379/".to_string(),
    /// ];
    /// let store = RedisStore::connect_cluster(&nodes, RedisOptions::new()).await?;
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect): [`StoreError::Backend`] when a URL is
    /// invalid, the prefix has braces, or the Cluster cannot be reached or
    /// runs a Redis older than 7.0.
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
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use livesession_redis::{RedisOptions, RedisStore};
    ///
    /// # async fn run() -> Result<(), livesession::StoreError> {
    /// let store = RedisStore::connect("redis://127.0.0.1:6379/", RedisOptions::default()).await?;
    /// assert_eq!(store.prefix(), "livesession:");
    /// # Ok(())
    /// # }
    /// ```
    pub fn prefix(&self) -> &str {
        self.inner.keys.prefix()
    }

    pub(crate) fn conn(&self) -> &Conn {
        &self.inner.conn
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// [`RedisOptions::wait_replicas`], for deletes.
    pub(crate) fn wait_replicas(&self) -> Option<(usize, Duration)> {
        self.inner.wait_replicas
    }

    pub(crate) async fn script(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<Value, StoreError> {
        self.conn().script(invocation).await.map_err(backend)
    }
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
}
