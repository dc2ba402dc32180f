//! SledStore specifics: persistence across reopen, corrupt data, crash
//! recovery of the count, group commit.

use livesession::store::{codec, SessionKey, SessionRecord, SessionStore, StoreError};
use livesession_sled::{Durability, SledConfig, SledStore};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn key(i: u64) -> SessionKey {
    SessionKey::of_id(&format!("sled-test-{i}"))
}

fn record(i: u64, user: Option<&str>, expires_at_ms: Option<u64>) -> SessionRecord {
    let mut record = SessionRecord {
        user: user.map(str::to_owned),
        created_at_ms: i,
        expires_at_ms,
        ..SessionRecord::default()
    };
    record.data.insert("i".into(), json!(i));
    record
        .data
        .insert("nested".into(), json!({"list": [i, null, {"x": "y"}]}));
    record
}

fn never(_: &SessionKey) -> bool {
    false
}

fn open(path: &Path) -> SledStore {
    SledStore::open(path, SledConfig::default()).expect("open sled store")
}

/// Opens the raw sled database (the store must be closed). Retries briefly:
/// sled's background writes of a just-dropped database hold its lock.
fn raw(path: &Path) -> sled::Db {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match sled::Config::new().path(path).open() {
            Ok(db) => return db,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => panic!("open raw sled: {e}"),
        }
    }
}

#[tokio::test]
async fn reopen_keeps_records_indexes_and_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = open(dir.path());
        for i in 0..100 {
            let user = if i % 2 == 0 { Some("even") } else { None };
            store
                .create(&key(i), &record(i, user, Some(1_000 * (1 + i))))
                .await
                .expect("create");
        }
        for i in 0..10 {
            assert!(store.delete(&key(i)).await.expect("delete"));
        }
        store.flush().await.expect("flush");
        assert_eq!(store.count().await.expect("count"), 90);
    }
    let store = open(dir.path());
    assert!(
        store.count_is_exact(),
        "after a clean shutdown the count must be trusted at once"
    );
    assert_eq!(
        store.count().await.expect("count"),
        90,
        "count must survive a reopen"
    );
    for i in 0..100 {
        let loaded = store.load(&key(i)).await.expect("load");
        if i < 10 {
            assert_eq!(loaded, None, "deleted record {i} came back");
        } else {
            let user = if i % 2 == 0 { Some("even") } else { None };
            assert_eq!(
                loaded,
                Some(record(i, user, Some(1_000 * (1 + i)))),
                "record {i}"
            );
        }
    }
    assert_eq!(
        store
            .keys_for_user("even")
            .await
            .expect("keys_for_user")
            .len(),
        45
    );
    assert_eq!(
        store
            .remove_expired(50_000, 1_000, &never)
            .await
            .expect("remove_expired"),
        40,
        "the expiry index must survive a reopen"
    );
    assert_eq!(store.count().await.expect("count"), 50);
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        store.count().await.expect("count"),
        50,
        "count after a second reopen"
    );
}

#[tokio::test]
async fn a_new_store_has_an_exact_empty_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    assert!(store.count_is_exact(), "a new database needs no recount");
    assert_eq!(store.count().await.expect("count"), 0);
    assert!(store.size_on_disk().expect("size") > 0);
}

#[tokio::test]
async fn clones_share_the_database_and_the_last_one_closes_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let clone = store.clone();
    drop(store);
    clone
        .create(&key(1), &record(1, None, None))
        .await
        .expect("create through a clone");
    assert_eq!(clone.count().await.expect("count"), 1);
    let started = Instant::now();
    let second = SledStore::open(
        dir.path(),
        SledConfig::default().lock_wait(Duration::from_millis(50)),
    );
    assert!(
        matches!(second, Err(StoreError::Backend(_))),
        "a second open of a database in use must fail, not panic"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "open must wait for the lock"
    );
    drop(clone);
    let store = open(dir.path());
    assert_eq!(store.count().await.expect("count"), 1);
}

