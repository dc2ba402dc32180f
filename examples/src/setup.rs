//! Builds the demo's [`SessionManager`] from its flags.

use crate::cli::{DemoArgs, DurabilityFlag};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use clap::Parser;
use livesession::store::DeferredStore;
use livesession::SessionManager;
use livesession_redis::{RedisOptions, RedisStore};
use livesession_sled::{Durability, SledConfig, SledStore};
use metrics_exporter_prometheus::PrometheusHandle;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// How often `--durability periodic` flushes.
pub const PERIODIC_FLUSH: Duration = Duration::from_millis(500);

/// Why the demo could not start, and with which exit code.
#[derive(Debug)]
pub struct StartupError {
    /// 2 for bad flags or values, 1 for everything else.
    pub exit_code: i32,
    /// What went wrong.
    pub message: String,
}

fn usage(message: impl Into<String>) -> StartupError {
    StartupError {
        exit_code: 2,
        message: message.into(),
    }
}

fn failure(message: impl Into<String>) -> StartupError {
    StartupError {
        exit_code: 1,
        message: message.into(),
    }
}

/// Where the flags say sessions live.
enum Backend<'a> {
    Memory,
    Sled,
    Redis(&'a str),
    RedisCluster(&'a [String]),
}

impl DemoArgs {
    fn backend(&self) -> Backend<'_> {
        match (&self.redis, self.redis_cluster.as_slice()) {
            (Some(url), _) => Backend::Redis(url),
            (None, [_, ..]) => Backend::RedisCluster(&self.redis_cluster),
            _ if self.memory => Backend::Memory,
            _ => Backend::Sled,
        }
    }
}

/// The session manager the flags describe. Says on stderr where sessions
/// live and where the secret came from. Must run inside a Tokio runtime.
pub async fn build_manager(args: &DemoArgs) -> Result<SessionManager, StartupError> {
    let secrets = resolve_secrets(args)?;
    let mut builder = args.session_config(&secrets);
    match args.backend() {
        Backend::Memory => eprintln!(
            "livesession: sessions are kept in memory only (--memory): they are lost on exit"
        ),
        Backend::Sled => builder = builder.store(open_sled(args)),
        Backend::Redis(url) => {
            let options = RedisOptions::new().prefix(&args.redis_prefix);
            let store = RedisStore::connect(url, options)
                .await
                .map_err(|e| failure(format!("cannot use Redis at {url}: {}", chain(&e))))?;
            eprintln!(
                "livesession: sessions are stored in Redis at {url} under the prefix {:?}",
                args.redis_prefix
            );
            builder = builder.store(Arc::new(store));
        }
        Backend::RedisCluster(urls) => {
            let options = RedisOptions::new().prefix(&args.redis_prefix);
            let store = RedisStore::connect_cluster(urls, options)
                .await
                .map_err(|e| failure(format!("cannot use the Redis Cluster: {}", chain(&e))))?;
            eprintln!(
                "livesession: sessions are stored in the Redis Cluster at {} under the prefix {:?}",
                urls.join(", "),
                args.redis_prefix
            );
            builder = builder.store(Arc::new(store));
        }
    }
    let config = builder.build().map_err(|e| usage(e.to_string()))?;
    Ok(SessionManager::new(config))
}

/// An error and its sources, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The sled store in the data dir, opened in the background: after a
/// crash sled replays its log (about 2 s with 1M sessions), and the server
/// serves meanwhile; session requests wait for the store. A store that
/// cannot open (another process holds it, a bad directory) ends the demo
/// with a clear message.
fn open_sled(args: &DemoArgs) -> Arc<DeferredStore> {
    let durability = match args.durability {
        DurabilityFlag::Periodic => Durability::Periodic(PERIODIC_FLUSH),
        DurabilityFlag::Sync => Durability::Sync,
    };
    let dir = args.data_dir.join("sessions");
    let store = {
        let dir = dir.clone();
        DeferredStore::open(move || SledStore::open(&dir, SledConfig::new().durability(durability)))
    };
    eprintln!(
        "livesession: sessions are stored in {} (durability {})",
        dir.display(),
        args.durability
    );
    let opening = store.clone();
    tokio::spawn(async move {
        if let Err(e) = opening.ready().await {
            eprintln!(
                "livesession: cannot open the session store in {}: {e}",
                dir.display()
            );
            std::process::exit(1);
        }
    });
    Arc::new(store)
}

fn resolve_secrets(args: &DemoArgs) -> Result<Vec<String>, StartupError> {
    if !args.secrets.is_empty() {
        return Ok(args.secrets.clone());
    }
    if let Ok(env) = std::env::var("LIVESESSION_SECRET") {
        let list: Vec<String> = env
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if list.is_empty() {
            return Err(usage("LIVESESSION_SECRET is set but holds no secret"));
        }
        return Ok(list);
    }
    if args.memory {
        eprintln!("livesession: no --secret or LIVESESSION_SECRET given; using a random secret for this run");
        return Ok(vec![random_secret()]);
    }
    load_or_create_secret(&args.data_dir).map(|s| vec![s])
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).expect("the OS random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn load_or_create_secret(dir: &Path) -> Result<String, StartupError> {
    let path = dir.join("secret");
    if let Ok(s) = fs::read_to_string(&path) {
        let s = s.trim().to_string();
        if !s.is_empty() {
            eprintln!("livesession: using the secret kept in {}", path.display());
            return Ok(s);
        }
    }
    fs::create_dir_all(dir)
        .map_err(|e| failure(format!("cannot create the data dir {}: {e}", dir.display())))?;
    let secret = random_secret();
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(|e| {
        failure(format!(
            "cannot write the secret to {}: {e}",
            path.display()
        ))
    })?;
    file.write_all(secret.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| {
            failure(format!(
                "cannot write the secret to {}: {e}",
                path.display()
            ))
        })?;
    eprintln!(
        "livesession: no --secret or LIVESESSION_SECRET given; made a random secret and kept it in {}",
        path.display()
    );
    Ok(secret)
}

/// What a demo needs to serve: its flags, its session manager and its
/// metrics.
pub struct Demo {
    /// The parsed command line.
    pub args: DemoArgs,
    /// The session manager the flags describe.
    pub manager: SessionManager,
    /// Renders `GET /metrics`.
    pub metrics: PrometheusHandle,
}

/// The shared startup of both demos: logging, flags (bad ones exit 2),
/// the session manager (a store that cannot open exits 1), metrics.
pub async fn start(name: &str) -> Demo {
    crate::routes::init_logging();
    let args = DemoArgs::parse();
    let manager = build_manager(&args).await.unwrap_or_else(|e| {
        eprintln!("{name}: {}", e.message);
        std::process::exit(e.exit_code);
    });
    let metrics = crate::routes::install_metrics();
    eprintln!("{name}: listening on http://{}", args.addr);
    Demo {
        args,
        manager,
        metrics,
    }
}

/// The shared shutdown of both demos, once the server has stopped
/// accepting: every live session is written to the store; exit 1 if that
/// fails.
pub async fn stop(name: &str, manager: &SessionManager) {
    match manager.shutdown().await {
        Ok(()) => eprintln!("{name}: stopped; every live session persisted"),
        Err(e) => {
            eprintln!("{name}: could not persist every session at shutdown: {e}");
            std::process::exit(1);
        }
    }
}
