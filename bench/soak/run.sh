#!/usr/bin/env bash
# Runs the chaos soak (five vipd agents in network namespaces across two
# subnets, two VIPs, a random disturbance every few seconds; see
# bench/soak/doc.go) and writes its report into the "Chaos soak" section of
# docs/reliability.md, between the SOAK markers.
# Run as root: ./bench/soak/run.sh [short | long | DURATION, default long]
# short is what CI runs (about 3 minutes); long is 30 minutes of
# disturbances. VIPD_SOAK_SEED=N replays a run's choices. On a failed run
# the daemons' logs are kept (the path is printed) and the exit status is
# non-zero; the report is written either way.
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-long}
bash scripts/install-deps.sh >/dev/null
export PATH="/usr/local/go/bin:$(go env GOPATH)/bin:$PATH"
out=$(mktemp)
logs=$(mktemp -d)
trap 'rm -f "$out"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
set +e
VIPD_SOAK=$profile VIPD_SOAK_OUT=$out VIPD_SOAK_LOGS=$logs \
	go test -count=1 -run '^TestSoak$' -v -timeout 3h ./bench/soak 2>&1 | tee "$logs/test.log"
rc=${PIPESTATUS[0]}
set -e
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ ! -s $out ]]; then
	echo "run.sh: the soak wrote no report (exit status $rc); output in $logs/test.log" >&2
	exit 1
fi
python3 - "$out" docs/reliability.md "$load_before" "$load_after" <<'PY'
import datetime, json, os, sys
sys.path.insert(0, "bench")
from benchdoc import commit, first_line, machine

out, doc_path, load_before, load_after = sys.argv[1:5]
r = json.load(open(out))
measured = commit(["cmd", "agent", "config", "election", "gossip", "internal"])
p = r["profile"]

def t(s):  # RFC 3339 with nanoseconds → datetime
    s = s.rstrip("Z")
    base, _, frac = s.partition(".")
    tz = ""
    for sign in "+-":
        if sign in frac:
            frac, _, tz = frac.partition(sign)
            tz = sign + tz
    return datetime.datetime.fromisoformat(base + "." + (frac + "000000")[:6] + (tz or "+00:00"))

run_s = (t(r["end"]) - t(r["start"])).total_seconds()
kinds = ["kill -9", "SIGSTOP", "graceful restart", "link down", "packet loss", "protocol-112 drop", "gossip port drop",
         "partition", "long partition"]
lines = [
    f"Measured {datetime.date.today()} on {machine()}; vipd built with {first_line(['go', 'version'])} "
    f"from commit {measured}; load average {load_before} before, {load_after} after.",
    "",
    f"Profile `{p['name']}`: {p['chaos_ns'] / 60e9:.1f} min of disturbances, {run_s / 60:.1f} min in all; "
    f"seed {r['seed']}; packet loss by {r['loss_method']}. The sampler took {r['samples']} samples "
    f"(interval p99 {r['sample_p99_interval_ms']:.0f} ms, max {r['sample_max_interval_ms']:.0f} ms); "
    f"the slowest return of both VIPs to their preferred nodes after a disturbance was reverted took "
    f"{r['settle_worst_ms'] / 1000:.1f} s.",
    "",
    "| disturbance | " + " | ".join(kinds) + " | total |",
    "| --- |" + " --- |" * (len(kinds) + 1),
    "| count | " + " | ".join(str(r["counts"].get(k, 0)) for k in kinds) + f" | {len(r['disturbances'])} |",
    "",
    "| VIP | unowned gaps | worst gap | its bound (master-down + 500 ms) | episodes with two holders |",
    "| --- | --- | --- | --- | --- |",
]
for v in r["vips"]:
    lines.append(f"| {v['vip']} | {v['gaps']} | {v['worst_gap_ms']:.0f} ms | {v['worst_gap_bound_ms']:.0f} ms | {v['duals']} |")
lines += ["", "| two holders, by cause | episodes | worst | its bound |", "| --- | --- | --- | --- |"]
for cause in ["no advert cut"] + kinds:
    d = r["duals"].get(cause)
    if d:
        lines.append(f"| {cause} | {d['count']} | {d['worst_ms']:.0f} ms | {d['bound_ms']:.0f} ms |")
if not r["duals"]:
    lines.append("| none | 0 | | |")
lines += ["", "| daemon | up | goroutines | fds (/proc) | process_open_fds | VmRSS (KiB) |", "| --- | --- | --- | --- | --- | --- |"]
for inc in r["incarnations"]:
    if not inc.get("first"):
        continue
    f, l = inc["first"], inc["last"]
    up = (t(inc["end"]) - t(inc["start"])).total_seconds()
    lines.append(f"| {inc['node']} | {up / 60:.1f} min | {f['goroutines']} → {l['goroutines']} | {f['fds']} → {l['fds']} "
                 f"| {f['metric_fds']} → {l['metric_fds']} | {f['rss_kib']} → {l['rss_kib']} |")
lim = r["leak_limits"]
lines += ["", f"Resources: floors of the first and last {p['window']} readings of every daemon that lived long "
          f"enough (limits +{lim['Goroutines']} goroutines, +{lim['FDs']} fds, +{lim['RSSKiB'] // 1024} MiB).", ""]
viol = r.get("violations") or []
lines.append(f"**Invariant violations: {len(viol)}.**")
for v in viol:
    lines.append(f"- {v['at'][11:23]}: {v['what']}")

table = "\n".join(lines)
begin, end = "<!-- SOAK:BEGIN -->", "<!-- SOAK:END -->"
doc = open(doc_path).read() if os.path.exists(doc_path) else ""
if begin not in doc:
    # The section is missing: add a bare one (its prose lives in the
    # committed file, not here).
    doc = doc.rstrip("\n") + ("\n\n" if doc else "") + "## Chaos soak\n\n" + begin + "\n" + end + "\n"
i, j = doc.index(begin) + len(begin), doc.index(end)
open(doc_path, "w").write(doc[:i] + "\n" + table + "\n" + doc[j:])
print(table)
PY
if ((rc != 0)); then
	echo "run.sh: the soak failed (exit status $rc); daemon logs in $logs" >&2
	exit "$rc"
fi
rm -rf "$logs"
