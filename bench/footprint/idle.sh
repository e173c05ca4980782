#!/usr/bin/env bash
# Runs the idle benchmark (keepalived, vipd, and vipd with gossip: one
# instance at 1 s, a master and a backup each, the three pairs at the same
# time) and writes its table into docs/benchmarks.md between the IDLE
# markers. Run as root:
#   ./bench/footprint/idle.sh [runs, default 3]
# VIPD_IDLE_WINDOW (default 60s) and VIPD_FOOTPRINT_SETTLE (8s) set the
# window and the wait before it; VIPD_FOOTPRINT_VIPD_ENV (e.g.
# GOMAXPROCS=1) runs vipd with more environment; VIPD_BENCH_JSON=file
# keeps the samples; VIPD_IDLE_SAMPLES=file renders the table from samples
# kept before instead of measuring; VIPD_FOOTPRINT_NODOC=1 only prints it.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_arg runs 3 1 "runs must be at least 1" "$@"
if [[ -n ${VIPD_IDLE_SAMPLES:-} ]]; then
	out=$VIPD_IDLE_SAMPLES
	load=$(python3 -c 'import json,sys; l=[json.loads(x)["load1"] for x in open(sys.argv[1])]; print(f"1-minute load average {min(l)}–{max(l)} at the windows'"'"' starts")' "$out")
	runs=$(python3 -c 'import json,sys; print(sum(json.loads(l)["daemon"] == "keepalived" for l in open(sys.argv[1])))' "$out")
else
	bash scripts/install-deps.sh >/dev/null
	bench_out
	bench_go BenchmarkIdle ./bench/footprint "$runs" 60m
	load="load average $load_before before, $load_after after"
fi
python3 - "$out" docs/benchmarks.md "$runs" "$load" <<'PY'
import datetime, json, os, statistics, sys
sys.path.insert(0, "bench")
from benchdoc import commit, first_line, machine, publish
measured = commit(["cmd", "agent", "checks", "config", "election", "gossip", "internal", "go.mod"])

out, doc_path, runs, load = sys.argv[1:5]
samples = [json.loads(l) for l in open(out)]
daemons = []
for s in samples:
    if s["daemon"] not in daemons:
        daemons.append(s["daemon"])
by = {d: [s for s in samples if s["daemon"] == d] for d in daemons}
med = lambda xs: statistics.median(xs) if xs else float("nan")

rows = []
for d in daemons:
    ss = by[d]
    m = lambda f: med([f(s) for s in ss])
    rows.append(f"| {d} | {m(lambda s: s['master']['wakeups_per_s']):.2f} | {m(lambda s: s['backup']['wakeups_per_s']):.2f} "
                f"| {m(lambda s: s['master']['cpu_s']):.3f} | {m(lambda s: s['backup']['cpu_s']):.3f} "
                f"| {min(s['master']['wakeups_per_s'] for s in ss):.2f}–{max(s['master']['wakeups_per_s'] for s in ss):.2f} "
                f"| {sum(s['settled'] for s in ss)}/{len(ss)} | {m(lambda s: s['machine_busy_pct']):.0f} % |")

goals = []
ka = by.get("keepalived", [])
kcpu = med([s["master"]["cpu_s"] + s["backup"]["cpu_s"] for s in ka])
for d in daemons:
    if d == "keepalived":
        continue
    ss = by[d]
    wm = med([s["master"]["wakeups_per_s"] for s in ss])
    wb = med([s["backup"]["wakeups_per_s"] for s in ss])
    cpu = med([s["master"]["cpu_s"] + s["backup"]["cpu_s"] for s in ss])
    ratio = f"{cpu / kcpu:.2f}" if kcpu > 0 else "—"
    if "gossip" in d:
        alone = by.get("gossip alone", [])
        if d != "gossip alone" and alone:
            am = med([s["master"]["wakeups_per_s"] for s in alone])
            ab = med([s["backup"]["wakeups_per_s"] for s in alone])
            wgoal = f"— (gossip alone: {am:.2f} / {ab:.2f}; vipd's own share {wm - am:+.2f} / {wb - ab:+.2f})"
        else:
            wgoal = "— (memberlist's probes and gossip by themselves)"
        cgoal = "—"
    else:
        wgoal = "yes" if max(wm, wb) <= 5 else "NO"
        cgoal = "yes" if cpu <= 2 * kcpu else "NO"
    goals.append(f"| {d} | {wm:.2f} / {wb:.2f} | {wgoal} | {cpu:.3f} / {kcpu:.3f} = {ratio} | {cgoal} |")

window = med([s["window_s"] for s in samples])
table = "\n".join([
    f"Measured {datetime.date.today()} on {machine()}; "
    f"{first_line(['keepalived', '--version'])}; vipd built with {first_line(['go', 'version'])} "
    f"from commit {measured}; {load}. "
    f"{runs} runs, the pairs side by side; medians; a window of {window:.0f} s.",
    "",
    "**Goals** (without gossip: at most 5 wake-ups a second on each side, CPU of master + backup at most "
    "twice keepalived's):",
    "",
    "| daemon | wake-ups/s master / backup | ≤ 5 | CPU s vipd / keepalived | ≤ 2× |",
    "| --- | --- | --- | --- | --- |",
    *goals,
    "",
    "**Per side** (wake-ups: voluntary context switches a second, summed over the daemon's processes and "
    "threads; CPU: seconds its threads ran over the window, from schedstat; *range* is the master's over the "
    "runs; *busy* the whole machine's):",
    "",
    "| daemon | master wake-ups/s | backup wake-ups/s | master CPU s | backup CPU s | master range | settled | machine busy |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    *rows,
])
publish(doc_path, "IDLE", table, "VIPD_FOOTPRINT_NODOC")
PY
