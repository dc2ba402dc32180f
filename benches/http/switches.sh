#!/usr/bin/env bash
# Counts, per request, what one poem-demo server does under wrk load: its
# context switches, futex, epoll_wait and sched_yield calls, and sled log
# writes (`pwrite64`) and flushes (`sync_file_range`), from kernel
# tracepoints (perf stat). Counts, unlike
# req/s, barely move when the machine is busy, so they show what a change to
# the hand-offs between threads does.
#
#   bash benches/http/switches.sh [MODE] [ROUTE] [COOKIES] [SECONDS]
#
#   MODE     memory | sync | periodic (default sync: the demo's default)
#   ROUTE    counter | read | health ... (default counter)
#   COOKIES  sessions the load is spread over (default 1; see bench.lua)
#   SECONDS  length of the counted run (default 5)
#
# Builds poem-demo (release; or counts POEM_DEMO=<binary>), starts it on core 0 (a free loopback port,
# a fresh data directory), warms up for 2 s, then counts while wrk (core 1,
# 32 connections) runs. Needs perf (Debian: linux-perf) allowed to read
# tracepoints (root, or kernel.perf_event_paranoid <= -1), wrk, curl, taskset.
set -euo pipefail

MODE=${1:-sync}
ROUTE=${2:-counter}
COOKIES=${3:-1}
SECONDS_COUNTED=${4:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SECRET="livesession-http-bench-secret-0123456789abcdef"

for tool in perf wrk curl taskset python3; do
    command -v "$tool" >/dev/null || { echo "switches.sh: $tool is not installed" >&2; exit 1; }
done
EVENTS="sched:sched_switch,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_sched_yield,syscalls:sys_enter_pwrite64,syscalls:sys_enter_sync_file_range"
if ! perf stat -e "$EVENTS" true >/dev/null 2>&1; then
    echo "switches.sh: perf cannot read the tracepoints $EVENTS (run as root?)" >&2
    exit 1
fi

# POEM_DEMO=<binary>: count another build (not rebuilt) instead.
if [ -z "${POEM_DEMO:-}" ]; then
    (cd "$ROOT" && cargo build --release -q -p livesession-demos --bin poem-demo)
    POEM_DEMO=$ROOT/target/release/poem-demo
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA=$(mktemp -d)
OUT=$(mktemp -d)
case "$MODE" in
    memory) STORE=(--memory) ;;
    sync | periodic) STORE=(--data-dir "$DATA" --durability "$MODE") ;;
    *) echo "switches.sh: MODE is memory, sync or periodic, not $MODE" >&2; exit 1 ;;
esac
taskset -c 0 "$POEM_DEMO" --addr "127.0.0.1:$PORT" --secret "$SECRET" \
    "${STORE[@]}" >"$OUT/server.log" 2>&1 &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; rm -rf "$DATA" "$OUT"; }
trap cleanup EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    sleep 0.1
done

load() {
    taskset -c 1 wrk -t1 -c32 -d"$1"s -s "$HERE/bench.lua" "http://127.0.0.1:$PORT" \
        -- "/$ROUTE" session "$COOKIES"
}
load 2 >/dev/null
perf stat -e "$EVENTS" -x, -o "$OUT/stat" -p "$SERVER" -- sleep "$SECONDS_COUNTED" &
PERF=$!
# utime and stime, in clock ticks.
ticks() { awk '{ print $14, $15 }' "/proc/$SERVER/stat"; }
before=$(ticks)
load "$SECONDS_COUNTED" >"$OUT/wrk"
after=$(ticks)
wait "$PERF"

requests=$(sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' "$OUT/wrk")
if [ -z "$requests" ] || [ "$requests" -eq 0 ]; then
    echo "switches.sh: wrk made no requests" >&2; cat "$OUT/wrk" >&2; exit 1
fi
hz=$(getconf CLK_TCK)
p50=$(sed -n 's/^BENCH .*p50_us=\([0-9]*\).*/\1/p' "$OUT/wrk")
p99=$(sed -n 's/^BENCH .*p99_us=\([0-9]*\).*/\1/p' "$OUT/wrk")
echo "$(basename "$POEM_DEMO") $MODE, /$ROUTE, $COOKIES cookie(s): $requests requests in ${SECONDS_COUNTED} s, p50 ${p50} µs, p99 ${p99} µs"
python3 - "$OUT/stat" "$requests" "$before" "$after" "$hz" <<'EOF'
import sys
stat, requests, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[5])
user, system = (int(a) - int(b) for a, b in zip(sys.argv[4].split(), sys.argv[3].split()))
us = lambda ticks: ticks / hz * 1e6 / requests
print(f"  {'CPU µs':<28} {us(user + system):8.1f} per request")
print(f"  {'  in user space':<28} {us(user):8.1f}")
print(f"  {'  in the kernel':<28} {us(system):8.1f}")
names = {"sched:sched_switch": "context switches", "syscalls:sys_enter_futex": "futex calls",
         "syscalls:sys_enter_epoll_wait": "epoll_wait calls", "syscalls:sys_enter_sched_yield": "sched_yield calls",
         "syscalls:sys_enter_pwrite64": "sled log writes (pwrite64)",
         "syscalls:sys_enter_sync_file_range": "sled flushes (sync_file_range)"}
for line in open(stat):
    parts = line.strip().split(",")
    if len(parts) > 2 and parts[2] in names and parts[0].isdigit():
        print(f"  {names[parts[2]]:<28} {int(parts[0]) / requests:8.3f} per request")
EOF
