//! Disk full, then space again, on a real (small) file system: a tmpfs
//! mounted for the test. Needs root (or CAP_SYS_ADMIN) to mount; without it
//! the test says so loudly and passes, unless `LIVESESSION_REQUIRE_MOUNT=1`
//! (set it in CI, which runs as root) turns the skip into a failure.

use livesession::store::{SessionKey, SessionRecord, SessionStore, StoreError};
use livesession_sled::{SledConfig, SledStore};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs of `size` mounted on a fresh temp dir, unmounted on drop (also
/// when the test fails).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (after a loud message) if mounting is not permitted here.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs { dir }),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                };
                let msg = format!("cannot mount a tmpfs ({why}); this test needs root");
                if std::env::var_os("LIVESESSION_REQUIRE_MOUNT").is_some_and(|v| v == "1") {
                    panic!("{msg} and LIVESESSION_REQUIRE_MOUNT=1");
                }
                eprintln!("\n!!!!!! SKIPPED: {msg} !!!!!!\n");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn grow(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "remount to {size} failed");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // sled's background threads may hold files for a moment after the
        // store is dropped.
        for _ in 0..50 {
            let ok = Command::new("umount")
                .arg(self.dir.path())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "could not unmount {}; detaching it",
            self.dir.path().display()
        );
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

fn key(i: u64) -> SessionKey {
    SessionKey::of_id(&format!("disk-full-{i}"))
}

/// About 4 KiB, incompressible enough that the disk really fills.
fn record(i: u64) -> SessionRecord {
    let mut record = SessionRecord {
        user: Some(format!("user-{}", i % 7)),
        created_at_ms: i,
        expires_at_ms: Some(4_000_000_000_000 + i),
        ..SessionRecord::default()
    };
    let noise: String = (0..4096u64)
        .map(|j| char::from(b'a' + ((i.wrapping_mul(7919) ^ j.wrapping_mul(104_729)) % 26) as u8))
        .collect();
    record.data.insert("i".into(), json!(i));
    record.data.insert("noise".into(), json!(noise));
    record
}

fn fill_file(path: &Path, bytes: usize) {
    std::fs::write(path, vec![0x5a; bytes]).expect("write the filler file");
}

async fn assert_all_there(store: &SledStore, keys: &[u64], when: &str) {
    for &i in keys {
        assert_eq!(
            store.load(&key(i)).await.expect("load"),
            Some(record(i)),
            "{when}: record {i} (its save was acknowledged) is missing or wrong"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_disk_full_the_store_recovers_once_space_returns() {
    let Some(fs) = Tmpfs::mount("6m") else {
        return;
    };
    let filler = fs.path().join("filler");
    fill_file(&filler, 2 * 1024 * 1024);
    let db_path: PathBuf = fs.path().join("sessions");
    let store = SledStore::open(&db_path, SledConfig::default()).expect("open");

    // Write until the disk is full. Every save that returned Ok was
    // acknowledged (with sync durability a save answers once its group is
    // flushed; the flush here is the barrier other callers use).
    // The save that failed may still have landed (its group's insert did,
    // its flush did not), as a failed write may.
    let mut saved = Vec::new();
    let mut flushed = 0;
    let mut failure = None;
    let mut unknown = None;
    for i in 0..10_000u64 {
        let result = match store.save(&key(i), &record(i)).await {
            Ok(()) => {
                saved.push(i);
                store.flush().await
            }
            Err(e) => {
                unknown = Some(i);
                Err(e)
            }
        };
        match result {
            Ok(()) => flushed = saved.len(),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let failure = failure.expect("6 MiB never filled up");
    assert!(
        matches!(failure, StoreError::Backend(_)),
        "a full disk must be a backend error, got {failure:?}"
    );
    assert!(flushed > 10, "only {flushed} records fitted");
    eprintln!(
        "disk full after {} saves ({flushed} flushed): {failure}",
        saved.len()
    );

    // While full: writes keep failing. sled refuses the reads it would have
    // to write for (it compacts pages as it reads them): a load may fail,
    // but never answers a wrong record or none.
    assert!(store
        .save(&key(1_000_000), &record(1_000_000))
        .await
        .is_err());
    assert!(
        store.failure().is_some(),
        "failure() must report the I/O error"
    );
    let mut served = 0;
    for &i in &saved[..flushed] {
        match store.load(&key(i)).await {
            Ok(loaded) => {
                assert_eq!(loaded, Some(record(i)), "while full: record {i}");
                served += 1;
            }
            Err(e) => assert!(matches!(e, StoreError::Backend(_)), "{e:?}"),
        }
    }
    eprintln!("while full, {served} of {flushed} flushed records loaded");

    // Space again.
    std::fs::remove_file(&filler).expect("remove the filler");
    let started = Instant::now();
    let extra = 2_000_000;
    loop {
        let result = match store.save(&key(extra), &record(extra)).await {
            Ok(()) => store.flush().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => break,
            Err(e) => assert!(
                started.elapsed() < Duration::from_secs(30),
                "writes still fail 30 s after space returned: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "writes succeed again {:?} after space returned",
        started.elapsed()
    );
    saved.push(extra);
    assert_all_there(&store, &saved, "after recovery").await;
    assert_eq!(
        store
            .keys_for_user("user-3")
            .await
            .expect("keys_for_user")
            .len(),
        saved.iter().filter(|&&i| i % 7 == 3).count(),
        "the user index after recovery"
    );

    // And all of it is on disk.
    drop(store);
    let store = SledStore::open(&db_path, SledConfig::default()).expect("reopen");
    assert_all_there(&store, &saved, "after a reopen").await;
    while !store.count_is_exact() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "recount never finished"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut landed = 0;
    if let Some(i) = unknown {
        if let Some(found) = store.load(&key(i)).await.expect("load") {
            assert_eq!(found, record(i), "the failed save {i} landed torn");
            landed = 1;
        }
    }
    assert_eq!(
        store.count().await.expect("count"),
        saved.len() as u64 + landed
    );
}

/// What a run of writes left: `Some(true)` acknowledged present,
/// `Some(false)` acknowledged deleted; keys whose write failed are unknown.
type Expected = std::collections::BTreeMap<u64, bool>;

/// Saves new records from `first` on, deleting an earlier one every third
/// save, and flushes only every `batch` writes, until the disk is full.
/// Returns when a write or flush fails.
async fn fill_in_batches(store: &SledStore, first: u64, batch: u64, expected: &mut Expected) {
    for i in first..first + 10_000 {
        if let Err(e) = store.save(&key(i), &record(i)).await {
            eprintln!("save {i} failed: {e}");
            expected.remove(&i);
            return;
        }
        expected.insert(i, true);
        if i % 3 == 0 && i >= first + 2 {
            let victim = i - 2;
            match store.delete(&key(victim)).await {
                Ok(existed) => {
                    assert!(existed, "record {victim} was saved");
                    expected.insert(victim, false);
                }
                Err(e) => {
                    eprintln!("delete {victim} failed: {e}");
                    expected.remove(&victim);
                    return;
                }
            }
        }
        if i % batch == 0 {
            if let Err(e) = store.flush().await {
                eprintln!("flush after save {i} failed: {e}");
                return;
            }
        }
    }
    panic!("the disk never filled up");
}

async fn check(store: &SledStore, expected: &Expected, when: &str) {
    for (&i, &present) in expected {
        let loaded = store.load(&key(i)).await.expect("load");
        let want = present.then(|| record(i));
        assert_eq!(loaded, want, "{when}: record {i} (acknowledged {present})");
    }
}

/// Writes acknowledged but not yet flushed when the disk filled up (saves
/// and deletes) survive the reopen, twice in a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unflushed_acknowledged_writes_survive_two_disk_full_recoveries() {
    let Some(fs) = Tmpfs::mount("6m") else {
        return;
    };
    let filler = fs.path().join("filler");
    let db_path: PathBuf = fs.path().join("sessions");
    let store = SledStore::open(&db_path, SledConfig::default()).expect("open");
    let mut expected = Expected::new();

    for round in 0..2u64 {
        // Space runs out because someone else filled the disk (round 0) or
        // the sessions did (round 1); it comes back as that file is removed
        // or the file system grows.
        if round == 0 {
            fill_file(&filler, 2 * 1024 * 1024);
        }
        fill_in_batches(&store, round * 100_000, 25, &mut expected).await;
        assert!(store.failure().is_some(), "round {round}: the disk is full");
        if round == 0 {
            std::fs::remove_file(&filler).expect("remove the filler");
        } else {
            fs.grow("16m");
        }

        let started = Instant::now();
        while let Err(e) = store.flush().await {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "round {round}: still failing 30 s after space returned: {e}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(store.failure(), None);
        check(&store, &expected, &format!("round {round}, after recovery")).await;
    }

    drop(store);
    let store = SledStore::open(&db_path, SledConfig::default()).expect("reopen");
    check(&store, &expected, "after a reopen").await;
    let started = Instant::now();
    while !store.count_is_exact() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "recount never finished"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let present = expected.values().filter(|&&p| p).count() as u64;
    assert!(
        store.count().await.expect("count") >= present,
        "count below the acknowledged records"
    );
}
