//! A deadline on every store call, so a hanging backend fails requests with
//! a clear error instead of hanging them (and the sessions behind them), and
//! the store metrics (latency by operation, errors).

use super::{
    Committed, Lifetime, SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture, Touched,
};
use crate::metrics::StoreOp;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Wraps a store so that each call fails with [`StoreError::Backend`] after
/// `limit`. Installed by the config builder around every store.
pub(crate) struct TimeoutStore {
    inner: Arc<dyn SessionStore>,
    limit: Duration,
}

impl TimeoutStore {
    pub fn new(inner: Arc<dyn SessionStore>, limit: Duration) -> Self {
        TimeoutStore { inner, limit }
    }

    fn bound<'a, T: Send + 'a>(
        &self,
        op: StoreOp,
        fut: impl Future<Output = Result<T, StoreError>> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let limit = self.limit;
        let span = tracing::trace_span!("livesession.store", op = op.label());
        Box::pin(
            async move {
                let started = std::time::Instant::now();
                let result = match tokio::time::timeout(limit, fut).await {
                    Ok(r) => r,
                    Err(_) => Err(StoreError::backend(format!(
                        "session store {op} timed out after {} ms",
                        limit.as_millis()
                    ))),
                };
                // A missing record or a refused duplicate is an answer, not a failure.
                let ok = matches!(result, Ok(_) | Err(StoreError::AlreadyExists));
                crate::metrics::store_op(op, started.elapsed().as_secs_f64(), ok);
                result
            }
            .instrument(span),
        )
    }
}

impl SessionStore for TimeoutStore {
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        self.bound(StoreOp::Load, self.inner.load(key))
    }

    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        self.bound(StoreOp::Create, self.inner.create(key, record))
    }

    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        self.bound(StoreOp::Save, self.inner.save(key, record))
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        self.bound(StoreOp::Delete, self.inner.delete(key))
    }

    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
        self.bound(StoreOp::KeysForUser, self.inner.keys_for_user(user))
    }

    fn remove_expired<'a>(
        &'a self,
        now_ms: u64,
        limit: usize,
        skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        self.bound(
            StoreOp::RemoveExpired,
            self.inner.remove_expired(now_ms, limit, skip),
        )
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        self.bound(StoreOp::Count, self.inner.count())
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        self.bound(StoreOp::Flush, self.inner.flush())
    }

    fn end<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        self.bound(StoreOp::Delete, self.inner.end(key))
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    fn completed_writes_are_durable(&self) -> bool {
        self.inner.completed_writes_are_durable()
    }

    fn create_shared<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a SessionRecord,
        lifetime: Lifetime,
    ) -> StoreFuture<'a, u64> {
        self.bound(
            StoreOp::Create,
            self.inner.create_shared(key, record, lifetime),
        )
    }

    fn touch<'a>(&'a self, key: &'a SessionKey, known: Option<u64>) -> StoreFuture<'a, Touched> {
        self.bound(StoreOp::Touch, self.inner.touch(key, known))
    }

    fn commit<'a>(
        &'a self,
        key: &'a SessionKey,
        expected: u64,
        record: &'a SessionRecord,
        lifetime: Lifetime,
        new_user: Option<&'a str>,
    ) -> StoreFuture<'a, Committed> {
        self.bound(
            StoreOp::Commit,
            self.inner.commit(key, expected, record, lifetime, new_user),
        )
    }
}
