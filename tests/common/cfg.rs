//! `Cfg`: the flags, secrets and environment a demo server is started with.

use std::path::{Path, PathBuf};

use super::SECRET;

/// How to start a server. `--addr` is always chosen by the harness.
#[derive(Clone, Debug, Default)]
pub struct Cfg {
    /// Pass `--memory`.
    pub memory: bool,
    /// Pass `--data-dir DIR`.
    pub data_dir: Option<PathBuf>,
    /// Each becomes `--secret S`, in order.
    pub secrets: Vec<String>,
    /// Further flags, verbatim.
    pub args: Vec<String>,
    /// Environment for the child (`LIVESESSION_SECRET` is removed unless
    /// set here).
    pub env: Vec<(String, String)>,
    /// Two processes on a Redis of their own instead of one in memory:
    /// requests alternate between them (the `behaviour_shared` suite).
    pub pair_on_redis: bool,
}

impl Cfg {
    /// One process in `--memory` mode; in the `behaviour_shared` suite,
    /// two processes sharing a Redis of their own.
    pub fn memory() -> Cfg {
        Cfg {
            memory: !crate::SHARED,
            pair_on_redis: crate::SHARED,
            secrets: vec![SECRET.to_string()],
            ..Cfg::default()
        }
    }

    pub fn durable(dir: &Path) -> Cfg {
        Cfg {
            data_dir: Some(dir.to_path_buf()),
            secrets: vec![SECRET.to_string()],
            ..Cfg::default()
        }
    }

    pub fn args(mut self, args: &[&str]) -> Cfg {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }

    pub fn secrets(mut self, secrets: &[&str]) -> Cfg {
        self.secrets = secrets.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Cfg {
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    pub(super) fn flag_value(&self, flag: &str) -> Option<String> {
        let mut it = self.args.iter();
        while let Some(a) = it.next() {
            if a == flag {
                return it.next().cloned();
            }
            if let Some(v) = a.strip_prefix(&format!("{flag}=")) {
                return Some(v.to_string());
            }
        }
        None
    }

    /// The secret the server signs with, as far as the harness knows.
    pub fn signing_secret(&self) -> Option<String> {
        if let Some(s) = self.secrets.first() {
            return Some(s.clone());
        }
        self.env
            .iter()
            .find(|(k, _)| k == "LIVESESSION_SECRET")
            .map(|(_, v)| v.split(',').next().unwrap_or("").to_string())
    }
}
