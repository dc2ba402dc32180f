#!/usr/bin/env python3
"""benches/http/chart.py: an SVG chart of the server's CPU µs per request,
per server and route, from one results dir of benches/http/run.sh.

    python3 benches/http/chart.py RESULTS_DIR [-o OUT.svg]

Reads RESULTS_DIR/raw.tsv (one line per repetition), build.txt (commits
built), knobs.txt (the run's settings; older runs without it: read back from
raw.tsv and the wrk logs) and writes RESULTS_DIR/cpu-per-request.svg unless
-o says otherwise. run.sh calls it after the tables (also with REPORT_ONLY).

The figure is the table's "CPU µs/req": the server's utime+stime over a
repetition ÷ the requests wrk completed, median over repetitions. Grouped
horizontal bars, one group per route (and cookie count), servers in the
fixed order of ORDER below, the livesession demos in blue and their labels in
bold, the peers in grey; for Redis servers, a lighter segment stacked on the
bar is redis-server's own CPU per request (not in the server's figure).
Python 3 standard library only.
"""
import csv
import os
import re
import statistics
import sys
from datetime import datetime, timezone
from xml.sax.saxutils import escape

# Fixed order: the demos (memory, sled, Redis), the demos @base, then the
# peers (in memory, then on Redis).
ORDER = [
    ("poem-demo", "poem-demo (memory)"),
    ("salvo-demo", "salvo-demo (memory)"),
    ("poem-demo-sync", "poem-demo, sled sync"),
    ("poem-demo-periodic", "poem-demo, sled periodic"),
    ("salvo-demo-sync", "salvo-demo, sled sync"),
    ("salvo-demo-periodic", "salvo-demo, sled periodic"),
    ("poem-demo-redis", "poem-demo, Redis"),
    ("salvo-demo-redis", "salvo-demo, Redis"),
    ("poem-server-session", "poem ServerSession + MemoryStorage"),
    ("poem-cookie-session", "poem CookieSession (signed)"),
    ("salvo-session", "salvo-session MemoryStore"),
    ("axum-tower-sessions", "axum + tower-sessions MemoryStore"),
    ("peer-poem-redis", "poem ServerSession + RedisStorage"),
    ("peer-axum-tower-redis", "axum + tower-sessions RedisStore"),
    ("peer-actix-redis", "actix-session RedisSessionStore"),
]
LABEL = dict(ORDER)
BASE = "@base"
ROUTES = ["plain", "counter", "read", "new"]
ROUTE_TITLE = {
    "plain": "plain (no session: /health, /plain)",
    "counter": "/counter (read-modify-write of n)",
    "read": "/read (read n)",
    "new": "new session (no cookie)",
}

# colours: livesession demos in blues (memory, sled, Redis; @base paler),
# peers in greys
DEMO = {"memory": "#1f5fbf", "sled": "#4f8fe0", "redis": "#0f7f8f"}
DEMO_BASE = "#9dbbe6"
PEER = {"memory": "#7a7a7a", "redis": "#a8a8a8"}
FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"


def is_demo(s):
    return s.startswith("poem-demo") or s.startswith("salvo-demo")


def mode(s):
    core = s[: -len(BASE)] if s.endswith(BASE) else s
    if core.endswith("-redis"):
        return "redis"
    if core.endswith("-sync") or core.endswith("-periodic"):
        return "sled"
    return "memory"


def colour(s):
    if is_demo(s):
        return DEMO_BASE if s.endswith(BASE) else DEMO[mode(s)]
    return PEER["redis" if mode(s) == "redis" else "memory"]


def read_kv(path):
    kv = {}
    if os.path.exists(path):
        for line in open(path):
            k, _, v = line.rstrip("\n").partition("=")
            if k:
                kv[k] = v
    return kv


def text_width(s, size):
    """A rough width in px of s in a sans-serif font of `size` px."""
    w = 0.0
    for ch in s:
        if ch in "il.,:;|!'() ":
            w += 0.32
        elif ch in "mwMW@":
            w += 0.9
        elif ch.isupper() or ch in "µ×":
            w += 0.68
        else:
            w += 0.56
    return w * size


def wrap(text, size, max_w):
    """Splits text into lines no wider than max_w px (by text_width)."""
    lines, cur = [], ""
    for word in text.split(" "):
        cand = f"{cur} {word}" if cur else word
        if cur and text_width(cand, size) > max_w:
            lines.append(cur)
            cur = word
        else:
            cur = cand
    return lines + ([cur] if cur else [])


