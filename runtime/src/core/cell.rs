//! State a live session shares between its actor and the requests using it.
//!
//! A live session is a [`SessionCell`] in the registry. Its owner, a kameo
//! actor, runs only while there is work: it is spawned by the first change
//! after a quiet spell and hibernates after [`hibernate_after`] without
//! messages, leaving the cell (snapshot, clocks) in memory and its next
//! deadline in the shared alarm queue. Reads never need the actor.
//!
//! [`hibernate_after`]: crate::SessionConfigBuilder::hibernate_after

use super::change::PendingChange;
use super::snapshot::Snapshot;
use super::Core;
use crate::store::{SessionKey, SessionRecord, Versioned};
use arc_swap::ArcSwap;
use kameo::actor::ActorRef;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::time::{Instant, Sleep};

/// Lifecycle of a live session, written only by its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Lifecycle {
    /// Serving requests.
    Alive = 0,
    /// Written to the store and leaving memory (passivation or shutdown); the
    /// next request activates it again from the store.
    Retired = 1,
    /// Destroyed, expired or revoked: gone for good.
    Dead = 2,
}

/// A live session: what requests read directly, plus the slot of its owner.
pub(crate) struct SessionCell {
    /// SHA-256 of the id: the registry and store key.
    pub key: SessionKey,
    /// The cookie value (prefix + id + "." + signature with the first secret),
    /// computed once per id, and the raw id (kept in memory only) inside it.
    pub cookie_value: CookieValue,
    /// The latest published version.
    pub snapshot: ArcSwap<Snapshot>,
    /// When a request last loaded the session (Unix ms): the idle clock.
    last_access_ms: AtomicU64,
    /// The expiry the store holds (Unix ms, `u64::MAX` for none or not stored).
    stored_expiry_ms: AtomicU64,
    /// When the parked alarm of a hibernating owner fires (Unix ms, 0: none).
    pub alarm_at_ms: AtomicU64,
    lifecycle: AtomicU8,
    /// The store may hold a write that was never published (its flush
    /// failed): the next write-back must save the published state.
    store_behind: AtomicBool,
    /// A clock check is queued for the owner (at most one at a time).
    clocks_check_queued: AtomicBool,
    /// Consecutive failed passivations, and when the next may be tried
    /// (Unix ms, 0: any time).
    passivation_failures: AtomicU32,
    passivation_retry_at_ms: AtomicU64,
    /// The running owner, if any. Locked only briefly (never across an await).
    owner: Mutex<Option<ActorRef<SessionActor>>>,
    /// Changes waiting for the owner's next batch. Pushed under the owner
    /// lock, and emptied under it when an owner hibernates or ends, so none
    /// is left queued without an owner; a running owner takes its batch, and
    /// a request that gave up withdraws its change, under this lock alone.
    pending: Mutex<Vec<PendingChange>>,
}

