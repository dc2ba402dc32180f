#!/usr/bin/env bash
# Counts the CPU instructions one request costs a server, under valgrind's
# callgrind: a count, not a time, so it is the same on a busy machine as on
# a quiet one (req/s and CPU µs here swing by a third between runs). It
# covers the server's own code in user space (framework, session library,
# allocator); the kernel's share (TCP, scheduling) is not counted.
#
#   bash benches/http/instructions.sh
#   SERVERS="poem-demo poem-server-session" ROUTES="read counter" COOKIES="1 64" \
#       COUNT=2000 CACHE=1 bash benches/http/instructions.sh
#
#   SERVERS  poem-demo salvo-demo (memory mode), poem-demo-sync,
#            poem-demo-periodic, salvo-demo-sync, salvo-demo-periodic (sled,
#            a fresh data directory), poem-server-session, salvo-session,
#            axum-tower-sessions, poem-cookie-session;
#            NAME@base runs demo NAME from BASE_DIR (default: the four first)
#   ROUTES   plain (the demos' /health, the peers' /plain; no cookie),
#            counter, read (default: all three)
#   COOKIES  counter and read get one cell per value: the requests rotate
#            that many session cookies (default "1 64")
#   COUNT    requests counted per cell (default 2000), after WARMUP (200)
#   CACHE=1  also simulates the caches: L1 data and last-level misses per
#            request (slower)
#   BASE_DIR a folder with another build's poem-demo and salvo-demo, e.g.
#            benches/http/target/rev/<sha> (run.sh BASELINE=<rev> makes one)
#
# Each cell starts its server under `valgrind --tool=callgrind` on core 0
# (so the demos' Tokio runtime has one worker; the peers get --workers 1),
# makes its sessions and warms up with keepalive.py (one keep-alive
# connection, sequential requests), zeroes the counters
# (`callgrind_control -z`), sends COUNT requests, dumps the counters
# (`callgrind_control -d`) and stops the server; a demo's /metrics is
# fetched before the zeroing and before the dump (drain_metrics below).
# Builds the demos and the peers (release) first unless SKIP_BUILD=1. Needs
# valgrind, python3, curl, taskset.
#
# One connection sends one request at a time, so a durable demo's writes
# never share a group commit here: each pays a whole flush (run.sh and
# switches.sh measure them under concurrent load).
#
# Valgrind's CPU has no SHA extensions, so SHA-256 and HMAC-SHA256 run in
# software here and count several times what they cost natively (a session
# id's SHA-256 is ~3,600 instructions here, one SHA-NI block natively).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVERS=${SERVERS:-poem-demo poem-server-session salvo-demo salvo-session}
ROUTES=${ROUTES:-plain counter read}
COOKIES=${COOKIES:-1 64}
COUNT=${COUNT:-2000}
WARMUP=${WARMUP:-200}
SECRET="livesession-http-bench-secret-0123456789abcdef"
DEMO_BIN=$ROOT/target/release
CACHE_SIM=()
[ "${CACHE:-0}" = 1 ] && CACHE_SIM=(--cache-sim=yes)
PEER_BIN=$HERE/target/release

for tool in valgrind callgrind_control python3 curl taskset; do
    command -v "$tool" >/dev/null || { echo "instructions.sh: $tool is not installed (Debian: valgrind, python3, curl, util-linux)" >&2; exit 1; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build --release -q -p livesession-demos --bins)
    (cd "$HERE" && cargo build --release -q)
fi

WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# server_argv NAME PORT: the server's command line.
server_argv() {
    local name=$1 addr="127.0.0.1:$2" bin=$DEMO_BIN
    case "$name" in
        *@base)
            [ -n "${BASE_DIR:-}" ] || { echo "instructions.sh: $name needs BASE_DIR" >&2; exit 1; }
            name=${name%@base}; bin=$BASE_DIR ;;
    esac
    case "$name" in
        poem-demo | salvo-demo) echo "$bin/$name --addr $addr --memory --secret $SECRET" ;;
        poem-demo-sync | poem-demo-periodic | salvo-demo-sync | salvo-demo-periodic)
            rm -rf "$WORK/data"
            echo "$bin/${name%-*} --addr $addr --data-dir $WORK/data --durability ${name##*-} --secret $SECRET" ;;
        poem-server-session | poem-cookie-session | salvo-session | axum-tower-sessions)
            echo "$PEER_BIN/peer-$name --addr $addr --workers 1" ;;
        *) echo "instructions.sh: unknown server $name" >&2; exit 1 ;;
    esac
}

