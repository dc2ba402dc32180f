#!/usr/bin/env bash
# scripts/fuzz.sh: run every cargo-fuzz target in fuzz/ for a fixed time.
#
# Usage:
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60; CI smoke: 5)
#
# What it does, from the repository root:
#   1. installs cargo-fuzz (crates.io, --locked) if `cargo fuzz` is missing;
#   2. builds all targets once (libFuzzer + sanitizer coverage, release,
#      debug assertions and overflow checks on);
#   3. runs each target in turn, one at a time, for SECONDS_PER_TARGET
#      seconds: a fresh corpus fuzz/corpus/<target>/ is filled with the
#      committed seeds fuzz/seeds/<target>/*, fuzz/dicts/<target>.dict is used
#      when present, and libFuzzer stops by itself (-max_total_time);
#   4. prints one line per target: executions (libFuzzer's final
#      stat::number_of_executed_units), seconds, execs/s, corpus size;
#   5. exits 1 if any target crashed, hung, ran out of memory or did not run.
#      The crashing input is in fuzz/artifacts/<target>/, the full libFuzzer
#      log in fuzz/logs/<target>.log. Reproduce one input with
#        RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz -s none -a <target> <file>
#      and shrink it with `cargo fuzz tmin` (same flags).
#
# The toolchain is stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# nightly-only flags. No sanitizer by default (the crates forbid unsafe code;
# panics, overflows, hangs and OOMs are what the targets catch); set
# FUZZ_SANITIZER=address for ASan (slower build and run).
#
# Build time: on 2 cores the cold build dominates a smoke run, so runs of
# under 60 s per target build at opt-level 1 (cold build 65-105 s measured,
# depending on other load; about half the executions per second of
# opt-level 3); longer runs at opt-level 3 (cold build over 2 minutes, about
# 45 s more after an opt-level 1 build). Both live side by side in the target
# dir; a warm `scripts/fuzz.sh 5` takes about 25-40 s.
#
# Environment (all optional):
#   FUZZ_TARGETS="cookie record"  only these targets (default: all of fuzz/fuzz_targets/)
#   FUZZ_SANITIZER=none|address   default none
#   FUZZ_TIMEOUT=SECONDS          one input running longer is a hang (default 20)
#   FUZZ_RSS_LIMIT_MB=MB          libFuzzer memory limit (default 2048)
#   FUZZ_ARGS="..."               extra libFuzzer flags, e.g. "-seed=1"
#   FUZZ_OPT_LEVEL=0|1|2|3        opt-level of the build (default: above)
#   FUZZ_TARGET_DIR=DIR           build directory (default fuzz/target); point it
#                                 outside the clone (e.g. ~/.cache/...) to keep
#                                 the build warm across fresh CI clones
#   CARGO_FUZZ_VERSION=X.Y.Z      cargo-fuzz version to install (default 0.13.2)
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET]   (a positive integer, default 60)" >&2
    exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
fuzz_dir="fuzz"
sanitizer="${FUZZ_SANITIZER:-none}"
timeout="${FUZZ_TIMEOUT:-20}"
rss_limit="${FUZZ_RSS_LIMIT_MB:-2048}"
export RUSTC_BOOTSTRAP=1
if [[ -n "${FUZZ_OPT_LEVEL:-}" ]]; then
    opt_level="$FUZZ_OPT_LEVEL"
elif ((seconds < 60)); then
    opt_level=1
else
    opt_level=3
fi
export CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt_level"

if ! cargo fuzz --version >/dev/null 2>&1; then
    version="${CARGO_FUZZ_VERSION:-0.13.2}"
    echo "==> installing cargo-fuzz $version (first time only; takes a while)"
    cargo install cargo-fuzz --locked --version "$version"
fi

if [[ -n "${FUZZ_TARGETS:-}" ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    targets=()
    for f in "$fuzz_dir"/fuzz_targets/*.rs; do
        targets+=("$(basename "$f" .rs)")
    done
fi

# The same flags for build and run, so `cargo fuzz run` finds the build fresh.
flags=(--fuzz-dir "$fuzz_dir" --sanitizer "$sanitizer" --debug-assertions)
if [[ -n "${FUZZ_TARGET_DIR:-}" ]]; then
    flags+=(--target-dir "$FUZZ_TARGET_DIR")
fi

echo "==> building ${targets[*]} (sanitizer: $sanitizer, opt-level $opt_level)"
build_start=$SECONDS
cargo fuzz build "${flags[@]}"
echo "==> built in $((SECONDS - build_start)) s"

mkdir -p "$fuzz_dir/logs"
failed=()
report=()
for t in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$t"
    rm -rf "$corpus"
    mkdir -p "$corpus" "$fuzz_dir/artifacts/$t"
    if compgen -G "$fuzz_dir/seeds/$t/*" >/dev/null; then
        cp "$fuzz_dir/seeds/$t"/* "$corpus"/
    fi
    libfuzzer=(-max_total_time="$seconds" -print_final_stats=1
        -timeout="$timeout" -rss_limit_mb="$rss_limit")
    if [[ -f "$fuzz_dir/dicts/$t.dict" ]]; then
        libfuzzer+=(-dict="$fuzz_dir/dicts/$t.dict")
    fi
    # shellcheck disable=SC2206 # FUZZ_ARGS is split on purpose
    libfuzzer+=(${FUZZ_ARGS:-})
    log="$fuzz_dir/logs/$t.log"
    echo "==> fuzzing $t for $seconds s (log: $log)"
    start=$SECONDS
    status=ok
    if ! cargo fuzz run "${flags[@]}" "$t" "$corpus" -- "${libfuzzer[@]}" >"$log" 2>&1; then
        status=FAILED
        failed+=("$t")
    fi
    took=$((SECONDS - start))
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    execs="${execs:-0}"
    if [[ "$execs" == 0 && "$status" == ok ]]; then
        status="FAILED (no executions)"
        failed+=("$t")
    fi
    files="$(find "$corpus" -type f | wc -l)"
    report+=("$(printf '%-8s %12s execs %5s s %9s execs/s %6s corpus files  %s' \
        "$t" "$execs" "$took" "$((execs / (took > 0 ? took : 1)))" "$files" "$status")")
    if [[ "$status" != ok ]]; then
        echo "---- $t: last lines of $log ----"
        tail -n 60 "$log"
        echo "---- artifacts in $fuzz_dir/artifacts/$t/:"
        ls -l "$fuzz_dir/artifacts/$t/"
    fi
done

echo
echo "==> results (${seconds} s per target)"
printf '%s\n' "${report[@]}"
if ((${#failed[@]})); then
    echo "==> FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "==> no crash"
