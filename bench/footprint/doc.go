// Package footprint measures what vipd and keepalived cost to run, side by
// side on the same machine: CPU time and memory of the master's and the
// backup's daemon over a steady window, with 1 VRRPv3 instance at 1 s
// adverts and with 100 instances at 100 ms and at 10 ms, and then how long
// the backup takes to bind every VIP when the master crashes.
// bench/footprint/run.sh runs BenchmarkFootprint and writes the footprint
// table of docs/benchmarks.md.
//
// Everything is in _test.go files: the package ships no code. It runs the
// vipd binary and Debian's keepalived through internal/lab and
// internal/testbed; it reads config only to prove that the two configuration
// files it writes say the same thing, and never links the agent it measures.
package footprint
