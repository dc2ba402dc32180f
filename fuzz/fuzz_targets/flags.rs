//! `flags`: arbitrary bytes, split on NUL, as the demo servers' argv.
//!
//! `DemoArgs::try_parse_from` must never panic. What it accepts must satisfy
//! the documented ranges (examples/README.md, examples/src/cli.rs), and the session
//! configuration the demos build from it must validate without panicking.
//! What it rejects must be a usage error (exit code 2) or help/version
//! (exit code 0), and rendering the message must not panic.
#![no_main]

/// `livesession_demos::cli`, compiled from its own source file: the demos'
/// library would pull poem, salvo and their trees into every fuzz build
/// (a cold build went from about 1.5 to 3.5 minutes on 2 cores). cli.rs needs
/// only clap and livesession, so this is the very same parser.
#[path = "../../examples/src/cli.rs"]
#[allow(dead_code)]
mod cli;

use clap::Parser;
use cli::DemoArgs;
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let argv = std::iter::once(OsString::from("demo")).chain(
        data.split(|&b| b == 0)
            .map(|arg| OsString::from_vec(arg.to_vec())),
    );
    let args = match DemoArgs::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) => {
            let code = e.exit_code();
            let text = e.to_string();
            assert!(
                code == 2 || (code == 0 && !e.use_stderr()),
                "exit code {code} for {:?}: {text}",
                e.kind()
            );
            return;
        }
    };
    assert!(args.max_age_ms >= 1, "max_age_ms {}", args.max_age_ms);
    assert!(args.passivate_after_ms >= 1, "passivate_after_ms {}", args.passivate_after_ms);
    assert!(
        args.absolute_timeout_ms.is_none_or(|ms| ms >= 1),
        "absolute_timeout_ms {:?}",
        args.absolute_timeout_ms
    );
    // `durability` is an enum: only `sync` and `periodic` parse at all.
    let _: cli::DurabilityFlag = args.durability;

    // The demo's own builder chain (DemoArgs::session_config), minus the
    // sled store and the secret file (no I/O here). Ok or Err, never a panic.
    let secrets = if args.secrets.is_empty() {
        vec!["a secret of at least thirty-two bytes!".to_string()]
    } else {
        args.secrets.clone()
    };
    let _ = args.session_config(&secrets).build();
});
