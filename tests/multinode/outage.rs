//! Redis unreachable: session routes fail closed, `/health` answers, and
//! the process serves again without a restart once Redis is back, with
//! nothing acknowledged lost.

use std::time::Duration;

use reqwest::Method;

use crate::common::*;
use crate::redis::{Backend, Kind};

async fn a_redis_outage_fails_closed_and_service_resumes(demo: Demo) {
    // The scenario stops and restarts its server: a standalone one of its own.
    let Some(mut redis) = Backend::start(Kind::Standalone) else {
        return;
    };
    let node = demo.start(redis.cfg(&[])).await;
    let mut agent = node.agent();
    for _ in 0..5 {
        agent.counter().await;
    }
    assert_eq!(agent.read().await, 5);

    let server = redis.standalone().expect("standalone");
    server.stop();
    let r = agent.peek(Method::GET, "/counter", None).await;
    assert!(r.status >= 500, "a session route fails closed: {r:?}");
    assert!(
        !r.body.to_lowercase().contains("redis"),
        "no internal error text: {r:?}"
    );
    node.get("/health").await.expect(200);

    server.start_again();
    let mut served = false;
    for _ in 0..100 {
        let r = agent.peek(Method::GET, "/read", None).await;
        if r.status == 200 {
            assert_eq!(r.int(), 5, "nothing acknowledged before the outage is lost");
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        served,
        "the node serves again without a restart:\n{}",
        node.log_tail()
    );
    assert_eq!(agent.counter().await, 6);
}

scenarios!(a_redis_outage_fails_closed_and_service_resumes);
