#!/usr/bin/env bash
# Runs every Go fuzz target of the module (each `func FuzzX` in a _test.go
# file) for a given time, default 30s each, and exits non-zero if any of
# them finds a failure or does not run.
#
#   scripts/fuzz.sh [DURATION] [NAME-REGEXP]
#     DURATION     go test's -fuzztime: 30s, 10m, or 5000x (executions)
#     NAME-REGEXP  only the targets whose name matches (grep -E)
#   FUZZ_JOBS=N    targets fuzzed at once (default: the number of CPUs),
#                  each with one worker, so a target gets DURATION of
#                  one core and the CPUs stay busy.
#
# A failing input is written by go test to the package's
# testdata/fuzz/<Target>/ and re-runs with plain `go test` from then on:
# commit it with the fix. New corpus entries stay in the build cache.
# Each target's summary line (executions, new interesting inputs) is
# printed at the end, for docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo /root/go)/bin:$PATH"

duration=${1:-30s}
only=${2:-.}
jobs=${FUZZ_JOBS:-$(nproc)}

# "package-dir target" pairs, from the test files git knows or that exist.
mapfile -t targets < <(
	grep -rlE --include='*_test.go' '^func Fuzz[A-Z0-9_][A-Za-z0-9_]*\(f \*testing\.F\)' . |
		grep -v '^./.git/' | sort |
		while read -r file; do
			dir=$(dirname "$file")
			grep -oE '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' "$file" |
				sed -E 's/^func (Fuzz[A-Za-z0-9_]+).*/\1/' |
				while read -r name; do echo "$dir $name"; done
		done | grep -E " ($only)" || true
)
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no fuzz target matches '$only'" >&2
	exit 1
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

echo "== fuzz: ${#targets[@]} targets, $duration each, $jobs at a time"
start=$(date +%s)
run() {
	local dir=$1 name=$2 log="$logs/$2.log"
	# -run '^$': the seed corpus already runs as a plain test; here only
	# the fuzzing. One worker per target (-parallel 1), FUZZ_JOBS at once.
	# Minimizing runs after every new interesting input and counts no
	# executions: go's default of 60 s would stall a slow target (one that
	# syncs a file per execution) for most of a short run.
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$duration" -fuzzminimizetime 5s -parallel 1 "$dir" >"$log" 2>&1; then
		echo ok >"$logs/$name.rc"
	elif coordinator_race "$log"; then
		# Go's fuzzing coordinator can report its own -fuzztime deadline as
		# a failure when a worker is mid-call as time runs out
		# (golang/go#75804, fixed in go1.27 only). That failure names no
		# input and writes none; the target's corpus, re-run as a plain
		# test, must still pass for the run to count.
		if go test -run "^${name}\$" -count 1 "$dir" >>"$log" 2>&1; then
			echo "ok (coordinator deadline race, golang/go#75804; corpus re-run passed)" >>"$log"
			echo race >"$logs/$name.rc"
		else
			echo FAIL >"$logs/$name.rc"
		fi
	else
		echo FAIL >"$logs/$name.rc"
	fi
}

# coordinator_race LOG: true when the only failure in LOG is the fuzzing
# coordinator's bare "context deadline exceeded" with no input written, no
# panic and no test failure message of the target's own.
coordinator_race() {
	local log=$1
	grep -qxE '[[:space:]]*context deadline exceeded' "$log" || return 1
	! grep -qE 'Failing input written to|^panic:|_test\.go:[0-9]+:|fuzz: minimizing' "$log"
}
running=0
for t in "${targets[@]}"; do
	read -r dir name <<<"$t"
	if [ "$running" -ge "$jobs" ]; then
		wait -n || true
		running=$((running - 1))
	fi
	run "$dir" "$name" &
	running=$((running + 1))
done
wait

failed=0
for t in "${targets[@]}"; do
	read -r dir name <<<"$t"
	rc=$(cat "$logs/$name.rc" 2>/dev/null || echo FAIL)
	# The last progress line: "fuzz: elapsed: 30s, execs: 123 (4/sec), new interesting: 5 (total: 40)".
	summary=$(grep -E '^fuzz: elapsed: .*execs' "$logs/$name.log" | tail -n 1 | sed -E 's/^fuzz: //' || true)
	if [ "$rc" != FAIL ] && [ -z "$summary" ]; then
		rc=FAIL # passed without fuzzing: a renamed target or a build tag
	fi
	note=""
	if [ "$rc" = race ]; then
		rc=ok
		note=" [deadline race of go's coordinator, golang/go#75804; corpus re-run passed]"
	fi
	printf '%-4s %-28s %-20s %s%s\n' "$rc" "$name" "${dir#./}" "${summary:-(did not fuzz)}" "$note"
	if [ "$rc" != ok ]; then
		failed=1
		sed 's/^/    /' "$logs/$name.log"
	fi
done
echo "== fuzz: done in $(($(date +%s) - start))s"
exit $failed
