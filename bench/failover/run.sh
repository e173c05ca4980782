#!/usr/bin/env bash
# Runs the failover benchmark (vipd and keepalived, same config, same run,
# alternating) and writes its tables into docs/benchmarks.md between the
# FAILOVER markers. Run as root: ./bench/failover/run.sh [runs-per-cell, default 7]
# VIPD_BENCH_JSON=file keeps the raw samples (JSON lines) in file.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-7}
if ((runs < 5)); then
	echo "run.sh: a median needs at least 5 runs per cell, got $runs" >&2
	exit 2
fi
bash scripts/install-deps.sh >/dev/null
if [[ -n ${VIPD_BENCH_JSON:-} ]]; then
	out=$VIPD_BENCH_JSON
	: >"$out"
else
	out=$(mktemp)
	trap 'rm -f "$out"' EXIT
fi
# The host's load is part of the result: both daemons share the CPUs with
# whatever else runs.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
VIPD_BENCH_OUT=$out go test -count=1 -run '^$' -bench BenchmarkFailover -benchtime "${runs}x" -timeout 90m ./bench/failover
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$out" docs/benchmarks.md "$runs" "$load_before" "$load_after" <<'PY'
import datetime, json, os, platform, statistics, subprocess, sys

out, doc_path, runs, load_before, load_after = sys.argv[1:6]
cells = {}
for line in open(out):
    r = json.loads(line)
    cells[(r["advert"], r["daemon"])] = r

def med(r, f):
    return statistics.median(f(s) for s in r["samples"])

def span(r, key):
    xs = [s[key] for s in r["samples"]]
    return f"{min(xs):.2f}–{max(xs):.2f}"

main, detail = [], []
for adv in ["1", "0.1", "0.01"]:
    v, k = cells.get((adv, "vipd")), cells.get((adv, "keepalived"))
    if not v or not k:
        continue
    ratio = v["median_from_advert_ms"] / k["median_from_advert_ms"]
    over = lambda r: r["median_from_advert_ms"] - r["floor_ms"]
    main.append(
        f"| {adv} s | {v['floor_ms']:.3f} | {v['median_from_advert_ms']:.2f} ({span(v, 'from_advert_ms')}) "
        f"| {k['median_from_advert_ms']:.2f} ({span(k, 'from_advert_ms')}) | {over(v):.2f} / {over(k):.2f} "
        f"| {ratio:.4f} | {'yes' if ratio <= 1.0 else 'NO'} |")
    for r in (v, k):
        detail.append(
            f"| {adv} s | {r['daemon']} "
            f"| {med(r, lambda s: s['takeover_ms']) - r['floor_ms']:.2f} "
            f"| {med(r, lambda s: s['from_advert_ms'] - s['takeover_ms']):.2f} "
            f"| {r['median_from_kill_ms']:.2f} "
            f"| {med(r, lambda s: s['kill_lag_us']):.0f} "
            f"| {med(r, lambda s: s['period_ms']):.3f} ({span(r, 'period_ms')}) "
            f"| {sum(s['late_adverts'] for s in r['samples'])} | {r['discarded']} |")

def first_line(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return (p.stdout + p.stderr).strip().splitlines()[0]

def commit():
    # The vipd measured is the one in this tree; say whether it differs from
    # the commit. VIPD_BENCH_COMMIT names it when the tree is an export.
    if os.environ.get("VIPD_BENCH_COMMIT"):
        return os.environ["VIPD_BENCH_COMMIT"]
    p = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if p.returncode != 0:
        return "unknown"
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "cmd", "agent", "config", "election", "internal"]).returncode != 0
    return p.stdout.strip() + (" with local changes" if dirty else "")

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
nproc = subprocess.check_output(["nproc"], text=True).strip()
table = "\n".join([
    f"Measured {datetime.date.today()} on {cpu} ({platform.machine()}, {nproc} cores), Linux {platform.release()}; "
    f"{first_line(['keepalived', '--version'])}; vipd built with {first_line(['go', 'version'])} "
    f"from commit {commit()}; load average {load_before} before, {load_after} after. "
    f"Median of {runs} runs per cell (min–max in brackets), in milliseconds from the arrival of the "
    "master's last advert at the backup to the VIP bound on the backup.",
    "",
    "| advert_int | floor: master-down interval | vipd | keepalived | over the floor: vipd / keepalived | ratio vipd/keepalived | goal ≤ 1.0 |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    *main,
    "",
    "Where the time goes (medians): *timer* is from the master's last advert to the backup's first",
    "advert as master, less the floor; *bind* is from that advert to the VIP bound; *kill → bound* is",
    "from the SIGKILL; *kill lag* is from the triggering advert to the SIGKILL; *advert period* is the",
    "master's measured spacing of adverts before the kill; *late adverts* counts adverts from the",
    "master after the triggering one, over all runs; *discarded* counts attempts thrown away because",
    "the backup had not settled in BACKUP when the kill was due.",
    "",
    "| advert_int | daemon | timer ms | bind ms | kill → bound ms | kill lag µs | advert period ms | late adverts | discarded |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    *detail,
])
doc = open(doc_path).read()
a, b = "<!-- FAILOVER:BEGIN -->", "<!-- FAILOVER:END -->"
i, j = doc.index(a) + len(a), doc.index(b)
open(doc_path, "w").write(doc[:i] + "\n" + table + "\n" + doc[j:])
print(table)
PY
