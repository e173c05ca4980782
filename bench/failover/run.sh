#!/usr/bin/env bash
# Runs the failover benchmark (vipd and keepalived, same config, same run) and
# writes the table into docs/benchmarks.md between its FAILOVER markers.
# Run as root: ./bench/failover/run.sh [runs-per-cell, default 7]
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-7}
bash scripts/install-deps.sh >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
VIPD_BENCH_OUT=$out go test -run '^$' -bench BenchmarkFailover -benchtime "${runs}x" -timeout 60m ./bench/failover
python3 - "$out" docs/benchmarks.md "$runs" <<'PY'
import json, sys, datetime, platform, subprocess
res = [json.loads(l) for l in open(sys.argv[1])]
cells = {(r["advert"], r["daemon"]): r for r in res}
rows = []
for adv in ["1", "0.1", "0.01"]:
    v, k = cells.get((adv, "vipd")), cells.get((adv, "keepalived"))
    if not v or not k:
        continue
    fmt = lambda r: "%.1f" % r["median_ms"]
    spread = lambda r: "%.1f–%.1f" % (min(r["samples_ms"]), max(r["samples_ms"]))
    ratio = v["median_ms"] / k["median_ms"]
    rows.append(f"| {adv} s | {fmt(v)} ({spread(v)}) | {fmt(k)} ({spread(k)}) | {ratio:.2f} | {'yes' if ratio <= 1.0 else 'NO'} |")
ka = subprocess.run(["keepalived", "--version"], capture_output=True, text=True)
kav = (ka.stdout + ka.stderr).splitlines()[0]
table = "\n".join([
    f"Measured {datetime.date.today()} on {platform.machine()}, {subprocess.check_output(['nproc']).decode().strip()} cores; {kav}; "
    f"median of {sys.argv[3]} runs per cell (min–max in brackets), milliseconds from `kill -9` of the master to the VIP bound on the backup. "
    "VRRPv3 unicast, one keepalived.conf fed to both daemons, master priority 150, backup 100.",
    "",
    "| advert_int | vipd ms | keepalived ms | ratio vipd/keepalived | goal ≤ 1.0 |",
    "| --- | --- | --- | --- | --- |",
    *rows,
])
doc = open(sys.argv[2]).read()
a, b = "<!-- FAILOVER:BEGIN -->", "<!-- FAILOVER:END -->"
i, j = doc.index(a) + len(a), doc.index(b)
open(sys.argv[2], "w").write(doc[:i] + "\n" + table + "\n" + doc[j:])
print(table)
PY
