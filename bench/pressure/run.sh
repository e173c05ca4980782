#!/usr/bin/env bash
# Runs the pressure benchmark (vipd and keepalived, each without and with
# its protections, under CPU hogs and under memory reclaim, same run) and
# writes its table into docs/benchmarks.md between the PRESSURE markers.
# Run as root:
#   ./bench/pressure/run.sh [seconds-per-cell, default 300]
# The recorded run is 300 s per cell (8 cells: about 45 minutes). Settings
# (environment): VIPD_PRESSURE_CPUS (the master's CPUs, default the last),
# VIPD_PRESSURE_HOGS (busy loops per master CPU, 1), VIPD_PRESSURE_MEM_MB
# (the memory cgroup's limit, 256), VIPD_PRESSURE_ANON_PCT (the hog's
# anonymous memory in % of it, 80), VIPD_PRESSURE_READ_MBS (its file
# reading rate, 100), VIPD_PRESSURE_STRESS (cpu,memory),
# VIPD_PRESSURE_DAEMONS (vipd,vipd+opts,keepalived,keepalived+opts),
# VIPD_PRESSURE_LOGS (a directory for the daemons' logs),
# VIPD_PRESSURE_KA_RLIMIT_RTIME (µs: keepalived.conf vrrp_rlimit_rttime with
# the protections; keepalived kills its own real-time VRRP child beyond it),
# VIPD_PRESSURE_NOTE (a sentence printed above the table), VIPD_BENCH_JSON
# (keep the raw records). VIPD_PRESSURE_NODOC=1 only prints the table.
# A smoke test: VIPD_PRESSURE_NODOC=1 ./bench/pressure/run.sh 5
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_arg secs 300 1 "seconds per cell must be at least 1" "$@"
bash scripts/install-deps.sh >/dev/null
bench_out
export VIPD_PRESSURE_DURATION=${secs}s VIPD_PRESSURE_ANON_PCT=${VIPD_PRESSURE_ANON_PCT:-80}
bench_go BenchmarkPressure ./bench/pressure 1 180m
python3 - "$out" docs/benchmarks.md "$secs" "$load_before" "$load_after" <<'PY'
import datetime, json, os, sys
sys.path.insert(0, "bench")
from benchdoc import commit, first_line, machine, publish
measured = commit(["cmd", "agent", "config", "election", "internal", "go.mod"])

out, doc_path, secs, load_before, load_after = sys.argv[1:6]
rows = [json.loads(l) for l in open(out)]
label = {"vipd": "vipd", "vipd+opts": "vipd, rr 50 + lock_memory",
         "keepalived": "keepalived", "keepalived+opts": "keepalived, vrrp_rt_priority 50 + vrrp_no_swap"}
table = []
for r in rows:
    stress = f"CPU: {r.get('hogs', 0)} busy loop(s) on the master's CPU" if r["stress"] == "cpu" else \
        f"memory: {r.get('limit_mb', 0)} MiB cgroup in reclaim"
    table.append(
        f"| {stress} | {label.get(r['daemon'], r['daemon'])} | **{r['spurious']}** | {r['adverts']} "
        f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['jitter_p99_ms']:.2f} | {r['late']} "
        f"| {r['master_major_faults']} |{' master exited' if r.get('master_exited') else ''} {r['load']} |")
note = os.environ.get("VIPD_PRESSURE_NOTE", "")
text = "\n".join([
    (note + "\n\n" if note else "") +
    f"Measured {datetime.date.today()} on {machine()}; {first_line(['keepalived', '--version'])}; "
    f"vipd built with {first_line(['go', 'version'])} from commit {measured}; {secs} s per cell, "
    f"one run; load average {load_before} before, {load_after} after (other work shares the machine). "
    "Spacing is between the master's adverts as the backup's kernel received them (100 ms sent); "
    "jitter is the 99th percentile of |spacing − 100 ms|; *late* counts spacings over 200 ms; "
    "*spurious* counts the backup's spells as master; *major faults* are the master's page faults "
    "that read the disk during the cell.",
    "",
    "| stress | daemon (pair) | spurious | adverts | spacing p50 ms | p99 ms | max ms | jitter p99 ms | late | major faults | load at end |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    *table,
])
publish(doc_path, "PRESSURE", text, "VIPD_PRESSURE_NODOC")
PY
