#!/usr/bin/env bash
# Runs the footprint benchmark (vipd and keepalived, same configuration,
# same run, alternating) and writes its table into docs/benchmarks.md
# between the FOOTPRINT markers. Run as root:
#   ./bench/footprint/run.sh [runs-per-cell, default 3]
# VIPD_BENCH_JSON=file keeps the raw samples (JSON lines) in file;
# VIPD_FOOTPRINT_WINDOW (default 30s) and VIPD_FOOTPRINT_SETTLE (8s) set
# the steady window and the wait before it. VIPD_FOOTPRINT_NODOC=1 only
# prints the table.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
bench_arg runs 3 1 "runs per cell must be at least 1" "$@"
bash scripts/install-deps.sh >/dev/null
bench_out
bench_go BenchmarkFootprint ./bench/footprint "$runs" 120m
python3 - "$out" docs/benchmarks.md "$runs" "$load_before" "$load_after" <<'PY'
import datetime, json, os, statistics, sys
sys.path.insert(0, "bench")
from benchdoc import commit, first_line, machine, publish
measured = commit(["cmd", "agent", "config", "election", "internal", "go.mod"])

out, doc_path, runs, load_before, load_after = sys.argv[1:6]
samples = [json.loads(l) for l in open(out)]
cells = ["1x1s", "100x100ms", "100x10ms"]
label = {"1x1s": "1 @ 1 s", "100x100ms": "100 @ 100 ms", "100x10ms": "100 @ 10 ms"}
daemons = []
for s in samples:
    if s["daemon"] not in daemons:
        daemons.append(s["daemon"])

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def mb(kb):
    return kb / 1024

rows, goals, fo = [], [], []
for c in cells:
    by = {d: [s for s in samples if s["cell"] == c and s["daemon"] == d] for d in daemons}
    if not all(by.values()):
        continue
    for d in daemons:
        ss = by[d]
        m = lambda f: med([f(s) for s in ss])
        rows.append(
            f"| {label[c]} | {d} | {m(lambda s: s['master']['cpu_s']):.2f} ({m(lambda s: s['master']['cpu_pct']):.2f} %) "
            f"| {m(lambda s: s['backup']['cpu_s']):.2f} ({m(lambda s: s['backup']['cpu_pct']):.2f} %) "
            f"| {mb(m(lambda s: s['master']['mem']['rss_kb'])):.1f} / {mb(m(lambda s: s['master']['mem']['hwm_kb'])):.1f} "
            f"| {mb(m(lambda s: s['backup']['mem']['rss_kb'])):.1f} / {mb(m(lambda s: s['backup']['mem']['hwm_kb'])):.1f} "
            f"| {mb(m(lambda s: s['master']['mem']['rss_anon_kb'])):.1f} + {mb(m(lambda s: s['master']['mem']['rss_file_kb'])):.1f} "
            f"| {mb(m(lambda s: s['master']['mem']['pss_kb'])):.1f} "
            f"| {m(lambda s: s['adverts_per_s']):.0f} of {ss[0]['want_per_s']:.0f} "
            f"| {sum(s['settled'] for s in ss)}/{len(ss)} ({sum(s['startup_flaps'] for s in ss)}, {sum(s['window_changes'] for s in ss)}) "
            f"| {sum(s['raw_drops'][1] for s in ss) if all('raw_drops' in s for s in ss) else '—'} "
            f"| {m(lambda s: s['machine_busy_pct']):.0f} % |")
        # A failover whose last instance beat the master-down floor was not
        # a failover from silence (the backup had bound before the kill).
        ok = [s for s in ss if s["settled"] and not s["failover"].get("invalid")
              and s["failover"]["max_ms"] >= s["failover"]["floor_ms"]]
        if ok:
            f = lambda g: med([g(s) for s in ok])
            fo.append(f"| {label[c]} | {d} | {ok[0]['failover']['floor_ms']:.3f} "
                      f"| {f(lambda s: s['failover']['median_ms']):.2f} | {f(lambda s: s['failover']['max_ms']):.2f} "
                      f"| {f(lambda s: s['failover']['kill_to_all_ms']):.2f} | {len(ok)} |")
        else:
            fo.append(f"| {label[c]} | {d} | | not settled | | | 0 |")
    if "vipd" in by and "keepalived" in by:
        v, k = by["vipd"], by["keepalived"]
        cpu = lambda ss: med([s["master"]["cpu_s"] + s["backup"]["cpu_s"] for s in ss])
        rss = max(max(s["master"]["mem"]["rss_kb"], s["backup"]["mem"]["rss_kb"]) for s in v)
        valid = lambda s: (s["settled"] and not s["failover"].get("invalid")
                           and s["failover"]["max_ms"] >= s["failover"]["floor_ms"])
        vok = [s for s in v if valid(s)]
        kok = [s for s in k if valid(s)]
        if vok and kok:
            vmax = [s["failover"]["max_ms"] for s in vok]
            kmax = [s["failover"]["max_ms"] for s in kok]
            r = med(vmax) / med(kmax)
            # A difference smaller than either daemon's own run-to-run
            # spread is a tie, said as such, not a win or a loss.
            d = med(vmax) - med(kmax)
            spread = min(max(vmax) - min(vmax), max(kmax) - min(kmax))
            if r <= 1.0:
                ratio = f"{r:.3f} yes"
            elif d < spread:
                ratio = f"{r:.3f} yes, a tie (+{d:.2f} ms, within the run-to-run spread of {spread:.2f} ms)"
            else:
                ratio = f"{r:.3f} NO"
        else:
            ratio = "— (vipd did not settle)" if not vok else "— (keepalived did not settle)"
        cr = f"{cpu(v) / cpu(k):.2f}" if cpu(k) > 0 else "—"
        cpugoal = "—" if c == "1x1s" else ("yes" if cpu(v) <= cpu(k) else "NO")
        goals.append(f"| {label[c]} | {cpu(v):.2f} / {cpu(k):.2f} = {cr} | {cpugoal} "
                     f"| {mb(rss):.1f} MB {'yes' if rss <= 25 * 1024 else 'NO'} | {ratio} "
                     f"| {'yes' if all(s['settled'] for s in v) else 'NO'} |")

