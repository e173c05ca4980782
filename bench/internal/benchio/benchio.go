// Package benchio holds what the benchmarks read and write around their
// measurements: settings from the environment, and the samples appended as
// JSON lines to the file the bench/*/run.sh scripts read back.
package benchio

import (
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"
)

// OutEnv names the environment variable that holds the file the samples go
// to; run.sh sets it (bench/lib.sh's bench_go), and without it a benchmark
// only logs.
const OutEnv = "VIPD_BENCH_OUT"

// Append writes each of recs as one JSON line at the end of the file OutEnv
// names, creating it; it does nothing when OutEnv is unset, and fails tb
// when the file cannot be written. Appending lets each benchmark, cell or
// run add its samples as it finishes them.
func Append[T any](tb testing.TB, recs ...T) {
	tb.Helper()
	path := os.Getenv(OutEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			tb.Fatal(err)
		}
	}
}

// Duration reads a positive Go duration (such as 60s) from the environment
// variable name, def when it is unset; any other value fails tb, so that a
// mistyped setting does not measure something else.
func Duration(tb testing.TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	return setting(tb, name, def, time.ParseDuration, "a positive Go duration such as 60s")
}

// Int reads a positive whole number from the environment variable name,
// def when it is unset; any other value fails tb.
func Int(tb testing.TB, name string, def int) int {
	tb.Helper()
	return setting(tb, name, def, strconv.Atoi, "a positive number")
}

func setting[T int | time.Duration](tb testing.TB, name string, def T, parse func(string) (T, error), want string) T {
	tb.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := parse(s)
	if err != nil || v <= 0 {
		tb.Fatalf("%s=%q: want %s", name, s, want)
	}
	return v
}