#[tokio::test]
async fn corrupt_records_load_as_corrupt_and_are_tolerated() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let store = open(dir.path());
        for i in 0..4 {
            store
                .create(&key(i), &record(i, Some("victim"), Some(100)))
                .await
                .expect("create");
        }
        store
            .create(&key(9), &record(9, Some("victim"), Some(100)))
            .await
            .expect("create");
    }
    {
        let db = raw(dir.path());
        let records = db.open_tree("records").expect("records tree");
        records
            .insert(key(0).as_bytes(), &b"\x01\xc1garbage"[..])
            .expect("write");
        records
            .insert(key(1).as_bytes(), &b"\x63unknown version"[..])
            .expect("write");
        records.insert(key(2).as_bytes(), &b""[..]).expect("write");
        let mut truncated = codec::encode(&record(3, Some("victim"), Some(100))).expect("encode");
        truncated.truncate(truncated.len() / 2);
        records.insert(key(3).as_bytes(), truncated).expect("write");
        // A malformed expiry index entry.
        db.open_tree("by_expiry")
            .expect("tree")
            .insert(b"short", &[])
            .expect("write");
        db.flush().expect("flush");
    }
    let store = open(dir.path());
    for i in 0..4 {
        let loaded = store.load(&key(i)).await;
        assert!(
            matches!(loaded, Err(StoreError::Corrupt(_))),
            "record {i}: expected Corrupt, got {loaded:?}"
        );
    }
    assert_eq!(
        store.keys_for_user("victim").await.expect("keys_for_user"),
        vec![key(9)],
        "keys_for_user must skip unreadable records"
    );
    // Overwriting a corrupt record works and does not change the count.
    store
        .save(&key(0), &record(0, None, None))
        .await
        .expect("save over a corrupt record");
    assert_eq!(
        store.load(&key(0)).await.expect("load"),
        Some(record(0, None, None))
    );
    assert_eq!(store.count().await.expect("count"), 5);
    // Deleting a corrupt record works.
    assert!(store
        .delete(&key(1))
        .await
        .expect("delete a corrupt record"));
    assert_eq!(store.count().await.expect("count"), 4);
    // The sweep removes the remaining due records, corrupt or not, and the
    // malformed index entry, without panicking.
    let removed = store
        .remove_expired(1_000, 100, &never)
        .await
        .expect("remove_expired");
    assert_eq!(removed, 3, "keys 2, 3 (corrupt) and 9 were due");
    assert_eq!(store.count().await.expect("count"), 1);
    assert_eq!(
        store.load(&key(0)).await.expect("load"),
        Some(record(0, None, None))
    );
    assert_eq!(
        store
            .remove_expired(u64::MAX, 100, &never)
            .await
            .expect("remove_expired"),
        0
    );
}

#[tokio::test]
async fn an_unknown_layout_version_refuses_to_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(open(dir.path()));
    {
        let db = raw(dir.path());
        db.open_tree("meta")
            .expect("meta")
            .insert(b"layout", &[9u8][..])
            .expect("write");
        db.flush().expect("flush");
    }
    match SledStore::open(dir.path(), SledConfig::default()) {
        Err(StoreError::Backend(msg)) => assert!(msg.to_string().contains("layout"), "{msg}"),
        Err(other) => panic!("expected Backend, got {other:?}"),
        Ok(_) => panic!("a store with an unknown layout version must not open"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_200_concurrent_save_and_flush_tasks_complete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(open(dir.path()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .save(&key(i), &record(i, Some("many"), Some(i)))
                    .await?;
                store.flush().await
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked").expect("save + flush");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(20),
        "200 flushed saves took {elapsed:?}"
    );
    assert_eq!(store.count().await.expect("count"), 200);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.count().await.expect("count"), 200);
    assert_eq!(
        store
            .keys_for_user("many")
            .await
            .expect("keys_for_user")
            .len(),
        200
    );
}

#[tokio::test]
async fn periodic_durability_flush_returns_at_once_and_data_survives_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SledConfig::new().durability(Durability::Periodic(Duration::from_secs(3600)));
    {
        let store = SledStore::open(dir.path(), config.clone()).expect("open");
        assert_eq!(
            store.durability(),
            Durability::Periodic(Duration::from_secs(3600))
        );
        store
            .save(&key(1), &record(1, None, None))
            .await
            .expect("save");
        let started = Instant::now();
        for _ in 0..1_000 {
            store.flush().await.expect("flush");
        }
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "periodic flush() must not touch the disk"
        );
    }
    let store = SledStore::open(dir.path(), config).expect("reopen");
    assert_eq!(
        store.load(&key(1)).await.expect("load"),
        Some(record(1, None, None))
    );
}

// ---------------------------------------------------------------------------
// Crash recovery of the count: a child process writes and exits without
// running destructors; the parent reopens and must get an exact count.
// ---------------------------------------------------------------------------

const CRASH_DIR: &str = "LIVESESSION_SLED_CRASH_DIR";
const CRASH_RECORDS: u64 = 3_000;

