//! What only a real Redis shows: the key layout, outages, the count index
//! after expiries, user-index pruning, corrupt records, connecting. Tests
//! that need redis-server skip loudly when it is not installed (and fail
//! instead with `LIVESESSION_REQUIRE_REDIS=1`).

mod common;

use common::{all_keys, cmd, hex, int, random};
use livesession::store::{
    Committed, Lifetime, SessionKey, SessionRecord, SessionStore, StoreError, Touched, Versioned,
};
use livesession_redis::{RedisOptions, RedisStore};
use livesession_redis_harness::{RedisServer, Reply};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

const LONG: Lifetime = Lifetime {
    idle_ms: Some(60_000),
    absolute_ms: None,
};

fn idle(ms: u64) -> Lifetime {
    Lifetime {
        idle_ms: Some(ms),
        absolute_ms: None,
    }
}

fn record(n: u64, user: Option<&str>) -> SessionRecord {
    let mut record = SessionRecord {
        user: user.map(str::to_owned),
        created_at_ms: 1_700_000_000_000,
        ..SessionRecord::default()
    };
    record.data.insert("n".to_owned(), json!(n));
    record
}

fn bulk(reply: &Reply) -> Option<&[u8]> {
    match reply {
        Reply::Bulk(b) => Some(b),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_hashes_under_the_prefix() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let prefix = "myapp:sess:";
    let store = common::store(&redis, prefix).await;
    let raw_ids = [
        format!("raw-id-created-{}", random()),
        format!("raw-id-committed-{}", random()),
        format!("raw-id-deleted-{}", random()),
    ];
    let keys: Vec<SessionKey> = raw_ids.iter().map(|id| SessionKey::of_id(id)).collect();
    let user = "alice.layout@example.com";

    store
        .create_shared(&keys[0], &record(1, Some(user)), LONG)
        .await
        .unwrap();
    store
        .create_shared(&keys[1], &record(1, None), LONG)
        .await
        .unwrap();
    assert_eq!(
        store
            .commit(&keys[1], 1, &record(2, Some(user)), LONG, Some(user))
            .await
            .unwrap(),
        Committed::Done(2)
    );
    store
        .create_shared(&keys[2], &record(1, Some(user)), LONG)
        .await
        .unwrap();
    assert!(store.delete(&keys[2]).await.unwrap());
    let mut found = store.keys_for_user(user).await.unwrap();
    found.sort();
    let mut expected = vec![keys[0], keys[1]];
    expected.sort();
    assert_eq!(found, expected, "keys_for_user");
    assert_eq!(store.count().await.unwrap(), 2, "count");

    let user_tag = hex(&Sha256::digest(user.as_bytes()));
    let mut expected_keys: Vec<String> = keys
        .iter()
        .map(|k| format!("{prefix}s:{{{}}}", hex(k.as_bytes())))
        .collect();
    expected_keys.push(format!("{prefix}u:{{{user_tag}}}"));
    expected_keys.push(format!("{prefix}index"));
    expected_keys.sort();
    let mut in_redis = all_keys(&redis);
    in_redis.sort();
    assert_eq!(
        in_redis, expected_keys,
        "Redis must hold exactly the sessions (the deleted one as a tombstone), the user index and the count index, under the prefix"
    );
    for key in &in_redis {
        for raw in &raw_ids {
            assert!(!key.contains(raw.as_str()), "a key holds a raw id: {key}");
            assert!(
                !key.contains(&hex(raw.as_bytes())),
                "a key holds a raw id in hex: {key}"
            );
        }
        assert!(!key.contains(user), "a key holds the user name: {key}");
    }

    // The session hashes: only the documented fields, the user as a hash.
    for (i, k) in keys.iter().enumerate() {
        let session = format!("{prefix}s:{{{}}}", hex(k.as_bytes()));
        let Reply::Array(fields) = cmd(&redis, &["HGETALL", session.as_str()]) else {
            panic!("HGETALL of {session}");
        };
        let mut names = Vec::new();
        for pair in fields.chunks(2) {
            let name = pair[0].as_str().unwrap().to_owned();
            if name == "u" {
                assert_eq!(
                    pair[1].as_str(),
                    Some(user_tag.as_str()),
                    "u holds the user's SHA-256"
                );
            }
            if name == "r" {
                let bytes = bulk(&pair[1]).unwrap();
                for raw in &raw_ids {
                    assert!(
                        !bytes.windows(raw.len()).any(|w| w == raw.as_bytes()),
                        "a record holds a raw id"
                    );
                }
            }
            names.push(name);
        }
        names.sort();
        let expected: &[&str] = if i == 2 {
            &["a", "d", "i", "u", "v"]
        } else {
            &["a", "i", "r", "u", "v", "x"]
        };
        assert_eq!(names, expected, "the fields of session {i}");
        let ttl = int(cmd(&redis, &["PTTL", session.as_str()]));
        assert!(
            ttl > 50_000 && ttl <= 60_000,
            "session {i} expires with its idle timeout by Redis time (PTTL {ttl})"
        );
    }
    let members = cmd(&redis, &["ZRANGE", &format!("{prefix}index"), "0", "-1"]);
    let Reply::Array(members) = members else {
        panic!("ZRANGE index");
    };
    let mut members: Vec<String> = members
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    members.sort();
    let mut live: Vec<String> = keys[..2].iter().map(|k| hex(k.as_bytes())).collect();
    live.sort();
    assert_eq!(
        members, live,
        "the count index holds the live sessions' hex keys"
    );

    // Another prefix is another store on the same server.
    let other = RedisStore::connect(&redis.url(), RedisOptions::new())
        .await
        .unwrap();
    assert_eq!(other.prefix(), "livesession:");
    assert_eq!(other.count().await.unwrap(), 0, "prefixes do not mix");
    assert_eq!(other.touch(&keys[0], None).await.unwrap(), Touched::Gone);
    other
        .create_shared(&keys[0], &record(1, None), LONG)
        .await
        .unwrap();
    assert!(all_keys(&redis)
        .iter()
        .any(|k| k.starts_with("livesession:s:{")));
    assert_eq!(store.count().await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_during_an_outage_and_work_again_after_it() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let store = common::store(&redis, "outage:").await;
    let k = SessionKey::of_id(&format!("outage-{}", random()));
    store
        .create_shared(&k, &record(1, Some("olga")), LONG)
        .await
        .unwrap();

    redis.stop();
    let started = Instant::now();
    let k2 = SessionKey::of_id(&format!("outage-new-{}", random()));
    let results: Vec<(&str, Result<(), StoreError>)> = vec![
        ("touch", store.touch(&k, Some(1)).await.map(drop)),
        (
            "commit",
            store
                .commit(&k, 1, &record(2, None), LONG, None)
                .await
                .map(drop),
        ),
        (
            "create_shared",
            store
                .create_shared(&k2, &record(1, None), LONG)
                .await
                .map(drop),
        ),
        ("load", store.load(&k).await.map(drop)),
        ("delete", store.delete(&k).await.map(drop)),
        ("keys_for_user", store.keys_for_user("olga").await.map(drop)),
        ("count", store.count().await.map(drop)),
    ];
    for (what, result) in results {
        assert!(
            matches!(result, Err(StoreError::Backend(_))),
            "{what} during the outage must fail with a Backend error, got {result:?}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "calls during an outage must fail, not hang ({:?} for seven calls)",
        started.elapsed()
    );

    redis.start_again();
    // The store reconnects by itself: the first call after the restart may
    // still see the broken connection.
    let deadline = Instant::now() + Duration::from_secs(15);
    let touched = loop {
        match store.touch(&k, Some(1)).await {
            Ok(t) => break t,
            Err(StoreError::Backend(e)) if Instant::now() < deadline => {
                eprintln!("after the restart, still: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the store did not come back after the restart: {e}"),
        }
    };
    assert_eq!(
        touched,
        Touched::Unchanged,
        "the session written before the outage is back (append-only file), untouched by the failed calls"
    );
    assert_eq!(
        store
            .commit(&k, 1, &record(2, Some("olga")), LONG, None)
            .await
            .unwrap(),
        Committed::Done(2),
        "commit after the restart (its script is loaded again)"
    );
    store
        .create_shared(&k2, &record(1, None), LONG)
        .await
        .expect("create_shared after the restart");
    assert_eq!(store.keys_for_user("olga").await.unwrap(), vec![k]);
    assert_eq!(store.count().await.unwrap(), 2);
    assert!(store.delete(&k).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_index_follows_expiries() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let prefix = format!("count-{}:", random());
    let index = format!("{prefix}index");
    let store = common::store(&redis, &prefix).await;
    let fresh = |label: &str| SessionKey::of_id(&format!("{label}-{}", random()));

    let short: Vec<SessionKey> = (0..5).map(|i| fresh(&format!("short-{i}"))).collect();
    for k in &short {
        store
            .create_shared(k, &record(1, None), idle(300))
            .await
            .unwrap();
    }
    let long = [fresh("long-0"), fresh("long-1")];
    for k in &long {
        store
            .create_shared(k, &record(1, None), LONG)
            .await
            .unwrap();
    }
    let forever = fresh("forever");
    store
        .create_shared(&forever, &record(1, None), Lifetime::default())
        .await
        .unwrap();
    let kept = fresh("kept-by-touches");
    store
        .create_shared(&kept, &record(1, None), idle(400))
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 9, "count after the creates");
    assert_eq!(
        cmd(&redis, &["ZSCORE", &index, &hex(forever.as_bytes())]).as_str(),
        Some("inf"),
        "a session without expiry is indexed at +inf"
    );
    assert_eq!(
        int(cmd(
            &redis,
            &[
                "PTTL",
                &format!("{prefix}s:{{{}}}", hex(forever.as_bytes()))
            ]
        )),
        -1,
        "a session without expiry has no TTL"
    );

    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1_000) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            store.touch(&kept, Some(1)).await.unwrap(),
            Touched::Unchanged
        );
    }
    // The short ones ended ~700 ms ago; the touched one is alive although
    // its first indexed expiry has passed.
    assert_eq!(
        store.count().await.unwrap(),
        4,
        "count after the short sessions expired"
    );
    assert_eq!(
        int(cmd(&redis, &["ZCARD", &index])),
        4,
        "count removed the expired sessions from the index"
    );
    for k in &short {
        assert_eq!(store.touch(k, None).await.unwrap(), Touched::Gone);
    }

    assert!(store.delete(&long[0]).await.unwrap());
    assert_eq!(store.count().await.unwrap(), 3, "count after a delete");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        store.count().await.unwrap(),
        2,
        "count after the touched session's idle end"
    );
    assert_eq!(int(cmd(&redis, &["ZCARD", &index])), 2);

    // A live session whose index entry is due is re-scored, not dropped.
    let rescored = fresh("rescored");
    store
        .create_shared(&rescored, &record(1, None), LONG)
        .await
        .unwrap();
    let member = hex(rescored.as_bytes());
    assert_eq!(int(cmd(&redis, &["ZADD", &index, "1", &member])), 0);
    assert_eq!(store.count().await.unwrap(), 3);
    let score: f64 = cmd(&redis, &["ZSCORE", &index, &member])
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let expiry = int(cmd(
        &redis,
        &["PEXPIRETIME", &format!("{prefix}s:{{{member}}}")],
    ));
    assert_eq!(
        score, expiry as f64,
        "the due entry of a live session takes its PEXPIRETIME"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_for_user_prunes_only_what_cannot_come_back() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let prefix = "prune:";
    let store = common::store(&redis, prefix).await;
    let user = "pat@example.com";
    let user_index = format!("{prefix}u:{{{}}}", hex(&Sha256::digest(user.as_bytes())));
    let live = SessionKey::of_id("prune-live");
    store
        .create_shared(&live, &record(1, Some(user)), LONG)
        .await
        .unwrap();

    // Entries without a session: one indexed long ago (its session expired
    // or never came), one just now (its create may still be on its way),
    // and a member that is not a key at all.
    let old = hex(SessionKey::of_id("prune-old").as_bytes());
    let recent = hex(SessionKey::of_id("prune-recent").as_bytes());
    assert_eq!(int(cmd(&redis, &["ZADD", &user_index, "1", &old])), 1);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    assert_eq!(
        int(cmd(&redis, &["ZADD", &user_index, &now_ms, &recent])),
        1
    );
    assert_eq!(int(cmd(&redis, &["ZADD", &user_index, "1", "garbage"])), 1);
    // A session that moved to another user since.
    let moved = SessionKey::of_id("prune-moved");
    store
        .create_shared(&moved, &record(1, Some(user)), LONG)
        .await
        .unwrap();
    assert_eq!(
        store
            .commit(
                &moved,
                1,
                &record(2, Some("someone-else")),
                LONG,
                Some("someone-else")
            )
            .await
            .unwrap(),
        Committed::Done(2)
    );

    assert_eq!(store.keys_for_user(user).await.unwrap(), vec![live]);
    let Reply::Array(left) = cmd(&redis, &["ZRANGE", &user_index, "0", "-1"]) else {
        panic!("ZRANGE");
    };
    let mut left: Vec<String> = left
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    left.sort();
    let mut expected = vec![hex(live.as_bytes()), recent, hex(moved.as_bytes())];
    expected.sort();
    assert_eq!(
        left, expected,
        "the old and malformed entries are pruned; the recent one and the moved one (indexed a moment ago) stay"
    );
    assert_eq!(
        store.keys_for_user("someone-else").await.unwrap(),
        vec![moved]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_foreign_values_are_errors_not_panics() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let prefix = "corrupt:";
    let store = common::store(&redis, prefix).await;
    let k = SessionKey::of_id("corrupt");
    let session = format!("{prefix}s:{{{}}}", hex(k.as_bytes()));
    store
        .create_shared(&k, &record(1, None), LONG)
        .await
        .unwrap();
    cmd(&redis, &["HSET", session.as_str(), "r", "\x07garbage"]);
    assert!(matches!(
        store.touch(&k, None).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(store.load(&k).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(
        store.commit(&k, 7, &record(2, None), LONG, None).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(
        store.touch(&k, Some(1)).await.unwrap(),
        Touched::Unchanged,
        "an unchanged touch does not read the record"
    );

    let foreign = SessionKey::of_id("foreign");
    let session = format!("{prefix}s:{{{}}}", hex(foreign.as_bytes()));
    cmd(&redis, &["SET", session.as_str(), "not a hash"]);
    assert!(matches!(
        store.touch(&foreign, None).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        store.create_shared(&foreign, &record(1, None), LONG).await,
        Err(StoreError::AlreadyExists)
    ));
    assert!(matches!(
        store.delete(&foreign).await,
        Err(StoreError::Backend(_))
    ));
    assert!(matches!(
        store.load(&foreign).await,
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_and_create_use_the_record_expiry_and_respect_tombstones() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = common::store(&redis, "save:").await;
    let k = SessionKey::of_id("saved");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut first = record(1, Some("sam"));
    first.expires_at_ms = Some(now + 30_000);
    store.create(&k, &first).await.unwrap();
    assert!(matches!(
        store.create(&k, &first).await,
        Err(StoreError::AlreadyExists)
    ));
    let mut second = record(2, Some("sam"));
    second.expires_at_ms = Some(now + 60_000);
    store.save(&k, &second).await.unwrap();
    assert_eq!(store.load(&k).await.unwrap(), Some(second.clone()));
    assert_eq!(
        store.touch(&k, None).await.unwrap(),
        Touched::Changed(Versioned {
            version: 2,
            record: second.clone()
        })
    );
    assert_eq!(store.keys_for_user("sam").await.unwrap(), vec![k]);
    assert_eq!(store.count().await.unwrap(), 1);
    assert!(store.delete(&k).await.unwrap());
    store.save(&k, &second).await.unwrap();
    assert_eq!(
        store.load(&k).await.unwrap(),
        None,
        "save leaves a tombstone in place"
    );
    assert_eq!(store.count().await.unwrap(), 0);
    assert_eq!(
        store
            .remove_expired(u64::MAX, 10, &|_| false)
            .await
            .unwrap(),
        0
    );
    store.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_waits_for_replicas_when_asked() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect(
        &redis.url(),
        RedisOptions::new()
            .prefix("wait:")
            .wait_replicas(1, Duration::from_millis(200)),
    )
    .await
    .unwrap();
    let k = SessionKey::of_id("waited");
    store
        .create_shared(&k, &record(1, None), LONG)
        .await
        .unwrap();
    let started = Instant::now();
    assert!(
        store.delete(&k).await.unwrap(),
        "a delete that no replica acknowledged still succeeds (and warns)"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "the delete waited for the replica that is not there"
    );
    let started = Instant::now();
    assert!(!store.delete(&k).await.unwrap());
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "a delete that deleted nothing does not wait"
    );
}

#[tokio::test]
async fn connecting_to_nothing_fails_quickly_and_clearly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let err = RedisStore::connect(
        &format!("redis://user:hunter2@127.0.0.1:{port}/"),
        RedisOptions::new().connect_timeout(Duration::from_millis(500)),
    )
    .await
    .expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "connect took {:?}",
        started.elapsed()
    );
    let text = err.to_string();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
    assert!(
        text.contains(&format!(
            "cannot connect to Redis at redis://***@127.0.0.1:{port}/"
        )),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "the password leaked: {text}");
    let source = std::error::Error::source(&err).expect("a source");
    let redis_error = std::error::Error::source(source).expect("the Redis error");
    assert!(redis_error.downcast_ref::<redis::RedisError>().is_some());

    let started = Instant::now();
    let err = RedisStore::connect_cluster(
        &[format!("redis://127.0.0.1:{port}/")],
        RedisOptions::new().connect_timeout(Duration::from_millis(500)),
    )
    .await
    .expect_err("no cluster listens there");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "connect_cluster took {:?}",
        started.elapsed()
    );
    assert!(
        err.to_string()
            .contains("cannot connect to Redis at redis://127.0.0.1:"),
        "{err}"
    );

    let braces = RedisStore::connect(
        &format!("redis://127.0.0.1:{port}/"),
        RedisOptions::new().prefix("a{b}:"),
    )
    .await
    .expect_err("braces in the prefix");
    assert!(braces.to_string().contains("braces"), "{braces}");
}

/// Binding sessions to a user prunes the user's index once it has grown
/// (then each time it doubles): the entries of sessions that simply
/// expired do not pile up for a user who never lists or revokes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_prunes_a_grown_user_index() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let prefix = "grow:";
    let store = common::store(&redis, prefix).await;
    let user = "lee@example.com";
    let user_index = format!("{prefix}u:{{{}}}", hex(&Sha256::digest(user.as_bytes())));
    // 100 sessions of this user, bound long ago and expired since.
    for i in 0..100 {
        let gone = hex(SessionKey::of_id(&format!("grow-gone-{i}")).as_bytes());
        assert_eq!(int(cmd(&redis, &["ZADD", &user_index, "1", &gone])), 1);
    }
    // The user logs in again, 30 times.
    for i in 0..30 {
        let key = SessionKey::of_id(&format!("grow-live-{i}"));
        store
            .create_shared(&key, &record(1, Some(user)), LONG)
            .await
            .unwrap();
    }
    let left = int(cmd(&redis, &["ZCARD", &user_index]));
    assert!(left <= 64, "{left} index entries left for 30 live sessions");
    assert_eq!(store.keys_for_user(user).await.unwrap().len(), 30);
}
