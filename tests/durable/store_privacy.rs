//! The durable store keys records by a hash of the id: the raw id never
//! reaches the data dir.

use std::path::Path;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::common::*;

/// Every file under `dir`, recursively, as (path, bytes).
fn all_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p.display().to_string(), b));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Assert no file under `dir` holds any id (as text, or its decoded bytes),
/// nor any cookie value or signature.
fn assert_no_ids(dir: &Path, ids: &[String], cookies: &[String], when: &str) {
    let files = all_files(dir);
    assert!(!files.is_empty(), "{when}: the data dir is empty");
    let mut needles: Vec<(String, Vec<u8>)> = Vec::new();
    for id in ids {
        needles.push((format!("id {id}"), id.as_bytes().to_vec()));
        if let Ok(raw) = URL_SAFE_NO_PAD.decode(id) {
            needles.push((format!("decoded bytes of id {id}"), raw));
        }
    }
    for c in cookies {
        let v = percent_decode(c);
        if let Some((_, sig)) = v.rsplit_once('.') {
            needles.push((format!("signature {sig}"), sig.as_bytes().to_vec()));
        }
    }
    for (path, bytes) in &files {
        for (what, n) in &needles {
            assert!(
                !contains(bytes, n),
                "{when}: {path} contains the {what} (a leaked data dir would hijack the session)"
            );
        }
    }
}

/// Sessions created, modified, logged in, passivated and persisted on
/// shutdown: no file under the data dir contains an id.
async fn data_dir_never_holds_raw_ids(demo: Demo) {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = demo
        .start(Cfg::durable(dir.path()).args(&["--passivate-after-ms", "200"]))
        .await;
    let mut ids = Vec::new();
    let mut cookies = Vec::new();
    for i in 0..6 {
        let mut a = srv.agent();
        a.counter().await;
        a.put("payload", &format!("\"value-{i}\"")).await;
        if i % 2 == 0 {
            ids.push(a.id());
            a.login(&format!("user{i}")).await;
        }
        if i == 5 {
            ids.push(a.id());
            a.post("/regenerate?keep=payload").await.expect(204);
        }
        ids.push(a.id());
        cookies.push(a.cookie.clone().unwrap());
    }
    // written by sync durability
    assert_no_ids(dir.path(), &ids, &cookies, "while running");
    let (s, ok) = srv
        .wait_stats(Duration::from_secs(5), |live, _| live == 0)
        .await;
    assert!(ok, "never passivated: {s:?}");
    assert_no_ids(dir.path(), &ids, &cookies, "after passivation");
    // wake two up, then persist everything on shutdown
    for c in cookies.iter().take(2) {
        srv.agent_with(c).counter().await;
    }
    srv.stop().await;
    assert_no_ids(dir.path(), &ids, &cookies, "after SIGTERM");
    // the data is really in there (so the check above looked at real data)
    let srv = srv.restart().await;
    let mut a = srv.agent_with(&cookies[1]);
    assert_eq!(a.read().await, 2);
}

scenarios!(data_dir_never_holds_raw_ids);