impl SessionCell {
    pub fn new(id: String, cookie_value: String, record: SessionRecord, now_ms: u64) -> Self {
        SessionCell {
            key: SessionKey::of_id(&id),
            cookie_value: CookieValue::new(cookie_value, &id),
            snapshot: ArcSwap::from_pointee(Snapshot { version: 0, record }),
            last_access_ms: AtomicU64::new(now_ms),
            stored_expiry_ms: AtomicU64::new(u64::MAX),
            alarm_at_ms: AtomicU64::new(0),
            lifecycle: AtomicU8::new(Lifecycle::Alive as u8),
            store_behind: AtomicBool::new(false),
            clocks_check_queued: AtomicBool::new(false),
            passivation_failures: AtomicU32::new(0),
            passivation_retry_at_ms: AtomicU64::new(0),
            owner: Mutex::new(None),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// The raw session id.
    pub fn id(&self) -> &str {
        self.cookie_value.id()
    }

    pub fn lifecycle(&self) -> Lifecycle {
        match self.lifecycle.load(Ordering::SeqCst) {
            0 => Lifecycle::Alive,
            1 => Lifecycle::Retired,
            _ => Lifecycle::Dead,
        }
    }

    pub fn set_lifecycle(&self, l: Lifecycle) {
        self.lifecycle.store(l as u8, Ordering::SeqCst);
    }

    /// Records a load at `now_ms` (moves the idle clock forward only).
    pub fn touch(&self, now_ms: u64) {
        self.last_access_ms.fetch_max(now_ms, Ordering::SeqCst);
    }

    pub fn last_access(&self) -> u64 {
        self.last_access_ms.load(Ordering::SeqCst)
    }

    pub fn stored_expiry(&self) -> Option<u64> {
        match self.stored_expiry_ms.load(Ordering::Relaxed) {
            u64::MAX => None,
            t => Some(t),
        }
    }

    pub fn set_stored_expiry(&self, t: Option<u64>) {
        self.stored_expiry_ms
            .store(t.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Publishes what a shared store holds, unless a newer version is
    /// published already; returns the snapshot published after the call.
    pub fn adopt(&self, stored: Versioned) -> Arc<Snapshot> {
        let mut stored = Some(stored);
        let mut kept = None;
        self.snapshot.rcu(|current| {
            match &stored {
                Some(s) if s.version > current.version => {}
                _ => {
                    kept = Some(current.clone());
                    return current.clone();
                }
            }
            let s = stored.take().expect("taken once");
            let fresh = Arc::new(Snapshot {
                version: s.version,
                record: s.record,
            });
            kept = Some(fresh.clone());
            fresh
        });
        kept.expect("rcu ran at least once")
    }

    pub fn store_behind(&self) -> bool {
        self.store_behind.load(Ordering::SeqCst)
    }

    pub fn set_store_behind(&self, behind: bool) {
        self.store_behind.store(behind, Ordering::SeqCst);
    }

    /// Marks a clock check as queued for the owner; `false` when one is
    /// queued already (the owner has not taken it yet).
    pub fn queue_clocks_check(&self) -> bool {
        !self.clocks_check_queued.swap(true, Ordering::AcqRel)
    }

    /// The queued clock check was taken (or dropped with the owner that
    /// had it): a request may queue the next one.
    pub fn clocks_checked(&self) {
        self.clocks_check_queued.store(false, Ordering::Release);
    }

    /// The earliest a passivation may be tried again after failures.
    pub fn passivation_retry_at(&self) -> u64 {
        self.passivation_retry_at_ms.load(Ordering::Relaxed)
    }

    /// Records a failed passivation at `now_ms`: the next try waits twice as
    /// long as the last (from 1 s up to 1 min). Returns the failure count.
    pub fn passivation_failed(&self, now_ms: u64) -> u32 {
        let failures = self.passivation_failures.fetch_add(1, Ordering::Relaxed) + 1;
        let wait_ms = 1000u64
            .saturating_mul(1 << (failures - 1).min(6))
            .min(60_000);
        self.passivation_retry_at_ms
            .store(now_ms.saturating_add(wait_ms), Ordering::Relaxed);
        failures
    }

    /// The changes queued for the owner. Poisoning is ignored: the queue is
    /// only pushed to and taken whole.
    pub fn pending(&self) -> MutexGuard<'_, Vec<PendingChange>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the change `id` back out of the queue, unless the owner has
    /// already taken it into a batch. Returns whether it was withdrawn.
    pub fn withdraw(&self, id: u64) -> bool {
        let mut pending = self.pending();
        match pending.iter().position(|p| p.id == id) {
            Some(i) => {
                pending.remove(i);
                true
            }
            None => false,
        }
    }

    /// The owner slot. Poisoning is ignored: the slot holds a plain handle.
    pub fn owner(&self) -> MutexGuard<'_, Option<ActorRef<SessionActor>>> {
        self.owner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A session's cookie value and its raw id in one allocation: the id is
/// found inside the value (prefix + id + "." + signature), so its bytes are
/// kept once. Derefs to the cookie value.
pub(crate) struct CookieValue {
    /// The cookie value; followed by the id only when a custom signer's
    /// value does not contain it.
    text: Box<str>,
    /// Where the id starts in `text`.
    id_at: u32,
    /// The id's length; the top bit: the id was appended after the value.
    id_len: u32,
}

const APPENDED: u32 = 1 << 31;

impl CookieValue {
    pub fn new(cookie_value: String, id: &str) -> Self {
        // Cookie values and ids are a few hundred bytes (ids at most 256).
        let small = |n: usize| u32::try_from(n).ok().filter(|&n| n < APPENDED);
        let len = small(id.len()).expect("a session id shorter than 2 GiB");
        // The signature follows the id's last byte, so look there first.
        let found = cookie_value
            .rfind('.')
            .and_then(|dot| dot.checked_sub(id.len()))
            .filter(|&at| cookie_value.get(at..at + id.len()) == Some(id))
            .or_else(|| cookie_value.find(id));
        let (text, id_at, id_len) = match found {
            Some(at) => (cookie_value, at, len),
            None => {
                let at = cookie_value.len();
                let mut text = cookie_value;
                text.reserve_exact(id.len());
                text.push_str(id);
                (text, at, len | APPENDED)
            }
        };
        let id_at = small(id_at).expect("a cookie value shorter than 2 GiB");
        CookieValue {
            text: text.into_boxed_str(),
            id_at,
            id_len,
        }
    }

    /// The raw id.
    pub fn id(&self) -> &str {
        let at = self.id_at as usize;
        &self.text[at..at + (self.id_len & !APPENDED) as usize]
    }
}

impl std::ops::Deref for CookieValue {
    type Target = str;

    fn deref(&self) -> &str {
        if self.id_len & APPENDED != 0 {
            &self.text[..self.id_at as usize]
        } else {
            &self.text
        }
    }
}

/// The owner of one live session.
///
/// Declared here, beside the cell that holds its handle; its behaviour (the
/// actor and its messages) lives in `crate::owner`.
pub(crate) struct SessionActor {
    pub(crate) cell: Arc<SessionCell>,
    pub(crate) runtime: Weak<Core>,
    pub(crate) timer: Pin<Box<Sleep>>,
    /// When the last message arrived; hibernation counts from here.
    pub(crate) last_message: Instant,
}

/// What an owner is started with.
pub(crate) struct ActorArgs {
    pub cell: Arc<SessionCell>,
    pub runtime: Weak<Core>,
    /// Started by its alarm rather than for a message: hibernate again at
    /// once unless something is due.
    pub by_alarm: bool,
}

#[cfg(test)]
mod tests {
    use super::CookieValue;

    #[test]
    fn the_id_is_kept_inside_the_cookie_value_or_after_it() {
        for (value, id) in [
            ("s:abc.sig", "abc"),
            ("abc.sig", "abc"),
            ("abcabc.x.y", "abc"),
            ("s:s.s", "s"),
            ("v1|opaque-token", "abc"),
            ("", "abc"),
            ("no-dot-abc-here", "abc"),
        ] {
            let c = CookieValue::new(value.to_owned(), id);
            assert_eq!(&*c, value, "{value} {id}");
            assert_eq!(c.id(), id, "{value} {id}");
        }
        let inside = CookieValue::new("s:abc.sig".to_owned(), "abc");
        assert_eq!(
            inside.text.len(),
            "s:abc.sig".len(),
            "no second copy of the id"
        );
    }
}
