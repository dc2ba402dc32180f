//! Command-line flags.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub struct Opts {
    pub bin: PathBuf,
    pub seconds: u64,
    pub clients: usize,
    pub kill_every: f64,
    pub seed: u64,
    pub think_ms: u64,
    pub max_age_ms: u64,
    pub passivate_ms: u64,
    pub keep_dir: bool,
}

pub fn usage(msg: &str) -> ! {
    eprintln!("soak: {msg}");
    eprintln!(
        "usage: soak --bin PATH [--seconds 300] [--clients 64] [--kill-every 30] [--seed N]\n\
         \x20           [--think-ms 10] [--max-age-ms 20000] [--passivate-after-ms 2000] [--keep-dir]"
    );
    std::process::exit(2);
}

pub fn parse_opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        bin: PathBuf::new(),
        seconds: 300,
        clients: 64,
        kill_every: 30.0,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
        think_ms: 10,
        max_age_ms: 20_000,
        passivate_ms: 2_000,
        keep_dir: false,
    };
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--keep-dir" {
            o.keep_dir = true;
            i += 1;
            continue;
        }
        let Some(v) = args.get(i + 1) else {
            usage(&format!("{flag} needs a value"))
        };
        let num = |v: &str| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
        };
        match flag {
            "--bin" => o.bin = PathBuf::from(v),
            "--seconds" => o.seconds = num(v),
            "--clients" => o.clients = num(v) as usize,
            "--kill-every" => {
                o.kill_every = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--kill-every: not a number: {v}")))
            }
            "--seed" => o.seed = num(v),
            "--think-ms" => o.think_ms = num(v),
            "--max-age-ms" => o.max_age_ms = num(v),
            "--passivate-after-ms" => o.passivate_ms = num(v),
            _ => usage(&format!("unknown flag {flag}")),
        }
        i += 2;
    }
    if o.bin.as_os_str().is_empty() {
        usage("--bin is required");
    }
    if o.seconds == 0 || o.clients == 0 || o.kill_every < 5.0 || o.max_age_ms < 5_000 {
        usage("need --seconds > 0, --clients > 0, --kill-every >= 5, --max-age-ms >= 5000");
    }
    o
}
