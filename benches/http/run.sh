#!/usr/bin/env bash
# benches/http/run.sh: HTTP benchmark of livesession's demos against peer
# session libraries, all in one run, on loopback only.
#
#   bash benches/http/run.sh            # from the repository root (or anywhere)
#
# What it does, in order (it stops by itself; nothing is left running):
#   1. installs wrk with apt-get if it is missing;
#   2. builds, in release: the demos (`cargo build --release -p livesession-demos
#      --bins` in the main workspace, i.e. the working tree as it is: its HEAD
#      and the files with uncommitted changes are recorded in OUT/build.txt and
#      under the table) and this folder's own crate (`peer-servers`: one binary
#      per peer plus `lost-updates` and `make-sessions`), which is NOT a workspace member and has
#      its own target dir, benches/http/target;
#      a commit named by BASELINE=<rev> (or CURRENT=<rev>) is built apart:
#      `git worktree add --detach /tmp/livesession-bench-<short sha> <sha>`
#      (outside the repository; removed after the build, and by the exit trap
#      if the build fails), `cargo build --release -p livesession-demos --bins`
#      there with CARGO_TARGET_DIR=benches/http/target/rev-build (kept, so the
#      next run rebuilds little), the two binaries copied to
#      benches/http/target/rev/<full sha>/ (SKIP_BUILD=1 reuses them);
#   3. for every server and route: starts the server pinned to core SERVER_CPU
#      (taskset), runs wrk pinned to core CLIENT_CPU (THREADS threads, CONNS
#      connections, REPS repetitions of DURATION seconds each, the same server
#      process across the repetitions of one route), reads the server's
#      utime+stime from /proc/PID/stat before and after each repetition, stops
#      the server;
#        servers: poem-demo, salvo-demo (--memory), poem ServerSession+MemoryStorage,
#                 poem CookieSession (signed), salvo-session MemoryStore,
#                 axum + tower-sessions MemoryStore; and the demos' /counter in
#                 durable mode (--data-dir <tmp> --durability sync|periodic);
#                 with BASELINE, NAME@base is demo server NAME (poem-demo,
#                 poem-demo-sync, salvo-demo-periodic, ...) run from the
#                 baseline build, in the same repetition loop as the rest;
#                 with REDIS=1 (or any *-redis server in SERVERS): the demos
#                 with --redis (poem-demo-redis, salvo-demo-redis) and three
#                 peers on Redis (peer-poem-redis: poem ServerSession +
#                 RedisStorage; peer-axum-tower-redis: axum + tower-sessions
#                 + tower-sessions-redis-store; peer-actix-redis: actix-web +
#                 actix-session RedisSessionStore), all on ONE redis-server
#                 started for the run on a free loopback port (--save ""
#                 --appendonly no, a tmp dir of its own, pinned to REDIS_CPU;
#                 installed with apt-get when missing), FLUSHALL before every
#                 timed run of a Redis server; its INFO commandstats and its
#                 CPU time before and after each run give "redis cmds/req"
#                 and "Redis CPU µs/req";
#        routes:  plain   (/plain; the demos' /health): no session at all;
#                 counter (/counter with COOKIES session cookies, obtained by
#                          bench.lua before the run (one GET /counter each):
#                          one cookie is sent on every request (static
#                          request); N > 1 are rotated request by request);
#                 read    (/read with those cookies);
#                 new     (/new; the demos' /counter) with NO cookie: every
#                          request makes and stores a brand-new session;
#        with several COOKIES values, counter and read get one cell per value;
#        with POPULATION, counter and read also get one cell per population
#        size N ("/counter, N sessions"): right after its server starts,
#        `make-sessions` (this crate, pinned to CLIENT_CPU, boosted) makes N
#        live sessions with N GET /counter without cookie (MAKE_CONC at a
#        time over keep-alive connections) and writes their cookies to a
#        file; the warm-up and every repetition then run wrk with
#        COOKIES=@<that file>: the load is spread over the N sessions, one
#        cookie after another (the same server process and sessions across
#        the repetitions); the new route gets population cells too
#        ("/new, N sessions"): the same N sessions are made first, then the
#        run makes brand-new sessions beside them (its p99 after 10 000 and
#        after 1 000 000 sessions were created, say);
#   4. the concurrency check: `lost-updates` fires LOST_N concurrent
#      GET /counter on one cookie against every server, LOST_ROUNDS times, in
#      two settings: pinned to one core (as the benchmark) and on both cores
#      (peers with --workers 2, demos unpinned: tokio then starts 2 workers);
#      and, for every Redis server, a third: TWO processes of it on two ports
#      sharing the one Redis (one pinned to each core, one worker each), the
#      LOST_N requests alternating between them (cross-node lost updates);
#   5. prints ONE markdown table (req/s = median over repetitions, p50/p99 =
#      median of wrk's per-repetition percentiles, CPU µs/request = server
#      CPU time / requests, median over repetitions; ratios: each route vs the
#      same server's plain route, ours vs the peer on the same framework,
#      durable modes vs memory mode of the same build, sync vs periodic,
#      N cookies vs 1 cookie, current build vs @base), then, when any @base
#      server ran, a side-by-side table of the demos' /counter (current vs
#      baseline, each durable mode vs memory mode of its own build), then the
#      lost-update table.
#
# Environment (defaults in brackets):
#   DURATION [5]  seconds per repetition      REPS [3]  repetitions
#   CONNS [32]    wrk connections             THREADS [1]  wrk threads
#   SERVER_CPU [0] / CLIENT_CPU [1]           cores for taskset
#   LOST_N [400]  concurrent increments       LOST_ROUNDS [5]
#   NICE [-10]    nice level of servers and wrk: other work on this shared
#                 machine (builds) then gets far less of the benchmark's cores
#   PORT_BASE [18400]                         first loopback port used
#   SERVERS       space-separated subset of server names (default: all, plus
#                 the six demo@base servers when BASELINE is set, plus the five
#                 Redis servers when REDIS=1)
#   REDIS [0]     1: add the Redis servers to the default set (naming a
#                 *-redis server in SERVERS starts Redis as well)
#   REDIS_CPU [CLIENT_CPU]  core of the redis-server (the server's core stays
#                 its own, as if Redis ran on another machine)
#   ROUTES        space-separated subset of plain counter read new (default: all)
#   COOKIES [1]   session cookies per wrk thread for counter and read; a
#                 space-separated list (e.g. "1 64") runs each value as its own
#                 cell in the same loop. The check after each counter
#                 repetition reads every cookie's n back: their sum must be
#                 >= completed requests + the cookies' own first GETs
#   POPULATION    off when empty [empty]; a space-separated list of session
#                 counts (e.g. "1000 100000 1000000"): counter, read and new get one
#                 cell per value, the load spread over that many live sessions
#                 made before the run (see 3.), their ratio taken against the
#                 smallest population of the same server and route ("vs 1000
#                 sessions"); OUT/population.tsv and a table under the main one
#                 give the time to make them and the server's RSS before and
#                 after (a rough bytes per session). The counter check reads
#                 every session's n back once, after the last repetition
#                 (make-sessions --read-back): the sum must be >= N + all the
#                 requests of the warm-up and the repetitions, and every n >= 1.
#                 Not for Redis servers (FLUSHALL before each run would wipe
#                 the sessions): they get no population cells. Memory: the
#                 memory-store servers hold ~1-2 GB per 1 000 000 sessions, per
#                 cell (all cells' servers are up at once); the cookie files
#                 (~60 MB per 1 000 000) live in a tmp dir removed on exit
#   MAKE_CONC [64]  concurrent requests (connections) of make-sessions
#   BASELINE      git rev (commit, tag, branch) whose demos run as NAME@base;
#                 unset: no baseline
#   CURRENT       git rev to build the (non-@base) demos from instead of the
#                 working tree, e.g. CURRENT=HEAD while others have
#                 uncommitted edits in the tree
#   SKIP_BUILD=1  use the binaries already built
#   OUT           results dir [benches/http/target/results/<UTC timestamp>]
#   REPORT_ONLY=DIR  only re-print the tables (and redraw the chart) from an
#                 earlier results dir
#   CHART_OUT=PATH   also copy the run's chart there, e.g.
#                 CHART_OUT=benches/http/cpu-per-request.svg (the committed one)
# Outputs: OUT/raw.tsv (one line per repetition), OUT/lost.tsv, OUT/table.md,
# OUT/cpu-per-request.svg (chart.py: CPU µs/request per server and route,
# grouped bars; the POPULATION cells are in the table only), OUT/build.txt (commits built), OUT/knobs.txt (the settings
# above, for the chart's title), OUT/logs/<server>-<route>[-c<N>|-s<N>].{stderr,wrk}
# (server stderr and wrk output; -c<N> for N cookies, -s<N> for a population
# of N sessions, whose make-sessions output is in .sessions),
# OUT/population.tsv (POPULATION only), OUT/logs/redis-server.log.
#
# Example: sync durability vs memory, before and after a commit, 1 and 64 cookies:
#   BASELINE=65e56c7 COOKIES="1 64" ROUTES=counter SERVERS="poem-demo \
#     poem-demo-sync poem-demo@base poem-demo-sync@base" bash benches/http/run.sh
# Example: is CPU per request flat from 1 000 to 1 000 000 live sessions?
#   POPULATION="1000 100000 1000000" ROUTES="counter read" SERVERS="poem-demo \
#     poem-server-session salvo-demo salvo-session" bash benches/http/run.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DURATION="${DURATION:-5}"
REPS="${REPS:-3}"
CONNS="${CONNS:-32}"
THREADS="${THREADS:-1}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
LOST_N="${LOST_N:-400}"
LOST_ROUNDS="${LOST_ROUNDS:-5}"
NICE="${NICE:--10}"
PORT_BASE="${PORT_BASE:-18400}"
ROUTES="${ROUTES:-plain counter read new}"
COOKIES="${COOKIES:-1}"
POPULATION="${POPULATION:-}"
BASELINE="${BASELINE:-}"
CURRENT="${CURRENT:-}"
REDIS="${REDIS:-0}"
REDIS_CPU="${REDIS_CPU:-$CLIENT_CPU}"
OUT="${REPORT_ONLY:-${OUT:-$HERE/target/results/$(date -u +%Y%m%dT%H%M%SZ)}}"
SECRET="livesession-http-bench-secret-0123456789abcdef"
HOST="127.0.0.1"   # loopback only: never change this to another address