/// Runs only as the child of `count_is_recounted_after_a_crash`.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = open(Path::new(&dir));
        for i in 0..CRASH_RECORDS {
            store
                .create(&key(i), &record(i, Some("crash"), Some(i)))
                .await
                .expect("create");
        }
        store.flush().await.expect("flush");
        // Dies without dropping the store: no clean-shutdown marker.
        std::process::exit(0);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_is_recounted_after_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "crash_child", "--test-threads=1"])
        .env(CRASH_DIR, dir.path())
        .status()
        .expect("run child");
    assert!(status.success(), "child failed: {status}");

    let started = Instant::now();
    let store = open(dir.path());
    let open_time = started.elapsed();
    // Writes during the recount, on keys both before and after its cursor.
    for i in 0..500 {
        assert!(
            store.delete(&key(i)).await.expect("delete"),
            "acknowledged record {i} was lost"
        );
    }
    for i in 0..300 {
        store
            .save(&key(CRASH_RECORDS + i), &record(i, None, None))
            .await
            .expect("save");
    }
    let expected = CRASH_RECORDS - 500 + 300;
    while !store.count_is_exact() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "recount never finished"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        store.count().await.expect("count"),
        expected,
        "recounted count (opened in {open_time:?})"
    );
    drop(store);
    let store = open(dir.path());
    assert!(
        store.count_is_exact(),
        "a clean shutdown after the recount must be trusted"
    );
    assert_eq!(store.count().await.expect("count"), expected);
}

/// A store call must do its work when its future is polled, not when the
/// future is built: otherwise it runs synchronously on the caller's executor
/// thread, before any deadline (the runtime's `store_timeout`) is in place,
/// and a dropped (timed-out, cancelled) call still writes.
#[tokio::test]
async fn an_unpolled_future_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(dir.path());
    let kept = key(1);
    store
        .create(&kept, &record(1, Some("kept"), Some(10)))
        .await
        .expect("create");

    // Built and dropped without a single poll.
    drop(store.create(&key(2), &record(2, Some("created"), Some(10))));
    drop(store.save(&key(3), &record(3, Some("saved"), Some(10))));
    drop(store.save(&kept, &record(1, Some("overwritten"), None)));
    drop(store.delete(&kept));

    assert_eq!(
        store.load(&key(2)).await.expect("load"),
        None,
        "create ran unpolled"
    );
    assert_eq!(
        store.load(&key(3)).await.expect("load"),
        None,
        "save ran unpolled"
    );
    assert_eq!(
        store.load(&kept).await.expect("load"),
        Some(record(1, Some("kept"), Some(10))),
        "save or delete ran unpolled"
    );
    assert_eq!(store.count().await.expect("count"), 1);
    assert!(store
        .keys_for_user("created")
        .await
        .expect("keys_for_user")
        .is_empty());
    assert!(store
        .keys_for_user("saved")
        .await
        .expect("keys_for_user")
        .is_empty());
}

// ---------------------------------------------------------------------------
// With sync durability a write answers only once durable: a child process
// saves records WITHOUT calling flush() and aborts; every save it saw
// answered must be there after a reopen.
// ---------------------------------------------------------------------------

const ACK_DIR: &str = "LIVESESSION_SLED_ACK_DIR";
const ACK_RECORDS: u64 = 200;

/// Runs only as the child of `an_acknowledged_save_survives_an_abort_without_flush`.
#[test]
fn ack_child() {
    let Some(dir) = std::env::var_os(ACK_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = open(Path::new(&dir));
        for i in 0..ACK_RECORDS {
            store
                .save(&key(i), &record(i, None, None))
                .await
                .expect("save");
        }
        // Every save answered: say so, then die at once (no destructors,
        // no flush, no clean-shutdown marker).
        std::fs::write(Path::new(&dir).join("acked"), ACK_RECORDS.to_string()).expect("marker");
        std::process::abort();
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_save_survives_an_abort_without_flush() {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "ack_child", "--test-threads=1", "--nocapture"])
        .env(ACK_DIR, dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run child");
    assert!(
        !status.success(),
        "the child must abort, not exit: {status}"
    );
    let acked = std::fs::read_to_string(dir.path().join("acked")).expect("the child saved");
    assert_eq!(acked, ACK_RECORDS.to_string());
    let store = open(dir.path());
    for i in 0..ACK_RECORDS {
        assert_eq!(
            store.load(&key(i)).await.expect("load"),
            Some(record(i, None, None)),
            "acknowledged save {i} was lost"
        );
    }
}
