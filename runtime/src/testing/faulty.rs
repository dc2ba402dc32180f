//! [`FaultyStore`]: fault injection for tests of the runtime.

use crate::store::{
    Committed, Lifetime, SessionKey, SessionRecord, SessionStore, StoreError, StoreFuture, Touched,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A [`SessionStore`] operation, for [`FaultyStore`].
///
/// # Examples
///
/// ```
/// use livesession::store::MemoryStore;
/// use livesession::testing::{FaultyStore, Op};
/// let store = FaultyStore::new(MemoryStore::new());
/// for op in Op::ALL {
///     store.fail(op, true); // a store that is down
/// }
/// # store.heal();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// [`SessionStore::load`].
    Load,
    /// [`SessionStore::create`] and [`SessionStore::create_shared`].
    Create,
    /// [`SessionStore::save`].
    Save,
    /// [`SessionStore::delete`] and [`SessionStore::end`].
    Delete,
    /// [`SessionStore::keys_for_user`].
    KeysForUser,
    /// [`SessionStore::remove_expired`].
    RemoveExpired,
    /// [`SessionStore::count`].
    Count,
    /// [`SessionStore::flush`].
    Flush,
    /// [`SessionStore::touch`] (shared stores).
    Touch,
    /// [`SessionStore::commit`] (shared stores).
    Commit,
}

const OPS: usize = 10;

impl Op {
    /// Every operation.
    pub const ALL: [Op; OPS] = [
        Op::Load,
        Op::Create,
        Op::Save,
        Op::Delete,
        Op::KeysForUser,
        Op::RemoveExpired,
        Op::Count,
        Op::Flush,
        Op::Touch,
        Op::Commit,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Clone, Copy, Default)]
struct Fault {
    fail: bool,
    fail_next: u32,
    delay: Duration,
    hang: bool,
    panic: bool,
}

/// What one call will do, decided when it is made.
struct Plan {
    delay: Duration,
    hang: bool,
    fail: bool,
    panic: bool,
}

/// Wraps a store and, on command, makes chosen operations fail, slow down or
/// hang, delegating to the wrapped store otherwise.
///
/// Clones share the wrapped store, the fault settings and the call counters,
/// so a test keeps a clone to steer a store it handed to the runtime. A
/// failing call returns [`StoreError::Backend`] without reaching the wrapped
/// store. Faults are decided when the call is made: a delayed call sleeps
/// first and then fails or delegates; a hanging call never completes (drop it,
/// e.g. through a timeout).
///
/// It wraps shared stores too: [`is_shared`](SessionStore::is_shared) is the
/// wrapped store's, [`create_shared`](SessionStore::create_shared) faults as
/// [`Op::Create`], [`end`](SessionStore::end) as [`Op::Delete`],
/// [`touch`](SessionStore::touch) as [`Op::Touch`] and
/// [`commit`](SessionStore::commit) as [`Op::Commit`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore, StoreError};
/// use livesession::testing::{FaultyStore, Op};
/// use std::time::Duration;
///
/// let store = FaultyStore::new(MemoryStore::new());
/// let key = SessionKey::of_id("id");
/// store.fail(Op::Save, true);
/// assert!(matches!(store.save(&key, &SessionRecord::default()).await, Err(StoreError::Backend(_))));
/// store.fail(Op::Save, false);
/// store.save(&key, &SessionRecord::default()).await.unwrap();
///
/// store.hang(Op::Load, true);
/// let hung = tokio::time::timeout(Duration::from_millis(10), store.load(&key)).await;
/// assert!(hung.is_err());
/// store.heal();
/// assert!(store.load(&key).await.unwrap().is_some());
/// assert_eq!(store.calls(Op::Load), 2);
/// # });
/// ```
pub struct FaultyStore<S> {
    inner: Arc<S>,
    faults: Arc<Mutex<[Fault; OPS]>>,
    calls: Arc<[AtomicU64; OPS]>,
    durable_on_completion: Arc<AtomicBool>,
}

impl<S> Clone for FaultyStore<S> {
    fn clone(&self) -> Self {
        FaultyStore {
            inner: Arc::clone(&self.inner),
            faults: Arc::clone(&self.faults),
            calls: Arc::clone(&self.calls),
            durable_on_completion: Arc::clone(&self.durable_on_completion),
        }
    }
}