ALL_SERVERS="poem-demo salvo-demo poem-server-session poem-cookie-session salvo-session axum-tower-sessions poem-demo-sync poem-demo-periodic salvo-demo-sync salvo-demo-periodic"
BASE_SERVERS="poem-demo@base salvo-demo@base poem-demo-sync@base poem-demo-periodic@base salvo-demo-sync@base salvo-demo-periodic@base"
REDIS_SERVERS="poem-demo-redis salvo-demo-redis peer-poem-redis peer-axum-tower-redis peer-actix-redis"
if [ -n "$BASELINE" ]; then ALL_SERVERS="$ALL_SERVERS $BASE_SERVERS"; fi
if [ "$REDIS" = 1 ]; then ALL_SERVERS="$ALL_SERVERS $REDIS_SERVERS"; fi
SERVERS="${SERVERS:-$ALL_SERVERS}"
is_redis() { case "$1" in *-redis) return 0 ;; *) return 1 ;; esac; }
USE_REDIS=0
for server in $SERVERS; do if is_redis "$server"; then USE_REDIS=1; fi; done

DEMO_BIN="$ROOT/target/release"
PEER_BIN="$HERE/target/release"
mkdir -p "$OUT/logs"
RAW="$OUT/raw.tsv"
LOST="$OUT/lost.tsv"
if [ -z "${REPORT_ONLY:-}" ]; then
printf 'server\troute\tcookies\trep\trequests\tduration_us\tp50_us\tp99_us\tcpu_ticks\tstatus_errors\tsocket_errors\talive\tcheck\tredis_cmds\tredis_cpu_ticks\tredis_mix\tsessions\n' >"$RAW"
printf 'server\tsetting\tround\tn\tfinal\tlost\tnon_200\terrors\treads\n' >"$LOST"
for knob in DURATION REPS CONNS THREADS COOKIES POPULATION NICE SERVER_CPU CLIENT_CPU REDIS_CPU; do
    printf '%s=%s\n' "$knob" "${!knob}"
done >"$OUT/knobs.txt"
fi

# boosted CMD...: runs CMD (exec, same pid) in a session of its own whose
# autogroup gets nice $NICE. With autogroup scheduling (the kernel default),
# a plain `nice` only counts within one's own session, so other work on this
# shared machine (builds in other sessions) would still take half the cores.
# shellcheck disable=SC2016 # expanded by the inner bash, not here
BOOST='echo "$0" > /proc/self/autogroup 2>/dev/null; exec "$@"'
boosted() { setsid bash -c "$BOOST" "$NICE" nice -n "$NICE" "$@"; }

