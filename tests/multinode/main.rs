//! Several demo processes on one Redis (and on a 3-master Redis Cluster)
//! behave as one server: a client may send each request to a different
//! process, and every guarantee holds across them.
//!
//! Each scenario is written once as `async fn name(demo: Demo, redis: Backend)`
//! and run for both demos on a standalone server and on a cluster:
//! `<module>::poem::<name>`, `<module>::salvo::<name>`,
//! `<module>::poem_cluster::<name>`, `<module>::salvo_cluster::<name>`.
//! The Redis servers are started by the tests on free loopback ports; where
//! `redis-server` is missing they say so loudly and pass without running
//! (`LIVESESSION_REQUIRE_REDIS=1`, set in CI, makes that a failure).

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

/// Define the four test modules for a list of scenarios.
macro_rules! on_redis {
    ($($name:ident),* $(,)?) => {
        on_redis!(@one poem, Poem, Standalone; $($name),*);
        on_redis!(@one salvo, Salvo, Standalone; $($name),*);
        on_redis!(@one poem_cluster, Poem, Cluster; $($name),*);
        on_redis!(@one salvo_cluster, Salvo, Cluster; $($name),*);
    };
    (@one $module:ident, $demo:ident, $kind:ident; $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(redis) = $crate::redis::Backend::start($crate::redis::Kind::$kind) else {
                        return;
                    };
                    super::$name($crate::common::Demo::$demo, &redis).await
                }
            )*
        }
    };
}
mod nodes;
mod outage;
mod redis;

/// Servers started with `Cfg::memory()` are single processes.
pub const SHARED: bool = false;