plain_path() { case "$1" in poem-demo* | salvo-demo*) echo /health ;; *) echo /plain ;; esac; }

# drain_metrics NAME PORT: a demo's metrics recorder folds its histogram
# samples in later, every few seconds: a scrape before the counters are
# zeroed and one before they are dumped make each cell pay for its own
# samples, wherever that timer falls. The second scrape is counted too:
# ~120k instructions, ~60 per request at COUNT=2000.
drain_metrics() {
    case "$1" in
        poem-demo* | salvo-demo*) curl -s -o /dev/null --max-time 30 "http://127.0.0.1:$2/metrics" ;;
    esac
}

# count NAME ROUTE COOKIES: prints "NAME ROUTE COOKIES <events per request>".
count() {
    local name=$1 route=$2 cookies=$3 path port out argv events
    case "$route" in
        plain) path=$(plain_path "$name") ;;
        counter | read) path=/$route ;;
        *) echo "instructions.sh: unknown route $route" >&2; exit 1 ;;
    esac
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    out=$WORK/cg.$name.$route.$cookies
    # shellcheck disable=SC2207
    argv=($(server_argv "$name" "$port"))
    taskset -c 0 valgrind --tool=callgrind "${CACHE_SIM[@]}" \
        --callgrind-out-file="$out" "${argv[@]}" >"$WORK/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 300); do
        curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port$(plain_path "$name")" && break
        kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
        sleep 0.2
    done
    rm -f "$WORK/cookies"
    python3 "$HERE/keepalive.py" "$port" "$path" "$WARMUP" "$cookies" "$WORK/cookies"
    drain_metrics "$name" "$port"
    callgrind_control -z "$SERVER" >/dev/null
    python3 "$HERE/keepalive.py" "$port" "$path" "$COUNT" "$cookies" "$WORK/cookies"
    drain_metrics "$name" "$port"
    callgrind_control -d "$SERVER" >/dev/null
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
    events=$(awk '/^(summary|totals):/ { $1 = ""; print; exit }' "$out".1)
    [ -n "$events" ] || { echo "instructions.sh: no counters dumped for $name $route" >&2; exit 1; }
    echo "$name $route $cookies $events"
}

RESULTS=$WORK/results
for name in $SERVERS; do
    for route in $ROUTES; do
        if [ "$route" = plain ]; then
            count "$name" plain 0 >>"$RESULTS"
            tail -n 1 "$RESULTS" >&2
        else
            for c in $COOKIES; do
                count "$name" "$route" "$c" >>"$RESULTS"
                tail -n 1 "$RESULTS" >&2
            done
        fi
    done
done

python3 - "$RESULTS" "$COUNT" "${CACHE:-0}" <<'EOF'
import sys
path, n, cache = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
rows = [line.split() for line in open(path)]
# events: Ir [Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw] (totals of COUNT requests)
plain = {r[0]: int(r[3]) for r in rows if r[1] == "plain"}
head = "| server | route | cookies | instructions/request | vs own plain |"
if cache:
    head += " L1d misses/request | LL misses/request |"
print(head)
print("|" + "---|" * (head.count("|") - 1))
for r in rows:
    name, route, cookies, ev = r[0], r[1], r[2], [int(x) for x in r[3:]]
    ratio = f"{ev[0] / plain[name]:.2f}×" if name in plain else ""
    line = f"| {name} | {route} | {cookies if route != 'plain' else '-'} | {ev[0] / n:,.0f} | {ratio} |"
    if cache and len(ev) >= 9:
        line += f" {(ev[4] + ev[5]) / n:,.1f} | {(ev[7] + ev[8]) / n:,.2f} |"
    print(line)
print(f"\n{n} requests per cell over one keep-alive connection, after a warm-up; "
      "user-space instructions of the server process (valgrind --tool=callgrind).")
EOF
