//! The harness against the real binaries: a server keeps what it
//! acknowledged across a kill and restart, and a cluster comes up. Each test
//! skips loudly when Redis is not installed (fails with
//! `LIVESESSION_REQUIRE_REDIS=1`).

use livesession_redis_harness::{command, RedisCluster, RedisServer, Reply};
use std::time::Instant;

#[test]
fn server_keeps_acknowledged_writes_across_a_kill() {
    let started = Instant::now();
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    eprintln!(
        "redis-server up in {:?} at {}",
        started.elapsed(),
        redis.url()
    );
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}/", redis.port()));

    assert_eq!(
        command(redis.port(), &["SET", "greeting", "hello\r\nworld"]).unwrap(),
        Reply::Simple("OK".into())
    );
    assert_eq!(
        redis.command(&["GET", "greeting"]).unwrap(),
        Reply::Bulk(b"hello\r\nworld".to_vec())
    );
    assert_eq!(redis.command(&["GET", "missing"]).unwrap(), Reply::Nil);

    redis.stop();
    assert!(!redis.is_running());
    assert!(
        command(redis.port(), &["PING"]).is_err(),
        "a stopped server must not answer"
    );

    let restarted = Instant::now();
    redis.start_again();
    eprintln!("redis-server back in {:?}", restarted.elapsed());
    assert_eq!(
        redis.command(&["GET", "greeting"]).unwrap(),
        Reply::Bulk(b"hello\r\nworld".to_vec()),
        "the append-only file brings the write back"
    );
}

#[test]
fn dropping_a_server_kills_it_and_removes_its_dir() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let (port, dir) = (redis.port(), redis.dir().to_owned());
    assert!(dir.join("redis.log").exists());
    drop(redis);
    assert!(command(port, &["PING"]).is_err());
    assert!(!dir.exists());
}

#[test]
fn cluster_of_three_masters_is_ok_on_every_node() {
    let started = Instant::now();
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    eprintln!(
        "cluster up in {:?}: {:?}",
        started.elapsed(),
        cluster.urls()
    );
    let ports = cluster.ports();
    assert_eq!(ports.len(), 3);
    assert_eq!(
        cluster.urls(),
        ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect::<Vec<_>>()
    );
    for port in ports {
        let info = command(port, &["CLUSTER", "INFO"]).unwrap();
        let info = info.as_str().expect("CLUSTER INFO is a bulk string");
        assert!(info.contains("cluster_state:ok"), "{port}: {info}");
        assert!(info.contains("cluster_known_nodes:3"), "{port}: {info}");
        assert!(
            info.contains("cluster_slots_assigned:16384"),
            "{port}: {info}"
        );
    }
}