log() { printf '[run.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# report: the markdown tables from $RAW and $LOST, also into $OUT/table.md
report() {
NICE="$NICE" python3 - "$RAW" "$LOST" "$OUT" "$DURATION" "$REPS" "$CONNS" "$THREADS" <<'PY' | tee "$OUT/table.md"
import csv, statistics, sys, os, platform
raw, lost, out, duration, reps, conns, threads = sys.argv[1:8]
clk = os.sysconf("SC_CLK_TCK")
build = {}
if os.path.exists(os.path.join(out, "build.txt")):
    for line in open(os.path.join(out, "build.txt")):
        k, _, v = line.rstrip("\n").partition("=")
        build[k] = v
probe = {}
if os.path.exists(os.path.join(out, "redis-probe.tsv")):
    for r in csv.DictReader(open(os.path.join(out, "redis-probe.tsv")), delimiter="\t"):
        n = int(r["requests"])
        if n > 0:
            mix = sorted(((c, int(v)) for c, _, v in (p.partition("=") for p in r["sent_mix"].split(",") if "=" in p)),
                         key=lambda cv: -cv[1])
            probe[(r["server"], r["route"], int(r["cookies"]))] = {
                "sent": int(r["sent"]) / n, "in_scripts": int(r["in_scripts"]) / n,
                "mix": ", ".join(f"{c} {v / n:.2f}" if v / n >= 0.005 else f"{c} <0.01" for c, v in mix)}
rows = {}
pop_rows = {}   # POPULATION cells: (server, route, sessions) -> rows
for r in csv.DictReader(open(raw), delimiter="\t"):
    r["cookies"] = r.get("cookies") or "1"   # results dirs from before COOKIES
    if r.get("sessions"):
        pop_rows.setdefault((r["server"], r["route"], int(r["sessions"])), []).append(r)
        continue
    rows.setdefault((r["server"], r["route"], int(r["cookies"])), []).append(r)

LABEL = {
    "poem-demo": "**poem-demo** (livesession, memory)",
    "salvo-demo": "**salvo-demo** (livesession, memory)",
    "poem-server-session": "poem ServerSession + MemoryStorage",
    "poem-cookie-session": "poem CookieSession (signed)",
    "salvo-session": "salvo-session MemoryStore",
    "axum-tower-sessions": "axum + tower-sessions MemoryStore",
    "poem-demo-sync": "**poem-demo** --durability sync",
    "poem-demo-periodic": "**poem-demo** --durability periodic",
    "poem-demo-redis": "**poem-demo** --redis",
    "salvo-demo-sync": "**salvo-demo** --durability sync",
    "salvo-demo-periodic": "**salvo-demo** --durability periodic",
    "salvo-demo-redis": "**salvo-demo** --redis",
    "peer-poem-redis": "poem ServerSession + RedisStorage",
    "peer-axum-tower-redis": "axum + tower-sessions RedisStore (fred)",
    "peer-actix-redis": "actix-web + actix-session RedisSessionStore",
}
BASE_TAG = "@base"
base_short = build.get("baseline_short", "")

def label(s):
    if s.endswith(BASE_TAG):
        core = s[: -len(BASE_TAG)]
        return f"{LABEL.get(core, core)} @base{(' ' + base_short) if base_short else ''}"
    return LABEL.get(s, s)

def route_label(route, k):
    name = {"plain": "plain", "counter": "/counter", "read": "/read", "new": "new session"}[route]
    return f"{name}, {k} cookies" if k > 1 else name

PEERS = {
    "poem-demo": [("poem-server-session", "poem ServerSession"), ("poem-cookie-session", "poem CookieSession")],
    "salvo-demo": [("salvo-session", "salvo-session")],
    "poem-demo-redis": [("peer-poem-redis", "poem ServerSession + Redis")],
    # Redis peers against the same library's in-memory store
    "peer-poem-redis": [("poem-server-session", "its MemoryStorage")],
    "peer-axum-tower-redis": [("axum-tower-sessions", "its MemoryStore")],
}

def split(s):
    """server name -> (core name, build suffix '' or '@base')"""
    return (s[: -len(BASE_TAG)], BASE_TAG) if s.endswith(BASE_TAG) else (s, "")

def mode_of(core):
    if core.startswith("peer-"):
        return core, "memory"
    for m in ("sync", "periodic", "redis"):
        if core.endswith("-" + m):
            return core[: -len(m) - 1], m
    return core, "memory"

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def summary(key, src=None):
    src = rows if src is None else src
    rs = [r for r in src.get(key, []) if int(r["requests"]) > 0]
    if not rs:
        return None
    rps = [int(r["requests"]) / (int(r["duration_us"]) / 1e6) for r in rs]
    cpu = [int(r["cpu_ticks"]) / clk * 1e6 / int(r["requests"]) for r in rs]
    rcmds = [int(r["redis_cmds"]) / int(r["requests"]) for r in rs if r.get("redis_cmds")]
    rcpu = [int(r["redis_cpu_ticks"]) / clk * 1e6 / int(r["requests"]) for r in rs if r.get("redis_cpu_ticks")]
    mix = {}
    for r in rs:
        for part in (r.get("redis_mix") or "-").split(","):
            if "=" in part:
                c, _, v = part.partition("=")
                mix[c] = mix.get(c, 0) + int(v)
    reqs = sum(int(r["requests"]) for r in rs)
    return {
        "rcmds": med(rcmds), "rcpu": med(rcpu),
        "mix": ", ".join(f"{c} {v / reqs:.2f}" if v / reqs >= 0.005 else f"{c} <0.01"
                         for c, v in sorted(mix.items(), key=lambda kv: -kv[1])),
        "rps": med(rps), "p50": med([int(r["p50_us"]) for r in rs]),
        "p99": med([int(r["p99_us"]) for r in rs]), "cpu": med(cpu),
        "errors": sum(int(r["status_errors"]) + int(r["socket_errors"]) for r in rs),
        "dead": any(r["alive"] == "0" for r in src[key]),
        "low": [r["check"] for r in src[key] if r["check"].startswith("LOW")],
        "reps": len(rs),
        "util": med([int(r["cpu_ticks"]) / clk / (int(r["duration_us"]) / 1e6) for r in rs]),
    }

def lat(us):
    return f"{us/1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"

def ratio(a, b):
    return f"{a/b:.2f}×" if a and b else "–"

def both(m, o):
    return f"{ratio(m['rps'], o['rps'])} / {ratio(m['cpu'], o['cpu'])}"

present = {k[0] for k in rows} | {k[0] for k in pop_rows}
redis_run = any(r.get("redis_cmds") for rs in rows.values() for r in rs)
if redis_run:
    print(f"| server | route | req/s | p50 | p99 | CPU µs/req | redis cmds/req | sent/req | Redis CPU µs/req | vs own plain | vs peer / mode / build (req/s; CPU/req) |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
else:
    print(f"| server | route | req/s | p50 | p99 | CPU µs/req | vs own plain | vs peer / mode / build (req/s; CPU/req) |")
    print("|---|---|--:|--:|--:|--:|--:|---|")
def redis_cols(m, key):
    if not redis_run:
        return ""
    if not m or m["rcmds"] is None or m["rcpu"] is None:
        return " – | – | – |"
    p = probe.get(key)
    return f" {m['rcmds']:.2f} | {p['sent']:.2f} | {m['rcpu']:.1f} |" if p else f" {m['rcmds']:.2f} | – | {m['rcpu']:.1f} |"
mixes = []
order = []
for s in list(LABEL) + sorted(present):
    for name in (s, s + BASE_TAG):
        if name in present and name not in order:
            order.append(name)
cookie_counts = sorted({k[2] for k in rows})
populations = sorted({k[2] for k in pop_rows})
# a cell variant: ("c", N cookies) or ("p", N sessions of a POPULATION cell)
variants = [("c", k) for k in cookie_counts] + [("p", n) for n in populations]
def vsrc(v):
    return rows if v[0] == "c" else pop_rows
def S(server, route, v):
    return summary((server, route, v[1]), vsrc(v))
def vlabel(route, v):
    return route_label(route, v[1]) if v[0] == "c" else f"{route_label(route, 1)}, {v[1]} sessions"
notes = []
for s in order:
    core, suffix = split(s)
    demo, mode = mode_of(core)
    for route in ["plain", "counter", "read", "new"]:
        for v in variants:
            k = v[1]
            key = (s, route, k)
            m = S(s, route, v)
            if m is None:
                if key in vsrc(v):
                    print(f"| {label(s)} | {vlabel(route, v)} | no result | | | |{' | | |' if redis_run else ''} | |")
                continue
            plain = summary((s, "plain", 1))
            own = ratio(m["rps"], plain["rps"]) if plain and route != "plain" else ("1.00×" if route == "plain" else "–")
            cmp = []
            for peer, name in PEERS.get(s, []):
                p = S(peer, route, v)
                if p:
                    cmp.append(f"{both(m, p)} vs {name}")
            if mode != "memory":
                mem = S(demo + suffix, route, v)
                if mem:
                    cmp.append(f"{both(m, mem)} vs memory mode")
                if mode == "redis":
                    sled = S(demo + "-sync" + suffix, route, v)
                    if sled:
                        cmp.append(f"{both(m, sled)} vs sled sync")
                if mode == "sync":
                    per = S(demo + "-periodic" + suffix, route, v)
                    if per:
                        cmp.append(f"{both(m, per)} vs periodic")
            if v[0] == "c" and k > 1:
                one = summary((s, route, 1))
                if one:
                    cmp.append(f"{both(m, one)} vs 1 cookie")
            if v[0] == "p":   # vs the smallest population of this server and route
                smallest = min((n for (s2, r2, n) in pop_rows if s2 == s and r2 == route and summary((s2, r2, n), pop_rows)), default=None)
                if smallest is not None and smallest < k:
                    cmp.append(f"{both(m, summary((s, route, smallest), pop_rows))} vs {smallest} sessions")
            if not suffix:
                base = S(s + BASE_TAG, route, v)
                if base:
                    cmp.append(f"{both(m, base)} vs @base")
            tag = f"{s} {vlabel(route, v)}"
            if m["mix"]:
                line = f"{label(s)}, {vlabel(route, v)}: run {m['mix']}"
                if key in probe:
                    line += f"; sent {probe[key]['mix']}"
                mixes.append(line)
            if m["util"] is not None and m["util"] < 0.85 and s.endswith("-redis"):
                pass   # expected: a Redis server waits on its round trips; see the Redis CPU column
            elif m["util"] is not None and m["util"] < 0.85:
                notes.append(f"{tag}: the server used only {m['util']*100:.0f}% of its core (median over reps): it was starved or not the bottleneck, so req/s and latency understate it; CPU µs/req does not")
            if m["errors"]:
                notes.append(f"{tag}: {m['errors']} wrk errors (status>399 or socket) over {m['reps']} reps")
            if m["dead"]:
                notes.append(f"{tag}: the server DIED during the run")
            if m["low"] and s.startswith("peer-"):
                notes.append(f"{tag}: updates lost under load (expected of a load-then-save session store): {', '.join(m['low'])}")
            elif m["low"]:
                notes.append(f"{tag}: counter below completed requests: {', '.join(m['low'])}")
            print(f"| {label(s)} | {vlabel(route, v)} | {m['rps']:,.0f} | {lat(m['p50'])} | {lat(m['p99'])} | {m['cpu']:.1f} |{redis_cols(m, key)} {own} | {'; '.join(cmp)} |")
all_rows = [r for rs in list(rows.values()) + list(pop_rows.values()) for r in rs if int(r["requests"]) > 0]
if all_rows:  # what the data says, so that REPORT_ONLY prints the run's own settings
    reps = max(int(r["rep"]) for r in all_rows)
    duration = round(statistics.median(int(r["duration_us"]) for r in all_rows) / 1e6)
print()
print(f"wrk: {threads} thread, {conns} connections, {reps} × {duration} s per cell (median shown), "
      f"server on core 0 and wrk on core 1 (taskset; both in autogroups of their own at nice {os.environ.get('NICE', '-10')}), one tokio worker per server. "
      f"plain = /plain (peers) or /health (demos); new session = /new (peers) or /counter without a cookie (demos); "
      f"/counter and /read send one session cookie on every request, or with \"N cookies\" rotate N session cookies request by request. "
      f"Ratios read left/right: req/s ratio (higher is better) / CPU-per-request ratio (lower is better).")
if pop_rows:
    print()
    print("\"N sessions\" (POPULATION): before the cell's first run, make-sessions made N live sessions on that server "
          "(N GET /counter without a cookie, MAKE_CONC (64) at a time over keep-alive connections); wrk then rotates their N cookies "
          "(read from a file) request by request, so each session gets about 1/N of the load; the same server process "
          "and the same sessions across the repetitions. \"vs M sessions\" compares with the smallest population of the "
          "same server and route.")
    pt = os.path.join(out, "population.tsv")
    if os.path.exists(pt):
        print()
        print("| server | route | sessions | made in | sessions/s | server RSS before → after | per session |")
        print("|---|---|--:|--:|--:|--:|--:|")
        for r in csv.DictReader(open(pt), delimiter="\t"):
            n, t = int(r["sessions"]), float(r["make_s"])
            b, a = int(r["rss_kb_before"] or 0), int(r["rss_kb_after"] or 0)
            print(f"| {label(r['server'])} | {route_label(r['route'], 1)} | {n} | {t:.1f} s | {n / t:,.0f} | "
                  f"{b / 1024:,.0f} → {a / 1024:,.0f} MiB | {(a - b) * 1024 / n:,.0f} B |")
if redis_run:
    print()
    print(f"Redis servers: one redis-server ({build.get('redis', '?')}) for the run, pinned to core REDIS_CPU "
          f"(by default wrk's, so the server's core stays its own), FLUSHALL before every timed run; each peer holds one "
          f"multiplexed connection; peer-actix-redis runs one actix worker plus actix's system thread (which drives that connection). "
          f"redis cmds/req = commands Redis executed during the run (INFO commandstats after − before, leaving out "
          f"the harness's INFO and FLUSHALL; each command run inside a Lua script counts, as does the EVALSHA that ran them) ÷ "
          f"requests wrk completed; sent/req = commands the server sent to Redis (its round trips, each command of a pipeline "
          f"counting), from the 1-second warm-up run under MONITOR, whose lines tell a client's commands from a script's; "
          f"Redis CPU µs/req = redis-server's utime+stime over the run ÷ those requests "
          f"(not in the server's CPU µs/req); median over repetitions. Server core use is not flagged for these rows: "
          f"they wait on Redis round trips.")
    if mixes:
        print()
        print("Redis commands per request, by command: run (all repetitions, INFO commandstats); sent (warm-up under MONITOR):")
        print()
        for line in mixes:
            print(f"- {line}")
if build:
    print()
    cur = f"Demos built from: current = {build.get('current', '?')}"
    if build.get("baseline"):
        cur += f"; @base = {build['baseline']}"
    print(cur + ".")
all_util = [int(r["cpu_ticks"]) / clk / (int(r["duration_us"]) / 1e6)
            for rs in list(rows.values()) + list(pop_rows.values()) for r in rs if int(r["requests"]) > 0 and not r["server"].endswith("-redis")]
if all_util:
    print()
    print(f"Server core use during the runs (its utime+stime / wall time): median {statistics.median(all_util)*100:.0f}%, "
          f"min {min(all_util)*100:.0f}% (near 100% = the server, not wrk or other work, was the limit).")

# side by side: the demos' /counter, current vs baseline, durable vs memory of the same build
if any(s.endswith(BASE_TAG) for s in present):
    print()
    print(f"Durable vs memory, current build vs @base{(' ' + base_short) if base_short else ''}: the demos' /counter "
          f"(\"vs memory\" = req/s ratio / CPU-per-request ratio against memory mode of the same build)")
    print()
    print("| demo | cookies | mode | req/s now | p50 / p99 now | CPU µs/req now | vs memory now | req/s base | p50 / p99 base | CPU µs/req base | vs memory base | req/s now ÷ base |")
    print("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for demo in ("poem-demo", "salvo-demo"):
        for k in cookie_counts:
            for mode in ("memory", "sync", "periodic"):
                core = demo if mode == "memory" else f"{demo}-{mode}"
                cells, ms = [], []
                for suffix in ("", BASE_TAG):
                    m = summary((core + suffix, "counter", k))
                    mem = summary((demo + suffix, "counter", k))
                    ms.append(m)
                    if m is None:
                        cells += ["–"] * 4
                        continue
                    vs = "1.00×" if mode == "memory" else (both(m, mem) if mem else "–")
                    cells += [f"{m['rps']:,.0f}", f"{lat(m['p50'])} / {lat(m['p99'])}", f"{m['cpu']:.1f}", vs]
                if ms[0] is None and ms[1] is None:
                    continue
                now_base = ratio(ms[0]["rps"], ms[1]["rps"]) if ms[0] and ms[1] else "–"
                print(f"| {demo} | {k} | {mode} | {' | '.join(cells)} | {now_base} |")
# the same demo on each store: memory, sled (sync, periodic) and Redis
store_demos = [d for d in ("poem-demo", "salvo-demo") if any(k[0] == d + "-redis" for k in rows)]
if store_demos:
    print()
    print("One demo, four stores (req/s · CPU µs/req of the server [+ Redis's]; ratio = req/s vs memory mode):")
    print()
    print("| demo | route | memory | sled sync | sled periodic | redis | redis cmds/req run / sent |")
    print("|---|---|--:|--:|--:|--:|--:|")
    for demo in store_demos:
        for route in ["plain", "counter", "read", "new"]:
            for k in cookie_counts:
                red = summary((demo + "-redis", route, k))
                if red is None:
                    continue
                mem = summary((demo, route, k))
                cells = []
                for core in (demo, demo + "-sync", demo + "-periodic", demo + "-redis"):
                    m = summary((core, route, k))
                    if m is None:
                        cells.append("–")
                        continue
                    c = f"{m['rps']:,.0f} · {m['cpu']:.1f}"
                    if m["rcpu"] is not None:
                        c += f" [+{m['rcpu']:.1f}]"
                    if core != demo and mem:
                        c += f" ({ratio(m['rps'], mem['rps'])})"
                    cells.append(c)
                rc = f"{red['rcmds']:.2f}" if red["rcmds"] is not None else "–"
                pr = probe.get((demo + "-redis", route, k))
                rc += f" / {pr['sent']:.2f}" if pr else " / –"
                print(f"| {demo} | {route_label(route, k)} | {' | '.join(cells)} | {rc} |")
if notes:
    print()
    print("Anomalies:")
    for n in notes:
        print(f"- {n}")

# lost updates
L = {}
for r in csv.DictReader(open(lost), delimiter="\t"):
    L.setdefault((r["server"], r["setting"]), []).append(r)
if L:
    print()
    n = next(iter(L.values()))[0]["n"]
    print(f"Lost updates: {n} concurrent GET /counter on one cookie (after one GET that set n = 1), lost = {int(n)+1} − final n; per round")
    print()
    two = any(setting == "two-nodes" for (_, setting) in L)
    settings = ["pinned-1core", "both-cores"] + (["two-nodes"] if two else [])
    print("| server | 1 core, 1 worker | 2 cores, 2 workers |" + (" 2 processes, 1 Redis |" if two else "") + " non-200 / errors per round |")
    print("|---|---|---|" + ("---|" if two else "") + "---|")
    servers = []
    for (s, _) in L:
        if s not in servers:
            servers.append(s)
    for s in servers:
        cells = []
        bad = []
        for setting in settings:
            rs = L.get((s, setting), [])
            cells.append(", ".join(r["lost"] for r in rs) or "–")
            bad += [f"{r['non_200']}/{r['errors']}" for r in rs]
        bad_s = "none" if all(b == "0/0" for b in bad) else ", ".join(bad)
        print(f"| {label(s)} | {' | '.join(cells)} | {bad_s} |")
    if two:
        print()
        print(f"Cross-node: two processes of each Redis server on two ports, one per core (one worker each), sharing one Redis; "
              f"one GET /counter on the first (n = 1), then {n} concurrent GET /counter alternating between the two, "
              f"then n read back from each process")
        print()
        print("| server | expected n | got n per round | lost per round | both processes read the same n |")
        print("|---|--:|---|---|---|")
        for s in servers:
            rs = L.get((s, "two-nodes"), [])
            if not rs:
                continue
            same = all(len(set((r.get("reads") or "").split(","))) == 1 for r in rs)
            print(f"| {label(s)} | {int(rs[0]['n']) + 1} | {', '.join(r['final'] for r in rs)} | {', '.join(r['lost'] for r in rs)} | "
                  f"{'yes' if same else 'no: ' + '; '.join(r.get('reads') or '?' for r in rs)} |")
PY
}

# chart: OUT/cpu-per-request.svg from $RAW (benches/http/chart.py, Python
# standard library only); copied to CHART_OUT when set. A failure is reported,
# not fatal: the tables are the result.
chart() {
    if python3 "$HERE/chart.py" "$OUT"; then
        if [ -n "${CHART_OUT:-}" ]; then
            cp "$OUT/cpu-per-request.svg" "$CHART_OUT" && log "chart copied to $CHART_OUT"
        fi
    else
        log "WARNING: chart.py failed; no chart"
    fi
}

if [ -n "${REPORT_ONLY:-}" ]; then report; chart; exit 0; fi

# ---------------------------------------------------------------- 1. wrk
if ! command -v wrk >/dev/null 2>&1; then
    log "installing wrk"
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
if [ "$USE_REDIS" = 1 ] && ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server"
    apt-get install -y redis-server >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y redis-server >/dev/null; }
fi
if [ "$USE_REDIS" = 1 ]; then
    for tool in redis-server redis-cli; do
        command -v "$tool" >/dev/null 2>&1 || { log "missing $tool"; exit 1; }
    done
fi
for tool in curl taskset python3; do
    command -v "$tool" >/dev/null 2>&1 || { log "missing $tool"; exit 1; }
done

for k in $COOKIES; do
    case "$k" in '' | *[!0-9]* | 0) log "COOKIES must be positive integers, got '$k'"; exit 1 ;; esac
done
for k in $POPULATION; do
    case "$k" in '' | *[!0-9]* | 0*) log "POPULATION must be positive integers, got '$k'"; exit 1 ;; esac