window = med([s["window_s"] for s in samples])
table = "\n".join([
    f"Measured {datetime.date.today()} on {machine()}; "
    f"{first_line(['keepalived', '--version'])}; vipd built with {first_line(['go', 'version'])} "
    f"from commit {measured}; load average {load_before} before, {load_after} after. "
    f"{runs} runs per cell and daemon, alternating; medians; a steady window of {window:.0f} s.",
    "",
    "**Goals** (vipd / keepalived; CPU is master + backup over the window, RSS the largest VmRSS of one vipd "
    "side in any run, failover the last instance's last-advert → VIP-bound time):",
    "",
    "| cell | CPU s vipd / keepalived | CPU ≤ keepalived | RSS ≤ 25 MB | failover ratio ≤ 1.0 | settled in every run |",
    "| --- | --- | --- | --- | --- | --- |",
    *goals,
    "",
    "**Per side** (CPU seconds over the window, in brackets % of one core; RSS now / peak (VmHWM), summed over "
    "a daemon's processes; *anon + file* split the master's RSS into RssAnon and RssFile; PSS counts pages shared "
    "with other processes by share; *adverts/s* arrived at the backup; *settled* runs (backup instances that "
    "entered MASTER while starting, state changes in the windows); *backup drops* are VRRP packets the kernel "
    "dropped for a full socket buffer in the backup's namespace over all windows; *busy* is the whole machine's):",
    "",
    "| instances @ advert | daemon | master CPU s | backup CPU s | master RSS / peak MB | backup RSS / peak MB | master anon + file MB | master PSS MB | adverts/s | settled (start flaps, window changes) | backup drops | machine busy |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    *rows,
    "",
    "**Failover at scale**, after the window, in settled runs (*runs* counts those measured; a run whose "
    "backup had bound a VIP before the kill is left out): SIGKILL to the master's process group; per "
    "instance, from the arrival at the backup of the master's last advert for its VRID to the kernel's "
    "notification of its VIP added on the backup (ms; the floor is the master-down interval):",
    "",
    "| instances @ advert | daemon | floor | median instance | last instance | kill → all bound | runs |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    *fo,
])
publish(doc_path, "FOOTPRINT", table, "VIPD_FOOTPRINT_NODOC")
PY