impl<S: SessionStore> FaultyStore<S> {
    /// Wraps `inner`; no faults are active.
    ///
    /// # Examples
    ///
    /// Fault injection through a manager: keep a clone to steer the store.
    ///
    /// ```
    /// use livesession::store::MemoryStore;
    /// use livesession::testing::{FaultyStore, Op};
    /// use livesession::{RequestInfo, SessionConfig, SessionError, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = FaultyStore::new(MemoryStore::new());
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(Arc::new(store.clone()))
    ///         .build()
    ///         .unwrap(),
    /// );
    /// store.fail(Op::Create, true);
    /// let request = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// request.insert("n", 1).await.unwrap();
    /// assert!(matches!(request.finish().await, Err(SessionError::Store(_))));
    /// # });
    /// ```
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner: Arc::new(inner),
            faults: Arc::new(Mutex::new([Fault::default(); OPS])),
            calls: Arc::new(std::array::from_fn(|_| AtomicU64::new(0))),
            durable_on_completion: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The wrapped store (calls on it bypass the faults).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionStore};
    /// use livesession::testing::{FaultyStore, Op};
    /// let store = FaultyStore::new(MemoryStore::new());
    /// store.fail(Op::Count, true);
    /// assert!(store.count().await.is_err());
    /// assert_eq!(store.inner().count().await.unwrap(), 0); // what is really there
    /// # });
    /// ```
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn with_fault<T>(&self, op: Op, f: impl FnOnce(&mut Fault) -> T) -> T {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut faults[op.index()])
    }

    /// Makes the store say that its completed writes are durable (`true`),
    /// as the sled store with sync durability does, or what the wrapped
    /// store says (`false`, the default): see
    /// [`SessionStore::completed_writes_are_durable`].
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::{MemoryStore, SessionStore};
    /// use livesession::testing::FaultyStore;
    /// let store = FaultyStore::new(MemoryStore::new());
    /// assert!(!store.completed_writes_are_durable());
    /// store.durable_on_completion(true);
    /// assert!(store.completed_writes_are_durable());
    /// ```
    pub fn durable_on_completion(&self, on: bool) {
        self.durable_on_completion.store(on, Ordering::SeqCst);
    }

    /// Makes every call of `op` fail (`true`) or stops doing so (`false`).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionStore, StoreError};
    /// use livesession::testing::{FaultyStore, Op};
    /// let store = FaultyStore::new(MemoryStore::new());
    /// store.fail(Op::Flush, true);
    /// assert!(matches!(store.flush().await, Err(StoreError::Backend(_))));
    /// store.fail(Op::Flush, false);
    /// store.flush().await.unwrap();
    /// # });
    /// ```
    pub fn fail(&self, op: Op, on: bool) {
        self.with_fault(op, |f| f.fail = on);
    }

    /// Makes the next `n` calls of `op` fail, then behave again.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionKey, SessionStore};
    /// use livesession::testing::{FaultyStore, Op};
    /// let store = FaultyStore::new(MemoryStore::new());
    /// let key = SessionKey::of_id("id");
    /// store.fail_next(Op::Load, 2); // a blip
    /// assert!(store.load(&key).await.is_err());
    /// assert!(store.load(&key).await.is_err());
    /// assert!(store.load(&key).await.is_ok());
    /// # });
    /// ```
    pub fn fail_next(&self, op: Op, n: u32) {
        self.with_fault(op, |f| f.fail_next = n);
    }

    /// Delays every call of `op` by `delay` (`Duration::ZERO`: no delay).
    ///
    /// # Examples
    ///
    /// A slow disk against the runtime's store timeout:
    ///
    /// ```
    /// use livesession::store::MemoryStore;
    /// use livesession::testing::{FaultyStore, Op};
    /// use livesession::{RequestInfo, SessionConfig, SessionError, SessionManager};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = FaultyStore::new(MemoryStore::new());
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(Arc::new(store.clone()))
    ///         .store_timeout(Duration::from_millis(20))
    ///         .build()
    ///         .unwrap(),
    /// );
    /// store.delay(Op::Create, Duration::from_millis(200));
    /// let request = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// request.insert("n", 1).await.unwrap();
    /// assert!(matches!(request.finish().await, Err(SessionError::Store(_)))); // after 20 ms, not 200
    /// # });
    /// ```
    pub fn delay(&self, op: Op, delay: Duration) {
        self.with_fault(op, |f| f.delay = delay);
    }

    /// Makes every call of `op` hang forever (`true`) or stops doing so.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionStore};
    /// use livesession::testing::{FaultyStore, Op};
    /// use std::time::Duration;
    /// let store = FaultyStore::new(MemoryStore::new());
    /// store.hang(Op::Flush, true);
    /// assert!(tokio::time::timeout(Duration::from_millis(10), store.flush()).await.is_err());
    /// store.hang(Op::Flush, false);
    /// store.flush().await.unwrap();
    /// # });
    /// ```
    pub fn hang(&self, op: Op, on: bool) {
        self.with_fault(op, |f| f.hang = on);
    }

    /// Makes every call of `op` panic when polled (`true`), as a backend
    /// with a bug would, or stops doing so.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use futures::FutureExt;
    /// use livesession::store::{MemoryStore, SessionStore};
    /// use livesession::testing::{FaultyStore, Op};
    /// use std::panic::AssertUnwindSafe;
    /// let store = FaultyStore::new(MemoryStore::new());
    /// store.panic(Op::Count, true);
    /// assert!(AssertUnwindSafe(store.count()).catch_unwind().await.is_err());
    /// store.panic(Op::Count, false);
    /// assert_eq!(store.count().await.unwrap(), 0);
    /// # });
    /// ```
    pub fn panic(&self, op: Op, on: bool) {
        self.with_fault(op, |f| f.panic = on);
    }

    /// Clears every fault of every operation (calls already hanging stay hung).
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use livesession::store::{MemoryStore, SessionStore};
    /// use livesession::testing::{FaultyStore, Op};
    /// let store = FaultyStore::new(MemoryStore::new());
    /// store.fail(Op::Count, true);
    /// store.fail_next(Op::Flush, 5);
    /// store.heal(); // the outage is over
    /// assert!(store.count().await.is_ok());
    /// assert!(store.flush().await.is_ok());
    /// # });
    /// ```
    pub fn heal(&self) {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        *faults = [Fault::default(); OPS];
    }

    /// How many times `op` was called on this store (and its clones).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::store::MemoryStore;
    /// use livesession::testing::{FaultyStore, Op};
    /// use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// use std::sync::Arc;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let store = FaultyStore::new(MemoryStore::new());
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .store(Arc::new(store.clone()))
    ///         .build()
    ///         .unwrap(),
    /// );
    /// // A request that never touches its session costs no store call (the
    /// // expiry sweep, which starts with the manager, may have run meanwhile).
    /// let request = manager.start(&RequestInfo { path: "/health", ..Default::default() });
    /// request.finish().await.unwrap();
    /// assert!(Op::ALL.iter().all(|&op| op == Op::RemoveExpired || store.calls(op) == 0));
    /// # });
    /// ```
    pub fn calls(&self, op: Op) -> u64 {
        self.calls[op.index()].load(Ordering::SeqCst)
    }

    fn plan(&self, op: Op) -> Plan {
        self.calls[op.index()].fetch_add(1, Ordering::SeqCst);
        self.with_fault(op, |f| {
            let fail = f.fail || f.fail_next > 0;
            f.fail_next = f.fail_next.saturating_sub(1);
            Plan {
                delay: f.delay,
                hang: f.hang,
                fail,
                panic: f.panic,
            }
        })
    }

    fn run<'a, T: Send + 'a>(
        &'a self,
        op: Op,
        call: impl FnOnce() -> StoreFuture<'a, T> + Send + 'a,
    ) -> StoreFuture<'a, T> {
        let plan = self.plan(op);
        Box::pin(async move {
            if !plan.delay.is_zero() {
                tokio::time::sleep(plan.delay).await;
            }
            if plan.hang {
                std::future::pending::<()>().await;
            }
            if plan.panic {
                panic!("injected {op:?} panic");
            }
            if plan.fail {
                return Err(StoreError::backend(format!("injected {op:?} failure")));
            }
            call().await
        })
    }
}

