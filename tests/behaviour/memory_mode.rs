//! What only `--memory` mode does: nothing is stored, nothing passivates.

use serde_json::json;

use crate::common::*;

/// `--memory`: `/stats` is `{"live": n, "stored": 0}` with live >= 1 once
/// a session exists.
async fn stats_in_memory_mode(demo: Demo) {
    let srv = demo.memory(&[]).await;
    let r = srv.get("/stats").await;
    r.expect(200).expect_no_cookie();
    let v = r.json();
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("/stats not an object: {v}"));
    let mut keys: Vec<_> = obj.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["live", "stored"], "/stats keys: {v}");
    assert_eq!(v["stored"], json!(0));
    let mut a = srv.agent();
    a.counter().await;
    let mut b = srv.agent();
    b.counter().await;
    let (live, stored) = srv.stats().await;
    assert!(live >= 2, "live {live} with two sessions");
    assert_eq!(stored, 0);
}

/// `--memory` has no passivation: a session idle past
/// `--passivate-after-ms` is still live and still works.
async fn memory_mode_does_not_passivate(demo: Demo) {
    let srv = demo.memory(&["--passivate-after-ms", "100"]).await;
    let mut a = srv.agent();
    a.counter().await;
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (live, stored) = srv.stats().await;
    assert!(live >= 1, "--memory session passivated: live {live}");
    assert_eq!(stored, 0);
    assert_eq!(
        a.read().await,
        1,
        "--memory session lost after the passivation delay"
    );
}

scenarios!(stats_in_memory_mode, memory_mode_does_not_passivate);