done
for server in $SERVERS; do
    case "$server" in
        *@base) [ -n "$BASELINE" ] || { log "$server needs BASELINE=<git rev>"; exit 1 ;} ;;
    esac
    case " $ALL_SERVERS $BASE_SERVERS $REDIS_SERVERS " in
        *" $server "*) ;;
        *) log "unknown server $server"; exit 1 ;;
    esac
done

TMPDIRS=()
ALL_PIDS=()
WORKTREES=()
BASE_BIN=""
cleanup() {
    local p
    for p in "${ALL_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then kill -TERM "$p" 2>/dev/null || true; fi
    done
    [ "${#ALL_PIDS[@]}" = 0 ] || sleep 1
    for p in "${ALL_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    for d in "${TMPDIRS[@]}"; do rm -rf "$d"; done
    for d in "${WORKTREES[@]}"; do   # worktrees of build_rev, if still there
        if [ -e "$d" ]; then git -C "$ROOT" worktree remove --force "$d" 2>/dev/null || true; fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- 2. build
# build_rev REV: builds commit REV's demos in a git worktree outside the
# repository and copies them to benches/http/target/rev/<sha>/; sets REV_BIN,
# REV_DESC ("<short sha> <subject>"), REV_SHORT.
build_rev() {
    local sha
    sha="$(git -C "$ROOT" rev-parse --verify "$1^{commit}")" || { log "$1 is not a commit"; exit 1; }
    REV_SHORT="$(git -C "$ROOT" rev-parse --short "$sha")"
    REV_DESC="$(git -C "$ROOT" log -1 --format='%h %s' "$sha")"
    REV_BIN="$HERE/target/rev/$sha"
    if [ "${SKIP_BUILD:-0}" = 1 ] && [ -x "$REV_BIN/poem-demo" ] && [ -x "$REV_BIN/salvo-demo" ]; then return 0; fi
    # a fixed path per commit, so that the shared target dir rebuilds little
    WORKTREES+=("/tmp/livesession-bench-$REV_SHORT")
    local wt="/tmp/livesession-bench-$REV_SHORT"
    if [ -e "$wt" ]; then   # left by an interrupted run
        git -C "$ROOT" worktree remove --force "$wt" 2>/dev/null || { log "$wt exists and is no worktree of this repository: remove it"; exit 1; }
    fi
    log "commit $REV_SHORT: worktree in $wt"
    git -C "$ROOT" worktree add --detach "$wt" "$sha" >&2
    log "building $REV_SHORT's demos (release, CARGO_TARGET_DIR=$HERE/target/rev-build)"
    (cd "$wt" && CARGO_TARGET_DIR="$HERE/target/rev-build" cargo build --release -p livesession-demos --bins)
    mkdir -p "$REV_BIN"
    cp "$HERE/target/rev-build/release/poem-demo" "$HERE/target/rev-build/release/salvo-demo" "$REV_BIN/"
    git -C "$ROOT" worktree remove --force "$wt"
}

BUILD="$OUT/build.txt"
: >"$BUILD"
if [ -n "$CURRENT" ]; then
    build_rev "$CURRENT"
    DEMO_BIN="$REV_BIN"
    echo "current=$REV_DESC" >>"$BUILD"
else
    git_head() { git -C "$ROOT" log -1 --format='%h %s' 2>/dev/null || echo '?'; }
    dirty="$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')"
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        head_before="$(git_head)"
        log "building the demos (release) in the working tree at ${head_before%% *}${dirty:+ + uncommitted changes to $dirty}"
        (cd "$ROOT" && cargo build --release -p livesession-demos --bins)
        head_after="$(git_head)"
        desc="working tree at $head_before"
        [ "$head_after" = "$head_before" ] || desc="$desc (HEAD moved to $head_after during the build)"
        echo "current=$desc${dirty:+, uncommitted changes to $dirty}" >>"$BUILD"
    else
        # the shared target dir may have been rebuilt by someone else since
        built="$(date -u -r "$DEMO_BIN/poem-demo" +'%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo '?')"
        echo "current=binaries built earlier (SKIP_BUILD=1; poem-demo built $built; HEAD now $(git_head))" >>"$BUILD"
    fi
fi
if [ -n "$BASELINE" ]; then
    build_rev "$BASELINE"
    BASE_BIN="$REV_BIN"
    echo "baseline=$REV_DESC" >>"$BUILD"
    echo "baseline_short=$REV_SHORT" >>"$BUILD"
fi
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    log "building the peer servers (release, own workspace)"
    (cd "$HERE" && cargo build --release)
fi

# ---------------------------------------------------------------- servers

# server_argv NAME PORT WORKERS DATADIR: the server's command line.
server_argv() {
    local name=$1 workers=$3 addr="$HOST:$2" dir=$4 bin=$DEMO_BIN
    case "$name" in *@base) name=${name%@base}; bin=$BASE_BIN ;; esac
    case "$name" in
        poem-demo | salvo-demo)
            echo "$bin/$name --addr $addr --memory --secret $SECRET" ;;
        poem-demo-sync | poem-demo-periodic | salvo-demo-sync | salvo-demo-periodic)
            echo "$bin/${name%-*} --addr $addr --data-dir $dir --durability ${name##*-} --secret $SECRET" ;;
        poem-server-session | poem-cookie-session | salvo-session | axum-tower-sessions)
            echo "$PEER_BIN/peer-$name --addr $addr --workers $workers" ;;
        poem-demo-redis | salvo-demo-redis)
            echo "$bin/${name%-redis} --addr $addr --redis $REDIS_URL --secret $SECRET" ;;
        peer-poem-redis | peer-axum-tower-redis | peer-actix-redis)
            echo "$PEER_BIN/$name --addr $addr --workers $workers --redis $REDIS_URL" ;;
        *) log "unknown server $name"; exit 1 ;;
    esac
}

