#!/usr/bin/env bash
# Runs the gossip benchmark (50 `vipd agent` processes, gossip only, in
# network namespaces, for the lan and local profiles) and writes its table
# into docs/benchmarks.md between the GOSSIP markers.
# Run as root: ./bench/gossip/run.sh [rounds-per-profile, default 7]
# VIPD_BENCH_JSON=file keeps the raw samples (JSON lines) in file.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_arg rounds 7 5 "a median needs at least 5 rounds per profile" "$@"
bench_out
bench_go BenchmarkGossip ./bench/gossip "$rounds" 90m
python3 - "$out" docs/benchmarks.md "$rounds" "$load_before" "$load_after" <<'PY'
import datetime, json, os, platform, statistics, subprocess, sys
sys.path.insert(0, "bench")
from benchdoc import commit, first_line, machine, publish
measured = commit(["cmd", "agent", "config", "gossip", "internal"])  # what changes the binary measured

out, doc_path, rounds, load_before, load_after = sys.argv[1:6]
results = [json.loads(line) for line in open(out)]

def cell(r, key, scale=1000.0, digits=2):
    xs = [s[key] / scale for s in r["samples"]]
    return f"{statistics.median(xs):.{digits}f} ({min(xs):.{digits}f}–{max(xs):.{digits}f})"

rows = []
for r in results:
    left = sum(s["leave_as_left"] for s in r["samples"])
    seen = len(r["samples"]) * (r["agents"] - 1)
    rows.append(
        f"| {r['profile']} | {cell(r, 'full_view_ms')} | {cell(r, 'full_view_median_ms')} "
        f"| {cell(r, 'crash_all_ms')} | {cell(r, 'crash_median_ms')} | {r['detection_bound_ms'] / 1000:.1f} "
        f"| {cell(r, 'rejoin_all_ms')} | {cell(r, 'leave_all_ms')} | {r['spread_bound_ms'] / 1000:.1f} | {left}/{seen} |")

agents = results[0]["agents"] if results else 0
table = "\n".join([
    f"Measured {datetime.date.today()} on {machine()}; "
    f"vipd built with {first_line(['go', 'version'])} from commit {measured}; "
    f"load average {load_before} before, {load_after} after. {agents} agents; median of {rounds} rounds per "
    "profile (min–max in brackets), in seconds.",
    "",
    "| profile | full view: all agents | full view: median agent | crash → dead on all | crash → dead, median agent | detection bound | rejoin → known by all | SIGTERM → gone on all | spread bound | seen as left |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    *rows,
])
publish(doc_path, "GOSSIP", table)
PY
