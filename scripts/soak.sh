#!/usr/bin/env bash
# scripts/soak.sh: a bounded soak test of one demo server. A script, not part
# of the default test run (it takes minutes and most of a 2-core machine).
#
# Usage:
#   scripts/soak.sh [SECONDS] [poem|salvo]      (defaults: 300 poem)
#
# What it does, from the repository root:
#   1. builds the demo (target/release/<demo>-demo) and the driver
#      (target/release/soak, from benches/src/bin/soak/) in release;
#   2. runs the driver, which starts the demo on 127.0.0.1 (a free port) with
#      a temp --data-dir, an explicit --secret, --passivate-after-ms 2000 and
#      --max-age-ms 20000 (default --durability sync), so passivation and
#      expiry churn during the run; 64 virtual clients send mixed load for
#      SECONDS seconds (/counter, /read, /session, PUT and DELETE
#      /session/{key}, bursts of concurrent /counter, /login + /me, /logout,
#      /regenerate?keep=..., POST /users/{u}/revoke, /stats; sessions idle
#      past the passivation and past the max age), while the server is
#      SIGKILLed and restarted on the same data dir and port about every
#      30 s;
#   3. checks, continuously and at the end (final check on the running
#      server, a last SIGKILL + restart, the final check again, the ended ids
#      again, an idle drain to /stats live 0 stored 0, SIGTERM -> exit 0):
#      no acknowledged write lost, no ended id resurrected, RSS and open fds
#      of the server bounded (sampled from /proc every 2 s), no 5xx (nor
#      transport error) outside the kill/restart windows;
#   4. prints a summary (requests by route and status, kills, restarts,
#      acknowledged writes checked, lost writes, resurrections, RSS and fds
#      per server incarnation) and exits 0 if every check passed, 1 if one
#      failed (the work dir with data/ and server.log is then kept and its
#      path printed), 2 on bad usage.
#
# It stops by itself: the run takes SECONDS plus about 45 s (final checks,
# drain, shutdown) plus the build; a hard `timeout` bounds it anyway, and the
# server dies with the driver. Only 127.0.0.1 is contacted.
#
# Environment (all optional):
#   SOAK_CLIENTS=N        virtual clients (default 64)
#   SOAK_KILL_EVERY=S     seconds between SIGKILLs, jittered +-15% (default 30)
#   SOAK_THINK_MS=MS      mean think time between a client's requests (default 10)
#   SOAK_SEED=N           workload seed (default: from the clock; printed)
#   SOAK_KEEP_DIR=1       keep the work dir even when every check passed
#   SOAK_ARGS="..."       further driver flags (target/release/soak --help, or
#                         benches/src/bin/soak/options.rs)
set -euo pipefail

seconds="${1:-300}"
demo="${2:-poem}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS] [poem|salvo]   (SECONDS a positive integer, default 300)" >&2
    exit 2
fi
case "$demo" in
    poem | salvo) ;;
    *)
        echo "usage: $0 [SECONDS] [poem|salvo]   (unknown demo: $demo)" >&2
        exit 2
        ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

echo "soak.sh: building ${demo}-demo and the soak driver (release)" >&2
cargo build --release -p livesession-demos --bin "${demo}-demo"
cargo build --release -p livesession-benches --bin soak

args=(
    --bin "$target/release/${demo}-demo"
    --seconds "$seconds"
    --clients "${SOAK_CLIENTS:-64}"
    --kill-every "${SOAK_KILL_EVERY:-30}"
    --think-ms "${SOAK_THINK_MS:-10}"
)
if [[ -n "${SOAK_SEED:-}" ]]; then
    args+=(--seed "$SOAK_SEED")
fi
if [[ -n "${SOAK_KEEP_DIR:-}" ]]; then
    args+=(--keep-dir)
fi
# shellcheck disable=SC2206 # word splitting of SOAK_ARGS is intended
extra=(${SOAK_ARGS:-})

# The driver ends by itself after SECONDS + ~45 s; this only guards a hang.
exec timeout -k 30 "$((seconds + 600))" "$target/release/soak" "${args[@]}" "${extra[@]}"