is_demo() { case "$1" in poem-demo* | salvo-demo*) return 0 ;; *) return 1 ;; esac; }

# route_args SERVER ROUTE: "<path> <cookie mode>" for bench.lua.
route_args() {
    case "$2" in
        plain) if is_demo "$1"; then echo "/health none"; else echo "/plain none"; fi ;;
        counter) echo "/counter session" ;;
        read) echo "/read session" ;;
        new) if is_demo "$1"; then echo "/counter none"; else echo "/new none"; fi ;;
    esac
}

NEXT_PORT=$PORT_BASE
# start_server NAME PINNED(1|0) WORKERS LOGFILE [CPU]: sets SERVER_PID,
# SERVER_PORT, SERVER_DIR. PINNED=1 pins it to core CPU [SERVER_CPU].
start_server() {
    local name=$1 pinned=$2 workers=$3 logfile=$4 cpu=${5:-$SERVER_CPU} argv plain
    SERVER_PORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
    SERVER_DIR="$(mktemp -d /tmp/livesession-bench.XXXXXX)"   # a fresh data dir per start
    TMPDIRS+=("$SERVER_DIR")
    # shellcheck disable=SC2207
    argv=($(server_argv "$name" "$SERVER_PORT" "$workers" "$SERVER_DIR"))
    if [ "$pinned" = 1 ]; then
        # a simple command, so that $! is the server itself (every step execs)
        setsid bash -c "$BOOST" "$NICE" nice -n "$NICE" taskset -c "$cpu" "${argv[@]}" 2>"$logfile" >/dev/null &
    else
        setsid bash -c "$BOOST" "$NICE" nice -n "$NICE" "${argv[@]}" 2>"$logfile" >/dev/null &
    fi
    SERVER_PID=$!
    ALL_PIDS+=("$SERVER_PID")
    plain="$(route_args "$name" plain)"; plain="${plain% *}"
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null --max-time 1 "http://$HOST:$SERVER_PORT$plain"; then return 0; fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
        sleep 0.1
    done
    log "server $name did not come up; stderr:"; cat "$logfile" >&2
    exit 1
}