impl<S: SessionStore> SessionStore for FaultyStore<S> {
    fn load<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, Option<SessionRecord>> {
        self.run(Op::Load, move || self.inner.load(key))
    }

    fn create<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        self.run(Op::Create, move || self.inner.create(key, record))
    }

    fn save<'a>(&'a self, key: &'a SessionKey, record: &'a SessionRecord) -> StoreFuture<'a, ()> {
        self.run(Op::Save, move || self.inner.save(key, record))
    }

    fn delete<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        self.run(Op::Delete, move || self.inner.delete(key))
    }

    fn end<'a>(&'a self, key: &'a SessionKey) -> StoreFuture<'a, bool> {
        self.run(Op::Delete, move || self.inner.end(key))
    }

    fn keys_for_user<'a>(&'a self, user: &'a str) -> StoreFuture<'a, Vec<SessionKey>> {
        self.run(Op::KeysForUser, move || self.inner.keys_for_user(user))
    }

    fn remove_expired<'a>(
        &'a self,
        now_ms: u64,
        limit: usize,
        skip: &'a (dyn Fn(&SessionKey) -> bool + Send + Sync),
    ) -> StoreFuture<'a, usize> {
        self.run(Op::RemoveExpired, move || {
            self.inner.remove_expired(now_ms, limit, skip)
        })
    }

    fn count(&self) -> StoreFuture<'_, u64> {
        self.run(Op::Count, move || self.inner.count())
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        self.run(Op::Flush, move || self.inner.flush())
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    fn completed_writes_are_durable(&self) -> bool {
        self.durable_on_completion.load(Ordering::SeqCst)
            || self.inner.completed_writes_are_durable()
    }

    fn create_shared<'a>(
        &'a self,
        key: &'a SessionKey,
        record: &'a SessionRecord,
        lifetime: Lifetime,
    ) -> StoreFuture<'a, u64> {
        self.run(Op::Create, move || {
            self.inner.create_shared(key, record, lifetime)
        })
    }

    fn touch<'a>(&'a self, key: &'a SessionKey, known: Option<u64>) -> StoreFuture<'a, Touched> {
        self.run(Op::Touch, move || self.inner.touch(key, known))
    }

    fn commit<'a>(
        &'a self,
        key: &'a SessionKey,
        expected: u64,
        record: &'a SessionRecord,
        lifetime: Lifetime,
        new_user: Option<&'a str>,
    ) -> StoreFuture<'a, Committed> {
        self.run(Op::Commit, move || {
            self.inner.commit(key, expected, record, lifetime, new_user)
        })
    }
}
