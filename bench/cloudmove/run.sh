#!/usr/bin/env bash
# Runs the cloudmove benchmark (a NAT-pair failover: 1 Elastic IP + a route
# in 5 route tables, against moto_server with 50 ms added to every EC2 API
# call) and writes its table into docs/benchmarks.md between the CLOUDMOVE
# markers. Needs moto_server (python moto 5.2.1); no root.
# ./bench/cloudmove/run.sh [rounds, default 9]
# VIPD_BENCH_JSON=file keeps the raw samples (JSON lines) in file.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_arg rounds 9 5 "a median needs at least 5 rounds" "$@"
bench_out
bench_go BenchmarkCloudmove ./bench/cloudmove "$rounds" 30m
python3 - "$out" docs/benchmarks.md "$rounds" "$load_before" "$load_after" <<'PY'
import datetime, json, statistics, subprocess, sys
sys.path.insert(0, "bench")
from benchdoc import commit, first_line, machine, publish
measured = commit(["cloudmove", "config"])

out, doc_path, rounds, load_before, load_after = sys.argv[1:6]
r = [json.loads(line) for line in open(out)][-1]
s = r["samples"]

def cell(key):
    xs = [x[key] for x in s]
    return f"{statistics.median(xs):.0f} ({min(xs):.0f}–{max(xs):.0f})"

n = s[0]["script_calls"]

def med(key):
    return statistics.median(x[key] for x in s)

vipd = statistics.median(x["vipd_ms"] for x in s)
script = statistics.median(x["script_ms"] for x in s)
depth = statistics.median(x["vipd_depth"] for x in s)
table = "\n".join([
    f"Measured {datetime.date.today()} on {machine()}; "
    f"vipd built with {first_line(['go', 'version'])} from commit {measured}; "
    f"load average {load_before} before, {load_after} after. moto_server "
    f"{first_line(['python3', '-c', 'import moto; print(moto.__version__)'])}; "
    f"{r['latency_ms']:.0f} ms added to every EC2 API call; {r['tables']} route tables + 1 Elastic IP; "
    f"median of {rounds} failovers (min–max in brackets), in milliseconds.",
    "",
    "| | became master → all verified (ms) | API calls | calls on the critical path |",
    "| --- | --- | --- | --- |",
    f"| vipd cloudmove | {cell('vipd_ms')} | {s[0]['vipd_calls']}: {', '.join(r['vipd_calls'])} | {depth:.0f} |",
    f"| notify_master script (Go re-enactment) | {cell('script_ms')} | {s[0]['script_calls']}: {', '.join(r['script_calls'])} | {s[0]['script_calls']} |",
    "",
    f"vipd is **{script / vipd:.1f}×** faster (median script time / median vipd time).",
    "",
    f"Where the time goes (medians, injected latency excluded): moto served vipd's "
    f"{len([c for c in r['vipd_calls'] if not c.startswith('Describe')])} mutating calls, which reach it together, "
    f"one after another in **{med('burst_ms'):.0f} ms**, and the describe that ended the round in "
    f"**{med('verify_serve_ms'):.0f} ms**; each of the script's calls took **{med('script_serve_ms'):.0f} ms** "
    f"on an idle server. So the script ≈ {s[0]['script_calls']} × ({r['latency_ms']:.0f} + "
    f"{med('script_serve_ms'):.0f}) ms and vipd ≈ 2 × {r['latency_ms']:.0f} + {med('burst_ms'):.0f} + "
    f"{med('verify_serve_ms'):.0f} ms + its own ~2 ms. 5× thus needs 5 × (vipd's endpoint time) ≤ "
    f"N × (script's per call) + (N − 10) × latency, N = {n} script calls: "
    f"{5 * (med('burst_ms') + med('verify_serve_ms')):.0f} ≤ "
    f"{n * med('script_serve_ms') + (n - 10) * r['latency_ms']:.0f} ms is "
    f"{'met' if 5 * (med('burst_ms') + med('verify_serve_ms')) <= n * med('script_serve_ms') + (n - 10) * r['latency_ms'] else 'not met'}.",
])
publish(doc_path, "CLOUDMOVE", table)
PY