# stop_server NAME PID DIR: SIGTERM, wait (the demos persist sessions on the
# way out), report anything but a clean exit.
stop_server() {
    local name=$1 pid=$2 dir=$3 rc=0
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null || rc=$?
        log "WARNING: $name (pid $pid) had already exited (status $rc)"
        rm -rf "$dir"; return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "WARNING: $name ignored SIGTERM for 15 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || rc=$?
    # peers die of the signal (143); the demos must exit 0 (examples/README.md)
    if is_demo "$name" && [ "$rc" != 0 ]; then log "WARNING: $name exited with status $rc after SIGTERM"; fi
    rm -rf "$dir"
}

# ---------------------------------------------------------------- Redis
# One redis-server for the whole run (only when a Redis server is on the
# list): loopback, a free port, no RDB, no AOF, a tmp dir of its own, pinned
# to REDIS_CPU, boosted like the servers. ALL_PIDS makes the exit trap stop it.
REDIS_URL=""; REDIS_PORT=""; REDIS_PID=""
rcli() { redis-cli -h "$HOST" -p "$REDIS_PORT" "$@"; }
start_redis() {
    local dir
    dir="$(mktemp -d /tmp/livesession-bench-redis.XXXXXX)"
    TMPDIRS+=("$dir")
    REDIS_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    setsid bash -c "$BOOST" "$NICE" nice -n "$NICE" taskset -c "$REDIS_CPU" redis-server \
        --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no --dir "$dir" \
        --daemonize no >"$OUT/logs/redis-server.log" 2>&1 &
    REDIS_PID=$!
    ALL_PIDS+=("$REDIS_PID")
    for _ in $(seq 1 100); do
        if [ "$(rcli PING 2>/dev/null)" = PONG ]; then
            REDIS_URL="redis://$HOST:$REDIS_PORT/"
            log "redis-server $(redis-server --version | awk '{print $3}') on $REDIS_URL (pid $REDIS_PID, core $REDIS_CPU)"
            echo "redis=$(redis-server --version | awk '{print $1, $3}')" >>"$BUILD"
            return 0
        fi
        kill -0 "$REDIS_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "redis-server did not come up:"; cat "$OUT/logs/redis-server.log" >&2
    exit 1
}
redis_flush() { rcli FLUSHALL >/dev/null; }
# redis_calls: "<command> <calls>" lines from INFO commandstats
redis_calls() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p'; }
# redis_delta BEFORE AFTER (two redis_calls outputs): "<total><TAB><cmd>=<n>,..."
# over the commands run in between, leaving out the harness's own INFO and FLUSHALL
redis_delta() {
    awk 'NR == FNR { b[$1] = $2; next }
         { d = $2 - b[$1]; if ($1 != "info" && $1 != "flushall" && d > 0) { t += d; m = m (m ? "," : "") $1 "=" d } }
         END { printf "%d\t%s\n", t, (m ? m : "-") }' <(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

cpu_ticks() { # utime + stime of a pid (all its threads), in clock ticks
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || { echo 0; return; }
    stat="${stat##*) }"   # the fields after "(comm) "
    # shellcheck disable=SC2086
    set -- $stat
    echo $(( ${12} + ${13} ))   # fields 14 and 15 of the full line
}

# ---------------------------------------------------------------- 3. load
# One server process per (server, route) cell, all started up front (idle ones
# cost nothing), then the repetitions run round-robin over the cells: noise
# from other work on this shared machine spreads over every cell instead of
# landing on one server.
if [ "$USE_REDIS" = 1 ]; then start_redis; fi

routes_for() { # durable modes: /counter only
    case "${1%@base}" in *-sync | *-periodic) echo counter ;; *) echo "$ROUTES" ;; esac
}
has_route() { case " $ROUTES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
cookies_for() { # session routes: one cell per COOKIES value
    case "$1" in counter | read) echo "$COOKIES" ;; *) echo 1 ;; esac
}

