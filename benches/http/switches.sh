#!/usr/bin/env bash
# Counts, per request, what one poem-demo server does under wrk load: its
# context switches, futex, epoll_wait and sched_yield calls, and sled log
# writes (`pwrite64`) and flushes (`sync_file_range`), from kernel
# tracepoints (perf stat), and its CPU time split by thread (the Tokio
# worker, the sled store's committer, sled's I/O pool, ...). Counts, unlike
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
# per thread: "name<TAB>utime stime" lines (a name may hold spaces, so the
# ticks are read after the stat line's last ')')
thread_ticks() {
    local t stat
    for t in /proc/"$SERVER"/task/*; do
        stat=$(cat "$t/stat" 2>/dev/null) || continue
        printf '%s\t%s\n' "$(cat "$t/comm" 2>/dev/null)" "$(echo "${stat##*)}" | awk '{ print $12, $13 }')"
    done
}
thread_ticks >"$OUT/threads.before"
before=$(ticks)
load "$SECONDS_COUNTED" >"$OUT/wrk"
after=$(ticks)
thread_ticks >"$OUT/threads.after"
wait "$PERF"

requests=$(sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' "$OUT/wrk")
if [ -z "$requests" ] || [ "$requests" -eq 0 ]; then
    echo "switches.sh: wrk made no requests" >&2; cat "$OUT/wrk" >&2; exit 1
fi
hz=$(getconf CLK_TCK)
p50=$(sed -n 's/^BENCH .*p50_us=\([0-9]*\).*/\1/p' "$OUT/wrk")
p99=$(sed -n 's/^BENCH .*p99_us=\([0-9]*\).*/\1/p' "$OUT/wrk")
echo "$(basename "$POEM_DEMO") $MODE, /$ROUTE, $COOKIES cookie(s): $requests requests in ${SECONDS_COUNTED} s, p50 ${p50} µs, p99 ${p99} µs"
python3 - "$OUT/stat" "$requests" "$before" "$after" "$hz" "$OUT/threads.before" "$OUT/threads.after" <<'EOF'
import re, sys
stat, requests, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[5])
user, system = (int(a) - int(b) for a, b in zip(sys.argv[4].split(), sys.argv[3].split()))
us = lambda ticks: ticks / hz * 1e6 / requests
print(f"  {'CPU µs':<28} {us(user + system):8.1f} per request")
print(f"  {'  in user space':<28} {us(user):8.1f}")
print(f"  {'  in the kernel':<28} {us(system):8.1f}")

def threads(path):
    # threads of one pool (sled-io-0, sled-io-1, ...) summed under one name
    out = {}
    for line in open(path):
        name, _, ticks = line.rstrip("\n").partition("\t")
        if len(ticks.split()) != 2:
            continue
        name = re.sub(r"-[0-9]+$", "-*", name)
        u, s = out.get(name, (0, 0))
        out[name] = (u + int(ticks.split()[0]), s + int(ticks.split()[1]))
    return out
t0, t1 = threads(sys.argv[6]), threads(sys.argv[7])
rows = []
for name, (u1, s1) in t1.items():
    u0, s0 = t0.get(name, (0, 0))
    if (u1 - u0) + (s1 - s0) > 0:
        rows.append((us(u1 - u0) + us(s1 - s0), name, us(u1 - u0), us(s1 - s0)))
print("  by thread (user + kernel µs per request; threads that ended meanwhile are missing)")
for total, name, u, s in sorted(rows, reverse=True):
    print(f"    {name:<26} {total:8.1f}  ({u:.1f} + {s:.1f})")
names = {"sched:sched_switch": "context switches", "syscalls:sys_enter_futex": "futex calls",
         "syscalls:sys_enter_epoll_wait": "epoll_wait calls", "syscalls:sys_enter_sched_yield": "sched_yield calls",
         "syscalls:sys_enter_pwrite64": "sled log writes (pwrite64)",
         "syscalls:sys_enter_sync_file_range": "sled flushes (sync_file_range)"}
for line in open(stat):
    parts = line.strip().split(",")
    if len(parts) > 2 and parts[2] in names and parts[0].isdigit():
        print(f"  {names[parts[2]]:<28} {int(parts[0]) / requests:8.3f} per request")
EOF
