//! The demo command line (documented in `examples/README.md`). Bad flags or values
//! print an error and exit with code 2 (clap's convention).

use clap::Parser;
use livesession::{SameSite, Secure};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `--durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityFlag {
    /// A change is on disk before its response is sent (group commit).
    Sync,
    /// Changes are flushed in the background.
    Periodic,
}

impl std::fmt::Display for DurabilityFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DurabilityFlag::Sync => "sync",
            DurabilityFlag::Periodic => "periodic",
        })
    }
}

/// Flags shared by both demo servers.
#[derive(Debug, Clone, Parser)]
#[command(
    about = "livesession demo server (routes and flags: examples/README.md)",
    version
)]
pub struct DemoArgs {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// sled directory for durable sessions.
    #[arg(long, default_value = "./livesession-data")]
    pub data_dir: PathBuf,
    /// No persistence at all: sessions live only in their actors.
    #[arg(long)]
    pub memory: bool,
    /// Signing secret (repeatable: the first signs, all verify). Default: env
    /// LIVESESSION_SECRET (comma-separated), else a random secret kept in the data dir.
    #[arg(long = "secret", value_name = "S")]
    pub secrets: Vec<String>,
    /// Cookie name.
    #[arg(long, default_value = "sessionId")]
    pub cookie_name: String,
    /// Cookie value prefix (`s:` for express-session compatible cookies).
    #[arg(long, default_value = "")]
    pub cookie_prefix: String,
    /// Cookie path; requests outside it get no session.
    #[arg(long, default_value = "/")]
    pub cookie_path: String,
    /// Cookie domain.
    #[arg(long)]
    pub cookie_domain: Option<String>,
    /// Secure attribute: true, false or auto.
    #[arg(long, default_value = "auto", value_parser = parse_secure)]
    pub cookie_secure: Secure,
    /// SameSite attribute: strict, lax or none.
    #[arg(long, default_value = "lax", value_parser = parse_same_site)]
    pub same_site: SameSite,
    /// Partitioned attribute.
    #[arg(long)]
    pub partitioned: bool,
    /// HttpOnly attribute: true or false.
    #[arg(long, default_value = "true", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub http_only: bool,
    /// Idle timeout in ms; the cookie's Expires is now + this.
    #[arg(long, default_value_t = 86_400_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_age_ms: u64,
    /// A session ends this many ms after creation, however active.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub absolute_timeout_ms: Option<u64>,
    /// Re-send the cookie with a fresh Expires on every response with a session.
    #[arg(long, default_value = "true", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub rolling: bool,
    /// Store and send a cookie for new, unmodified sessions.
    #[arg(long, default_value = "false", value_parser = parse_bool, action = clap::ArgAction::Set)]
    pub save_uninitialized: bool,
    /// A live session idle this long (ms) is written to disk and its actor stopped.
    #[arg(long, default_value_t = 300_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub passivate_after_ms: u64,
    /// At most N sessions live in memory: with a store the least recently used
    /// passivate to make room; with --memory a new session beyond N gets 503.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_live_sessions: Option<u64>,
    /// sync: a change is on disk before its response; periodic: flushed in the background.
    #[arg(long, value_enum, default_value_t = DurabilityFlag::Sync)]
    pub durability: DurabilityFlag,
    /// Honour X-Forwarded-Proto.
    #[arg(long)]
    pub trust_proxy: bool,
    /// Keep sessions in Redis/Valkey at URL (`redis://HOST:PORT[/DB]`) instead
    /// of sled, so several demo processes share them.
    #[arg(long, value_name = "URL", conflicts_with_all = ["memory", "redis_cluster"])]
    pub redis: Option<String>,
    /// The same on a Redis Cluster, given one or more of its nodes (repeatable).
    #[arg(long = "redis-cluster", value_name = "URL", conflicts_with = "memory")]
    pub redis_cluster: Vec<String>,
    /// Prefix of every Redis key this app writes.
    #[arg(long, value_name = "P", default_value = "livesession:")]
    pub redis_prefix: String,
}

impl DemoArgs {
    /// The session configuration these flags describe, signed with
    /// `secrets` (resolved by the caller), without a store: the demo adds
    /// the sled store unless `--memory`.
    pub fn session_config(&self, secrets: &[String]) -> livesession::SessionConfigBuilder {
        use std::time::Duration;
        livesession::SessionConfig::builder()
            .secrets(secrets)
            .cookie_name(&self.cookie_name)
            .cookie_prefix(&self.cookie_prefix)
            .cookie_path(&self.cookie_path)
            .cookie_domain(self.cookie_domain.clone())
            .secure(self.cookie_secure)
            .same_site(Some(self.same_site))
            .partitioned(self.partitioned)
            .http_only(self.http_only)
            .max_age(Some(Duration::from_millis(self.max_age_ms)))
            .absolute_timeout(self.absolute_timeout_ms.map(Duration::from_millis))
            .rolling(self.rolling)
            .save_uninitialized(self.save_uninitialized)
            .passivate_after(Duration::from_millis(self.passivate_after_ms))
            .max_live_sessions(
                self.max_live_sessions
                    .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            )
            .trust_proxy(self.trust_proxy)
    }
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("expected true or false, got {s:?}")),
    }
}

fn parse_secure(s: &str) -> Result<Secure, String> {
    s.parse()
}

fn parse_same_site(s: &str) -> Result<SameSite, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<DemoArgs, clap::Error> {
        DemoArgs::try_parse_from(std::iter::once("demo").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_match_the_contract() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(a.data_dir, PathBuf::from("./livesession-data"));
        assert_eq!(a.cookie_name, "sessionId");
        assert_eq!(a.cookie_secure, Secure::Auto);
        assert_eq!(a.same_site, SameSite::Lax);
        assert!(a.http_only && a.rolling && !a.save_uninitialized && !a.memory);
        assert_eq!(a.max_age_ms, 86_400_000);
        assert_eq!(a.passivate_after_ms, 300_000);
        assert_eq!(a.durability, DurabilityFlag::Sync);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["--cookie-secure", "maybe"][..],
            &["--same-site", "foo"],
            &["--max-age-ms", "abc"],
            &["--max-age-ms", "0"],
            &["--rolling", "yes"],
            &["--durability", "never"],
            &["--addr", "nowhere"],
            &["--unknown"],
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
        let a = parse(&[
            "--secret",
            "a",
            "--secret",
            "b",
            "--rolling",
            "false",
            "--partitioned",
        ])
        .unwrap();
        assert_eq!(a.secrets, ["a", "b"]);
        assert!(!a.rolling && a.partitioned);
    }
}
