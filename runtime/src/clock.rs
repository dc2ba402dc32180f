//! Wall-clock time in Unix milliseconds: the unit of every session deadline.
//!
//! The runtime reads time through a [`Clock`] so tests can move it forward
//! ([`ManualClock`]) instead of sleeping. Owner hibernation uses Tokio's
//! monotonic clock instead: it is an implementation detail, not a deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time for session deadlines.
///
/// Give one to [`SessionConfigBuilder::clock`](crate::SessionConfigBuilder::clock)
/// (or [`SharedMemoryStore::with_clock`](crate::store::SharedMemoryStore::with_clock));
/// the default is [`SystemClock`]. It is also implemented for `Arc<C>`, so a
/// test can keep a handle on the clock it hands over.
///
/// # Examples
///
/// A clock of your own, here one that runs a fixed offset ahead of the
/// system clock:
///
/// ```
/// use livesession::clock::{Clock, SystemClock};
/// use livesession::SessionConfig;
///
/// struct Ahead(u64);
///
/// impl Clock for Ahead {
///     fn now_ms(&self) -> u64 {
///         SystemClock.now_ms() + self.0
///     }
/// }
///
/// assert!(Ahead(60_000).now_ms() > SystemClock.now_ms());
/// let config = SessionConfig::builder()
///     .secret("a secret of at least thirty-two bytes!")
///     .clock(Ahead(60_000))
///     .build();
/// assert!(config.is_ok());
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Now, in milliseconds since the Unix epoch.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::clock::{Clock, ManualClock};
    /// assert_eq!(ManualClock::new(1_500).now_ms(), 1_500);
    /// ```
    fn now_ms(&self) -> u64;
}

/// The system clock (the default): [`SystemTime::now`] in Unix milliseconds.
///
/// # Examples
///
/// ```
/// use livesession::clock::{Clock, SystemClock};
/// use std::time::{SystemTime, UNIX_EPOCH};
///
/// let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
/// let now = SystemClock.now_ms();
/// assert!(now >= before);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        now_ms()
    }
}

/// A clock that moves only when told to: for tests of expiry without sleeping.
///
/// Shared through an `Arc` (which is a [`Clock`] too), one clock can drive
/// the configuration and the test at once.
///
/// # Examples
///
/// ```
/// use livesession::clock::{Clock, ManualClock};
/// use std::time::Duration;
/// let clock = ManualClock::new(1_000);
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now_ms(), 3_000);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock reading `start_ms` (milliseconds since the Unix epoch).
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::clock::{Clock, ManualClock};
    /// let clock = ManualClock::new(0);
    /// assert_eq!(clock.now_ms(), 0);
    /// ```
    pub fn new(start_ms: u64) -> Self {
        ManualClock(AtomicU64::new(start_ms))
    }

    /// A clock starting at the current system time, and standing still
    /// from there.
    ///
    /// # Examples
    ///
    /// ```
    /// use livesession::clock::{Clock, ManualClock, SystemClock};
    /// let clock = ManualClock::starting_now();
    /// let start = clock.now_ms();
    /// assert!(start > 0 && start <= SystemClock.now_ms());
    /// std::thread::sleep(std::time::Duration::from_millis(5));
    /// assert_eq!(clock.now_ms(), start); // it moves only with advance()
    /// ```
    pub fn starting_now() -> Self {
        Self::new(now_ms())
    }

    /// Moves the clock forward by `by` (whole milliseconds; a sub-millisecond
    /// remainder is dropped).
    ///
    /// # Examples
    ///
    /// Expiring a session without waiting for its idle timeout:
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use livesession::clock::{Clock, ManualClock};
    /// use livesession::{RequestInfo, SessionConfig, SessionManager};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let clock = Arc::new(ManualClock::starting_now());
    /// let manager = SessionManager::new(
    ///     SessionConfig::builder()
    ///         .secret("a secret of at least thirty-two bytes!")
    ///         .max_age(Some(Duration::from_secs(60)))
    ///         .clock(clock.clone())
    ///         .build()
    ///         .unwrap(),
    /// );
    /// let login = manager.start(&RequestInfo { path: "/", ..Default::default() });
    /// login.insert("user", "alice").await.unwrap();
    /// let set_cookie = login.finish().await.unwrap().remove(0);
    /// let cookie = set_cookie.split(';').next().unwrap();
    ///
    /// clock.advance(Duration::from_secs(61)); // past the idle timeout
    /// let later = manager.start(&RequestInfo { cookie_header: Some(cookie), path: "/", ..Default::default() });
    /// assert_eq!(later.get::<String>("user").await.unwrap(), None);
    /// # });
    /// ```
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(ms(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
}

/// The system time, in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A `SystemTime` from Unix milliseconds.
pub(crate) fn to_system_time(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// Milliseconds of a duration, saturating.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