# CELL_POP: "" for a COOKIES cell, N for a POPULATION cell (N sessions made
# by make-sessions into the cookie file CELL_FILE; CELL_WARM: requests of the
# warm-up, CELL_SENT: requests of the repetitions so far, for the check)
CELL_SERVER=(); CELL_ROUTE=(); CELL_COOKIES=(); CELL_PID=(); CELL_PORT=(); CELL_DIR=(); CELL_DEAD=()
CELL_POP=(); CELL_FILE=(); CELL_WARM=(); CELL_SENT=()
cell_tag() { # cell_tag I: the cell's name in OUT/logs
    local t="${CELL_SERVER[$1]}-${CELL_ROUTE[$1]}"
    if [ -n "${CELL_POP[$1]}" ]; then t="$t-s${CELL_POP[$1]}"; elif [ "${CELL_COOKIES[$1]}" != 1 ]; then t="$t-c${CELL_COOKIES[$1]}"; fi
    echo "$t"
}
cell_cookies() { # cell_cookies I: bench.lua's COOKIES argument (N, or @FILE)
    if [ -n "${CELL_POP[$1]}" ]; then echo "@${CELL_FILE[$1]}"; else echo "${CELL_COOKIES[$1]}"; fi
}
POP_DIR=""
if [ -n "$POPULATION" ]; then   # the cookie files (1 000 000 cookies: ~60 MB), removed on exit
    POP_DIR="$(mktemp -d /tmp/livesession-bench-cookies.XXXXXX)"
    TMPDIRS+=("$POP_DIR")
fi
for server in $SERVERS; do
    for route in $(routes_for "$server"); do
        has_route "$route" || continue
        pops=""
        case "$route" in counter | read | new) pops="$POPULATION" ;; esac
        if [ -n "$pops" ] && is_redis "$server"; then
            log "POPULATION: no population cells for $server (a Redis server: the FLUSHALL before each run would wipe them)"
            pops=""
        fi
        # shellcheck disable=SC2086 # $pops is a list of sizes
        for k in $(cookies_for "$route") ${pops:+$(printf 'pop:%s ' $pops)}; do
            pop=""; case "$k" in pop:*) pop=${k#pop:}; k=$pop ;; esac
            tag="$server-$route"
            if [ -n "$pop" ]; then tag="$tag-s$pop"; elif [ "$k" != 1 ]; then tag="$tag-c$k"; fi
            start_server "$server" 1 1 "$OUT/logs/$tag.stderr"
            CELL_SERVER+=("$server"); CELL_ROUTE+=("$route"); CELL_COOKIES+=("$k"); CELL_PID+=("$SERVER_PID")
            CELL_PORT+=("$SERVER_PORT"); CELL_DIR+=("$SERVER_DIR"); CELL_DEAD+=(0)
            CELL_POP+=("$pop"); CELL_FILE+=("${pop:+$POP_DIR/$tag.cookies}"); CELL_WARM+=(0); CELL_SENT+=(0)
        done
    done
done
log "${#CELL_PID[@]} servers up"
# POPULATION cells: make the sessions (make-sessions, pinned to CLIENT_CPU and
# boosted like wrk: GET /counter without a cookie, MAKE_CONC at a time); one
# line per cell in OUT/population.tsv (time taken, server RSS before and after)
MAKE_CONC="${MAKE_CONC:-64}"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
if [ -n "$POPULATION" ]; then
    printf 'server\troute\tsessions\tmake_s\trss_kb_before\trss_kb_after\n' >"$OUT/population.tsv"
fi
for i in "${!CELL_PID[@]}"; do
    [ -n "${CELL_POP[$i]}" ] || continue
    tag="$(cell_tag "$i")"; pid=${CELL_PID[$i]}
    rss_before=$(rss_kb "$pid")
    t0=$(date +%s.%N)
    if ! boosted taskset -c "$CLIENT_CPU" "$PEER_BIN/make-sessions" --base "http://$HOST:${CELL_PORT[$i]}" \
        --n "${CELL_POP[$i]}" --concurrency "$MAKE_CONC" --out "${CELL_FILE[$i]}" >"$OUT/logs/$tag.sessions" 2>&1; then
        log "make-sessions failed for $tag:"; cat "$OUT/logs/$tag.sessions" >&2
        exit 1
    fi
    t1=$(date +%s.%N)
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${CELL_SERVER[$i]}" "${CELL_ROUTE[$i]}" "${CELL_POP[$i]}" \
        "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}')" "$rss_before" "$(rss_kb "$pid")" >>"$OUT/population.tsv"
    log "$tag: $(cat "$OUT/logs/$tag.sessions"); server RSS ${rss_before} kB -> $(rss_kb "$pid") kB"
