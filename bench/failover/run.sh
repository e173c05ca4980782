#!/usr/bin/env bash
# Runs the failover benchmark (vipd and keepalived, same config, same run,
# alternating) and writes its tables into docs/benchmarks.md between the
# FAILOVER markers. Run as root: ./bench/failover/run.sh [runs-per-cell, default 7]
# VIPD_BENCH_JSON=file keeps the raw samples (JSON lines) in file.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_arg runs 7 5 "a median needs at least 5 runs per cell" "$@"
bash scripts/install-deps.sh >/dev/null
bench_out
bench_go BenchmarkFailover ./bench/failover "$runs" 90m
python3 - "$out" docs/benchmarks.md "$runs" "$load_before" "$load_after" <<'PY'
import datetime, json, os, platform, statistics, subprocess, sys
sys.path.insert(0, "bench")
from benchdoc import commit, first_line, machine, publish
measured = commit(["cmd", "agent", "config", "election", "internal"])  # what changes the binary measured

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

table = "\n".join([
    f"Measured {datetime.date.today()} on {machine()}; "
    f"{first_line(['keepalived', '--version'])}; vipd built with {first_line(['go', 'version'])} "
    f"from commit {measured}; load average {load_before} before, {load_after} after. "
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
publish(doc_path, "FAILOVER", table)
PY
