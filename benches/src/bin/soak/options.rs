//! Command-line flags.

use clap::Parser;
use std::fmt::Display;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

/// A bounded soak test of one demo server (poem-demo or salvo-demo): virtual
/// clients send mixed loopback load while the server is SIGKILLed and
/// restarted on the same data dir; every acknowledged write and every ended
/// id is checked. Exit status: 0 every check passed, 1 one failed, 2 bad
/// usage.
#[derive(Parser)]
#[command(name = "soak", args_override_self = true)]
pub struct Opts {
    /// The demo server binary to start, e.g. target/release/poem-demo
    #[arg(long, value_name = "PATH", value_parser = existing_file)]
    pub bin: PathBuf,
    /// Seconds of load (then the final checks and the drain)
    #[arg(long, value_name = "N", default_value_t = 300, value_parser = at_least(1u64))]
    pub seconds: u64,
    /// Virtual clients
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = at_least(1usize))]
    pub clients: usize,
    /// Seconds between SIGKILLs, jittered by +-15% (at least 5)
    #[arg(long, value_name = "S", default_value_t = 30.0, value_parser = at_least(5.0))]
    pub kill_every: f64,
    /// Workload seed [default: from the clock; printed]
    #[arg(long, value_name = "N", default_value_t = clock_seed(), hide_default_value = true)]
    pub seed: u64,
    /// Mean think time between a client's requests, in ms
    #[arg(long, value_name = "MS", default_value_t = 10)]
    pub think_ms: u64,
    /// The server's --max-age-ms, its idle timeout (at least 5000)
    #[arg(long, value_name = "MS", default_value_t = 20_000, value_parser = at_least(5_000u64))]
    pub max_age_ms: u64,
    /// The server's --passivate-after-ms
    #[arg(
        long = "passivate-after-ms",
        value_name = "MS",
        default_value_t = 2_000
    )]
    pub passivate_ms: u64,
    /// Keep the work dir (data/, server.log) even when every check passed
    #[arg(long)]
    pub keep_dir: bool,
}

fn clock_seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

fn existing_file(v: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(v);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!("no such binary: {v}"))
    }
}

/// Parses a number of at least `min`.
fn at_least<T>(min: T) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: FromStr + PartialOrd + Display + Copy + Send + Sync + 'static,
{
    move |v| match v.parse::<T>() {
        Ok(n) if n >= min => Ok(n),
        Ok(_) => Err(format!("must be at least {min}")),
        Err(_) => Err(format!("not a number: {v}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Parses `--bin <this test binary>` and `args` (split at spaces).
    fn parse(args: &str) -> Result<Opts, clap::Error> {
        let bin = std::env::current_exe().unwrap().display().to_string();
        let argv = ["soak", "--bin", &bin]
            .into_iter()
            .chain(args.split_whitespace());
        Opts::try_parse_from(argv)
    }

    #[test]
    fn the_command_is_well_formed() {
        Opts::command().debug_assert();
    }

    #[test]
    fn defaults() {
        let o = parse("").unwrap();
        assert_eq!((o.seconds, o.clients, o.kill_every), (300, 64, 30.0));
        assert_eq!(
            (o.think_ms, o.max_age_ms, o.passivate_ms),
            (10, 20_000, 2_000)
        );
        assert!(!o.keep_dir);
    }

    /// What scripts/soak.sh passes, then SOAK_ARGS (a repeated flag wins).
    #[test]
    fn the_scripts_invocation() {
        let o = parse(
            "--seconds 300 --clients 64 --kill-every 30 --think-ms 10 --seed 42 --keep-dir \
             --clients 8 --passivate-after-ms 500 --max-age-ms 6000",
        )
        .unwrap();
        assert_eq!(
            (o.seconds, o.clients, o.kill_every, o.seed),
            (300, 8, 30.0, 42)
        );
        assert_eq!((o.think_ms, o.max_age_ms, o.passivate_ms), (10, 6_000, 500));
        assert!(o.keep_dir);
    }

    #[test]
    fn bounds() {
        for bad in [
            "--seconds 0",
            "--clients 0",
            "--kill-every 4.9",
            "--kill-every NaN",
            "--max-age-ms 4999",
            "--seed x",
            "--frob 1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(Opts::try_parse_from(["soak", "--bin", "/no/such/binary"]).is_err());
        assert!(Opts::try_parse_from(["soak"]).is_err());
    }
}
