//! Helpers shared by the Redis tests.
#![allow(dead_code)] // each test binary uses its own subset

use livesession_redis::{RedisOptions, RedisStore};
use livesession_redis_harness::{command, RedisServer, Reply};

/// 64 random bits in hex, for prefixes and names unique to one test.
pub fn random() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

/// A store on `redis` under `prefix`.
pub async fn store(redis: &RedisServer, prefix: &str) -> RedisStore {
    RedisStore::connect(&redis.url(), RedisOptions::new().prefix(prefix))
        .await
        .expect("connecting to the test server failed")
}

/// Runs a command on the test server, panicking on connection errors.
pub fn cmd<A: AsRef<[u8]>>(redis: &RedisServer, args: &[A]) -> Reply {
    command(redis.port(), args).expect("the test server did not answer")
}

/// Every key in the server, by SCAN.
pub fn all_keys(redis: &RedisServer) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = "0".to_owned();
    loop {
        let reply = cmd(redis, &["SCAN", &cursor, "COUNT", "1000"]);
        let Reply::Array(parts) = reply else {
            panic!("SCAN answered {reply:?}")
        };
        let [Reply::Bulk(next), Reply::Array(batch)] = parts.as_slice() else {
            panic!("SCAN answered {parts:?}")
        };
        for k in batch {
            keys.push(k.as_str().expect("a key is not UTF-8").to_owned());
        }
        cursor = String::from_utf8(next.clone()).expect("SCAN cursor");
        if cursor == "0" {
            return keys;
        }
    }
}

/// An integer reply.
pub fn int(reply: Reply) -> i64 {
    match reply {
        Reply::Integer(i) => i,
        other => panic!("expected an integer reply, got {other:?}"),
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
