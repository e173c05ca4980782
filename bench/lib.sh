# Shared by the benchmarks' run.sh scripts (sourced, not run): where the
# raw samples go, and the benchmark run with the host's load around it.

# bench_out sets $out, the JSON-lines file the benchmark writes its samples
# to: VIPD_BENCH_JSON when set (kept), else a temporary file; and pins
# VIPD_BENCH_COMMIT, the commit measured.
bench_out() {
	# The commit is the one the binaries are built from, now: the tree may
	# move on while a long benchmark runs (benchdoc.commit reads this).
	if [[ -z ${VIPD_BENCH_COMMIT:-} ]] && VIPD_BENCH_COMMIT=$(git rev-parse --short HEAD 2>/dev/null); then
		git diff --quiet HEAD -- '*.go' go.mod go.sum || VIPD_BENCH_COMMIT+=" with local changes"
		export VIPD_BENCH_COMMIT
	fi
	if [[ -n ${VIPD_BENCH_JSON:-} ]]; then
		out=$VIPD_BENCH_JSON
		: >"$out"
	else
		out=$(mktemp)
		trap 'rm -f "$out"' EXIT
	fi
}

# bench_go BENCHMARK PACKAGE TIMES TIMEOUT runs one Go benchmark TIMES
# times, writing to $out, and sets $load_before and $load_after: the host's
# load is part of the result, since the daemons share the CPUs with
# whatever else runs.
bench_go() {
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	VIPD_BENCH_OUT=$out go test -count=1 -run '^$' -bench "$1" -benchtime "${3}x" -timeout "$4" "$2"
	load_after=$(cut -d' ' -f1-3 /proc/loadavg)
}

# bench_arg VAR DEFAULT MIN WHAT [VALUE] sets VAR to VALUE (DEFAULT when
# absent), the count the script was given; below MIN it exits 2 with
# "<script>: WHAT, got VALUE", WHAT saying what the count must be.
bench_arg() {
	local n=${5:-$2}
	if ((n < $3)); then
		echo "$(basename "$0"): $4, got $n" >&2
		exit 2
	fi
	printf -v "$1" '%s' "$n"
}
