//! What every store method returns: a boxed future of a result, and the
//! store's error.

use std::future::Future;
use std::pin::Pin;

/// The boxed future every [`SessionStore`](super::SessionStore) method returns (object safe, `Send`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A failure of the durable store. Never caused by client input.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use livesession::store::{MemoryStore, SessionKey, SessionRecord, SessionStore, StoreError};
/// let store = MemoryStore::new();
/// let key = SessionKey::of_id("some-id");
/// store.create(&key, &SessionRecord::default()).await.unwrap();
/// let taken = store.create(&key, &SessionRecord::default()).await.unwrap_err();
/// assert!(matches!(taken, StoreError::AlreadyExists));
///
/// // A backend reports its own failures as `Backend`, keeping them as the source:
/// let failed = StoreError::backend(std::io::Error::other("No space left on device"));
/// assert_eq!(failed.to_string(), "session store failure: No space left on device");
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// `create` found a record under that key already.
    #[error("a session record with this key already exists")]
    AlreadyExists,
    /// A stored record could not be decoded. The runtime logs it and treats the
    /// session as absent.
    #[error("corrupt session record: {0}")]
    Corrupt(String),
    /// The backend failed (I/O, disk full, closed database, timeout, ...);
    /// the backend's own error is its source.
    #[error("session store failure: {0}")]
    Backend(#[source] BoxError),
}

/// Any error a backend reports, kept with its type (see
/// [`std::error::Error::source`]).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl StoreError {
    /// Wraps any backend error (an error type, or a message).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::StoreError;
    /// let io = std::io::Error::other("disk full");
    /// let err = StoreError::backend(io);
    /// let source = std::error::Error::source(&err).unwrap();
    /// assert!(source.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn backend(err: impl Into<BoxError>) -> Self {
        StoreError::Backend(err.into())
    }
}