def commit_of(desc):
    """A short description of the build, from a build.txt line."""
    if not desc:
        return "?"
    sha = re.search(r"\b([0-9a-f]{7,40})\b", desc)
    sha = sha.group(1) if sha else "?"
    if desc.startswith("binaries built earlier"):
        return f"binaries built before the run (HEAD then {sha})"
    if desc.startswith("working tree"):
        moved = re.search(r"HEAD moved to ([0-9a-f]{7,40})", desc)
        s = f"working tree at {sha}"
        if moved:
            s += f" (HEAD moved to {moved.group(1)} during the build)"
        if "uncommitted changes" in desc:
            s += " + uncommitted changes"
        return s
    return sha


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out_dir = argv[1]
    svg_path = os.path.join(out_dir, "cpu-per-request.svg")
    if len(argv) >= 4 and argv[2] == "-o":
        svg_path = argv[3]
    clk = os.sysconf("SC_CLK_TCK")
    raw = os.path.join(out_dir, "raw.tsv")
    build = read_kv(os.path.join(out_dir, "build.txt"))
    knobs = read_kv(os.path.join(out_dir, "knobs.txt"))

    rows = {}
    for r in csv.DictReader(open(raw), delimiter="\t"):
        if int(r["requests"] or 0) <= 0:
            continue
        if r.get("sessions"):   # POPULATION cells: in run.sh's table only
            continue
        k = int(r.get("cookies") or 1)
        rows.setdefault((r["server"], r["route"], k), []).append(r)
    if not rows:
        print(f"chart.py: no completed repetitions in {raw}", file=sys.stderr)
        return 1

    def cpu_us(r):
        return int(r["cpu_ticks"]) / clk * 1e6 / int(r["requests"])

    def redis_us(r):
        return int(r["redis_cpu_ticks"]) / clk * 1e6 / int(r["requests"]) if r.get("redis_cpu_ticks") else None

    val = {}
    for key, rs in rows.items():
        rc = [x for x in (redis_us(r) for r in rs) if x is not None]
        val[key] = (statistics.median(cpu_us(r) for r in rs), statistics.median(rc) if rc else None, len(rs))

    # the run's knobs: knobs.txt when run.sh wrote one, else what the data says
    all_rows = [r for rs in rows.values() for r in rs]
    reps = knobs.get("REPS") or str(max(int(r["rep"]) for r in all_rows))
    duration = knobs.get("DURATION") or str(round(statistics.median(int(r["duration_us"]) for r in all_rows) / 1e6))
    threads, conns = knobs.get("THREADS"), knobs.get("CONNS")
    if not (threads and conns):
        logs = os.path.join(out_dir, "logs")
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            if ".wrk." in name:
                m = re.search(r"(\d+) threads and (\d+) connections", open(os.path.join(logs, name)).read())
                if m:
                    threads, conns = m.group(1), m.group(2)
                    break
    cookies = sorted({k for (_, _, k) in rows})
    base = os.path.basename(os.path.normpath(out_dir))
    try:
        when = datetime.strptime(base, "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        when = datetime.fromtimestamp(os.path.getmtime(raw), timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    built = commit_of(build.get("current"))
    if build.get("baseline_short"):
        built += f"; @base = {build['baseline_short']}"
    knob = (f"wrk -t{threads or '?'} -c{conns or '?'}, {reps} × {duration} s per cell, "
            f"{'/'.join(map(str, cookies))} cookie{'s' if cookies != [1] else ''}, "
            f"server on core {knobs.get('SERVER_CPU', '0')}, wrk on core {knobs.get('CLIENT_CPU', '1')}, "
            f"nice {knobs.get('NICE', '-10')}")

    servers = {s for (s, _, _) in rows}
    order = []
    for s, _ in ORDER:
        for name in (s, s + BASE):
            if name in servers:
                order.append(name)
    order += sorted(servers - set(order))

    def label(s):
        if s.endswith(BASE):
            core = s[: -len(BASE)]
            return f"{LABEL.get(core, core)} @base"
        return LABEL.get(s, s)

    groups = []
    for route in ROUTES + sorted({r for (_, r, _) in rows} - set(ROUTES)):
        for k in cookies:
            bars = [(s, val[(s, route, k)]) for s in order if (s, route, k) in val]
            if bars:
                title = ROUTE_TITLE.get(route, route)
                if len(cookies) > 1 and route in ("counter", "read"):
                    title += f", {k} cookie{'s' if k > 1 else ''}"
                groups.append((title, bars))

    # ---- layout
    size, small = 12, 11
    bar_h, bar_gap, group_gap, head_h = 15, 4, 14, 20
    label_w = max(text_width(label(s), size) * (1.12 if is_demo(s) else 1.0) for s in order) + 16
    left = 16 + label_w
    plot_w = 540
    width = int(left + plot_w + 170)
    has_redis = any(v[1] is not None for _, bars in groups for _, v in bars)
    vmax = max(v[0] + (v[1] or 0) for _, bars in groups for _, v in bars)
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50, 100, 200, 500, 1000) if vmax / s <= 8)
    xmax = step * (int(vmax / step) + 1)
    sx = plot_w / xmax

    title_y = 26
    subtitle = wrap(f"benches/http/run.sh, run of {when} (results dir {base}); demos built from {built}. "
                    f"{knob}; loopback, one tokio worker per server; median over repetitions.", small, width - 32)
    sub_y = [title_y + 20 + 15 * i for i in range(len(subtitle))]
    top = sub_y[-1] + 34  # axis labels above the plot
    plot_top = top + 6
    y = plot_top
    layout = []
    for title, bars in groups:
        layout.append(("head", title, y))
        y += head_h
        for s, v in bars:
            layout.append(("bar", (s, v), y))
            y += bar_h + bar_gap
        y += group_gap
    plot_bottom = y - group_gap + 4
    legend_y = plot_bottom + 34
    foot_y = legend_y + 30
    foot = ("CPU per request excludes softirq time the kernel books to the core (loopback), the same for every "
            "server; it is the figure least disturbed by other load on this shared 2-core VM.")
    if has_redis:
        foot += (" Redis rows: the dashed segment is redis-server's own CPU per request (one redis-server for "
                 "the run, on wrk's core), not in the server's figure; the cost of a request is the sum.")
    foot_lines = wrap(foot, 10.5, width - 32)
    height = foot_y + 14 * len(foot_lines) + 8

    o = []
    o.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="{size}">')
    o.append(f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    o.append(f'<text x="16" y="{title_y}" font-size="17" font-weight="bold" fill="#111">'
             f'Server CPU µs per request (lower is better): livesession demos vs peer session libraries</text>')
    for line, ly in zip(subtitle, sub_y):
        o.append(f'<text x="16" y="{ly}" font-size="{small}" fill="#333">{escape(line)}</text>')
    # grid and axis labels (top and bottom)
    t = 0
    while t <= xmax + 1e-9:
        x = left + t * sx
        o.append(f'<line x1="{x:.1f}" y1="{plot_top - 4}" x2="{x:.1f}" y2="{plot_bottom}" '
                 f'stroke="{"#999" if t == 0 else "#e3e3e3"}" stroke-width="1"/>')
        for ty in (plot_top - 9, plot_bottom + 14):
            o.append(f'<text x="{x:.1f}" y="{ty}" text-anchor="middle" font-size="{small}" fill="#555">{t:g}</text>')
        t += step
    o.append(f'<text x="{left + plot_w / 2:.1f}" y="{top - 16}" text-anchor="middle" font-size="{small}" '
             f'fill="#555">CPU µs per request (server utime+stime ÷ requests completed)</text>')
    for kind, what, yy in layout:
        if kind == "head":
            o.append(f'<text x="16" y="{yy + 14}" font-size="13" font-weight="bold" fill="#111">{escape(what)}</text>')
            continue
        s, (cpu, rcpu, n) = what
        demo = is_demo(s)
        ty = yy + bar_h - 3.5
        lab = escape(label(s))
        if demo:
            o.append(f'<text x="{left - 8}" y="{ty}" text-anchor="end" font-weight="bold" fill="#123f80">{lab}</text>')
        else:
            o.append(f'<text x="{left - 8}" y="{ty}" text-anchor="end" fill="#333">{lab}</text>')
        w = cpu * sx
        o.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar_h}" fill="{colour(s)}">'
                 f'<title>{lab}: {cpu:.1f} µs/request, median of {n}</title></rect>')
        value = f"{cpu:.1f}"
        end = left + w
        if rcpu is not None:
            o.append(f'<rect x="{end:.1f}" y="{yy}" width="{rcpu * sx:.1f}" height="{bar_h}" fill="{colour(s)}" '
                     f'fill-opacity="0.3" stroke="{colour(s)}" stroke-width="0.8" stroke-dasharray="3 2">'
                     f'<title>redis-server: {rcpu:.1f} µs/request</title></rect>')
            end += rcpu * sx
            value += f"  + {rcpu:.1f} Redis = {cpu + rcpu:.1f}"
        weight = ' font-weight="bold"' if demo else ""
        o.append(f'<text x="{end + 5:.1f}" y="{ty}" font-size="{small}" fill="#111"{weight}>{escape(value)}</text>')
    # legend
    items = [(DEMO["memory"], 1, "livesession demo, memory"), (DEMO["sled"], 1, "demo, sled"),
             (DEMO["redis"], 1, "demo, Redis")]
    if any(s.endswith(BASE) for s in order):
        items.append((DEMO_BASE, 1, "demo @base"))
    items += [(PEER["memory"], 1, "peer, memory"), (PEER["redis"], 1, "peer, Redis")]
    if has_redis:
        items.append(("#888", 0.3, "redis-server's CPU"))
    present = {(colour(s)) for s in order} | ({"#888"} if has_redis else set())
    x = 16
    for c, op, name in items:
        if c not in present:
            continue
        extra = ' stroke="#888" stroke-dasharray="3 2"' if op < 1 else ""
        o.append(f'<rect x="{x}" y="{legend_y - 10}" width="14" height="12" fill="{c}" fill-opacity="{op}"{extra}/>')
        o.append(f'<text x="{x + 19}" y="{legend_y}" font-size="{small}" fill="#333">{escape(name)}</text>')
        x += 19 + text_width(name, small) + 18
    for i, line in enumerate(foot_lines):
        o.append(f'<text x="16" y="{foot_y + 14 * i}" font-size="10.5" fill="#555">{escape(line)}</text>')
    o.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(svg_path)), exist_ok=True)
    with open(svg_path, "w") as f:
        f.write("\n".join(o) + "\n")
    print(f"chart: {svg_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
