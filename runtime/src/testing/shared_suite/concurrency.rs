//! Concurrent read-modify-commit loops that lose no update.

use super::fixtures::{commit, counter, create, fresh_key, record, touch, LONG};
use crate::store::{Committed, SessionStore, Touched};
use serde_json::json;
use std::sync::Arc;

pub(super) async fn concurrent_read_modify_commit<S: SessionStore>(store: Arc<S>) {
    const TASKS: u64 = 32;
    let k = fresh_key("concurrent");
    create(&*store, &k, &record(0, None), LONG).await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut base = match touch(&*store, &k, None).await {
                    Touched::Changed(current) => current,
                    other => panic!("touch(None) of a live record must be Changed, got {other:?}"),
                };
                for _ in 0..10_000 {
                    let mut next = base.record.clone();
                    next.data
                        .insert("n".to_owned(), json!(counter(&base.record) + 1));
                    match commit(&*store, &k, base.version, &next, LONG, None).await {
                        Committed::Done(version) => {
                            assert!(
                                version > base.version,
                                "Done must answer a version above the expected one"
                            );
                            return;
                        }
                        Committed::Conflict(current) => {
                            assert!(
                                current.version > base.version,
                                "a conflict must answer a newer version than the expected one"
                            );
                            base = current;
                        }
                        Committed::Gone => panic!("a live record's commit answered Gone"),
                    }
                }
                panic!("a read-modify-commit loop did not land in 10000 tries");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a read-modify-commit task panicked");
    }
    match touch(&*store, &k, None).await {
        Touched::Changed(last) => {
            assert_eq!(
                counter(&last.record),
                TASKS,
                "every concurrent increment must land exactly once"
            );
            assert_eq!(
                last.version,
                TASKS + 1,
                "the version must count the create and every commit"
            );
        }
        other => panic!("touch(None) after the increments must be Changed, got {other:?}"),
    }
}