done
log "warming up"
# Redis cells: the warm-up runs under MONITOR (slower, not measured), which
# tells the commands the server SENT from those run inside Lua scripts; one
# line per cell in OUT/redis-probe.tsv
PROBE="$OUT/redis-probe.tsv"
if [ "$USE_REDIS" = 1 ]; then printf 'server\troute\tcookies\trequests\tsent\tin_scripts\tsent_mix\n' >"$PROBE"; fi
for i in "${!CELL_PID[@]}"; do
    server=${CELL_SERVER[$i]}; route=${CELL_ROUTE[$i]}; k=${CELL_COOKIES[$i]}
    read -r path mode <<<"$(route_args "$server" "$route")"
    tag="$(cell_tag "$i")"
    mon=""
    if is_redis "$server"; then
        redis_flush
        # redis-cli itself (not the rcli function, whose subshell $! would
        # name): killing it ends the MONITOR
        redis-cli -h "$HOST" -p "$REDIS_PORT" MONITOR >"$OUT/logs/$tag.monitor" 2>/dev/null &
        mon=$!
        sleep 0.3
    fi
    boosted taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d1s -s "$HERE/bench.lua" \
        "http://$HOST:${CELL_PORT[$i]}" -- "$path" "$mode" "$(cell_cookies "$i")" >"$OUT/logs/$tag.warmup" 2>&1 || true
    if [ -n "${CELL_POP[$i]}" ]; then   # the warm-up's increments count in the check
        w="$(sed -n 's/^BENCH requests=\([0-9]*\) .*/\1/p' "$OUT/logs/$tag.warmup")"
        CELL_WARM[i]=${w:-0}
    fi
    if [ -n "$mon" ]; then
        sleep 0.5   # let MONITOR drain
        kill "$mon" 2>/dev/null || true
        wait "$mon" 2>/dev/null || true
        for _ in $(seq 1 20); do   # Redis drops the monitor once the client is gone
            rcli CLIENT LIST | grep -q 'cmd=monitor' || break
            sleep 0.1
        done
        requests="$(sed -n 's/^BENCH requests=\([0-9]*\) .*/\1/p' "$OUT/logs/$tag.warmup")"
        # lines: <time> [<db> <addr>|lua] "<command>" ...; "lua" = run inside a script
        awk -v s="$server" -v r="$route" -v k="$k" -v n="${requests:-0}" '
            $2 ~ /^\[/ && NF >= 4 { c = tolower($4); gsub(/"/, "", c)
                if ($3 == "lua]") lua++; else { sent++; m[c]++ } }
            END { mix = ""; for (c in m) mix = mix (mix ? "," : "") c "=" m[c]
                  printf "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", s, r, k, n, sent, lua, (mix ? mix : "-") }' \
            "$OUT/logs/$tag.monitor" >>"$PROBE"
        rm -f "$OUT/logs/$tag.monitor"
    fi
done

for rep in $(seq 1 "$REPS"); do
    for i in "${!CELL_PID[@]}"; do
        [ "${CELL_DEAD[$i]}" = 0 ] || continue
        server=${CELL_SERVER[$i]}; route=${CELL_ROUTE[$i]}; k=${CELL_COOKIES[$i]}; pid=${CELL_PID[$i]}
        pop=${CELL_POP[$i]}
        tag="$(cell_tag "$i")"
        url="http://$HOST:${CELL_PORT[$i]}"; wrk_out="$OUT/logs/$tag.wrk"
        read -r path mode <<<"$(route_args "$server" "$route")"
        redis_before=""; redis_cpu_before=0
        if is_redis "$server"; then   # a clean Redis per run; its counters and CPU time before
            redis_flush
            redis_before="$(redis_calls)"
            redis_cpu_before=$(cpu_ticks "$REDIS_PID")
        fi
        before=$(cpu_ticks "$pid")
        boosted taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
            -s "$HERE/bench.lua" "$url" -- "$path" "$mode" "$(cell_cookies "$i")" >"$wrk_out.$rep" 2>&1 || true
        after=$(cpu_ticks "$pid")
        redis_cmds=""; redis_cpu=""; redis_mix=""
        if is_redis "$server"; then
            redis_cpu=$(( $(cpu_ticks "$REDIS_PID") - redis_cpu_before ))
            IFS=$'\t' read -r redis_cmds redis_mix <<<"$(redis_delta "$redis_before" "$(redis_calls)")"
        fi
        alive=1; kill -0 "$pid" 2>/dev/null || alive=0
        line="$(grep '^BENCH ' "$wrk_out.$rep" || true)"
        if [ -z "$line" ]; then
            log "WARNING: wrk gave no result for $tag rep $rep:"; cat "$wrk_out.$rep" >&2
            printf '%s\t%s\t%s\t%s\t0\t0\t0\t0\t0\t0\t0\t%s\tno-result\t\t\t\t%s\n' "$server" "$route" "$k" "$rep" "$alive" "$pop" >>"$RAW"
            if [ "$alive" = 0 ]; then CELL_DEAD[i]=1; log "WARNING: $server ($route) is dead"; fi
            continue
        fi
        requests=0 duration_us=0 p50_us=0 p99_us=0 status_errors=0 socket_errors=0
        eval "${line#BENCH }"   # requests= duration_us= p50_us= ...
        # counter check: on a server-side session, the counters must have
        # grown by at least the number of completed requests, in sum over the
        # run's cookies (+1 per cookie for bench.lua's own GET that made it);
        # and no cookie's counter may read below 1 (a lost session)
        check="-"
        CELL_SENT[i]=$(( CELL_SENT[i] + requests ))
        if [ -n "$pop" ]; then
            # POPULATION cell: the cookies are the same file on every
            # repetition, so the check is cumulative, after the last one:
            # sum of n >= the sessions' own first GETs + the warm-up's
            # requests + every repetition's; every n >= 1 (none lost)
            if [ "$route" = counter ] && [ "$server" != poem-cookie-session ] && [ "$alive" = 1 ] && [ "$rep" = "$REPS" ]; then
                rb="$("$PEER_BIN/make-sessions" --base "$url" --read-back "${CELL_FILE[$i]}" --concurrency "$MAKE_CONC" 2>>"$OUT/logs/$tag.sessions" || true)"
                n=""; nmin=""; eval "$(echo "$rb" | sed -n 's/^sessions=[0-9]* sum=\([0-9-]*\) min=\([0-9-]*\)$/n=\1 nmin=\2/p')"
                want=$(( pop + ${CELL_WARM[$i]} + ${CELL_SENT[$i]} ))
                what="sum n=${n:-?} over $pop sessions, min ${nmin:-?}, want >= $want"
                if [ -n "$n" ] && [ "$n" -ge "$want" ] && [ "$nmin" -ge 1 ]; then check="ok($what)"; else check="LOW($what)"; fi
            fi
        elif [ "$route" = counter ] && [ "$server" != poem-cookie-session ] && [ "$alive" = 1 ]; then
            n=0; ncookies=0; nmin=""
            while read -r cookie; do
                c="$(curl -s --max-time 5 -H "Cookie: $cookie" "$url/read" || true)"
                case "$c" in '' | *[!0-9]*) n='?'; break ;; esac
                n=$((n + c)); ncookies=$((ncookies + 1))
                if [ -z "$nmin" ] || [ "$c" -lt "$nmin" ]; then nmin=$c; fi
            done < <(awk '/^COOKIE /{print $2}' "$wrk_out.$rep")
            if [ "$ncookies" = 0 ]; then n='?'; fi
            what="n=$n"; [ "$ncookies" -le 1 ] || what="sum n=$n over $ncookies cookies, min $nmin"
            if [ "$n" != '?' ] && [ "$n" -ge $((requests + ncookies)) ] && [ "$nmin" -ge 1 ]; then
                check="ok($what)"
            else
                check="LOW($what,req=$requests)"
            fi
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$route" "$k" "$rep" \
            "$requests" "$duration_us" "$p50_us" "$p99_us" "$((after - before))" \
            "$status_errors" "$socket_errors" "$alive" "$check" "$redis_cmds" "$redis_cpu" "$redis_mix" "$pop" >>"$RAW"
        log "$tag rep $rep: $(awk -v r="$requests" -v d="$duration_us" 'BEGIN{printf "%.0f req/s", r/(d/1e6)}') p50=${p50_us}us p99=${p99_us}us cpu=$((after - before)) ticks status_err=$status_errors sock_err=$socket_errors $check${redis_cmds:+ redis: $redis_cmds cmds ($redis_mix), $redis_cpu ticks}"
        if [ "$alive" = 0 ]; then CELL_DEAD[i]=1; log "WARNING: $server crashed during $route"; fi
    done
done
for i in "${!CELL_PID[@]}"; do
    stop_server "${CELL_SERVER[$i]}" "${CELL_PID[$i]}" "${CELL_DIR[$i]}"
done

# ---------------------------------------------------------------- 4. lost updates
# lost_round SERVER SETTING ROUND LOGBASE RUNNER... -- BASE...: one lost-updates
# round against BASE(s), appended to $LOST
lost_round() {
    local server=$1 setting=$2 round=$3 logbase=$4 res n final lost non200 errs reads
    shift 4
    local runner=() bases=()
    while [ "$1" != -- ]; do runner+=("$1"); shift; done
    shift
    for b in "$@"; do bases+=(--base "$b"); done
    res="$("${runner[@]}" "$PEER_BIN/lost-updates" --name "$server" "${bases[@]}" --n "$LOST_N" 2>>"$logbase.client")" || res="$server	$LOST_N	?	?	?	failed	-"
    IFS=$'\t' read -r _ n final lost non200 errs reads <<<"$res"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$setting" "$round" "$n" "$final" "$lost" "$non200" "$errs" "$reads" >>"$LOST"
    log "lost-updates $server $setting round $round: final=$final lost=$lost non200=$non200 errors=$errs reads=$reads"
}
for setting in pinned-1core both-cores; do
    for server in $SERVERS; do
        if is_redis "$server"; then redis_flush; fi
        if [ "$setting" = pinned-1core ]; then
            start_server "$server" 1 1 "$OUT/logs/$server-lost-$setting.stderr"
            runner=(boosted taskset -c "$CLIENT_CPU")
        else
            start_server "$server" 0 2 "$OUT/logs/$server-lost-$setting.stderr"
            runner=(boosted)
        fi
        for round in $(seq 1 "$LOST_ROUNDS"); do
            lost_round "$server" "$setting" "$round" "$OUT/logs/$server-lost-$setting" "${runner[@]}" -- "http://$HOST:$SERVER_PORT"
        done
        stop_server "$server" "$SERVER_PID" "$SERVER_DIR"
    done
done
# cross-node: two processes of one Redis server on two ports, one pinned to
# each core (one worker each), sharing the one Redis; the increments alternate
# between them
for server in $SERVERS; do
    is_redis "$server" || continue
    setting=two-nodes
    redis_flush
    start_server "$server" 1 1 "$OUT/logs/$server-lost-$setting-a.stderr" "$SERVER_CPU"
    pid_a=$SERVER_PID; port_a=$SERVER_PORT; dir_a=$SERVER_DIR
    start_server "$server" 1 1 "$OUT/logs/$server-lost-$setting-b.stderr" "$CLIENT_CPU"
    pid_b=$SERVER_PID; port_b=$SERVER_PORT; dir_b=$SERVER_DIR
    for round in $(seq 1 "$LOST_ROUNDS"); do
        lost_round "$server" "$setting" "$round" "$OUT/logs/$server-lost-$setting" boosted -- \
            "http://$HOST:$port_a" "http://$HOST:$port_b"
    done
    stop_server "$server" "$pid_a" "$dir_a"
    stop_server "$server" "$pid_b" "$dir_b"
done

# ---------------------------------------------------------------- 5. report
report
chart
log "results in $OUT"
