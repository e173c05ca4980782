// Package gossip benchmarks vipd's gossip membership at 50 nodes: 50 `vipd
// agent` processes with a gossip section and no instance, each in a network
// namespace of its own, 25 in each of two "AZ" subnets joined by a router
// (testbed.TwoAZ). For each timing profile it measures, from the agents'
// own time-stamped log lines: the time until every agent has the full
// view after a cold start, the time until every agent has declared a
// crashed (SIGKILL) member dead, the time until a restarted member is known
// again by all, and the time until every agent has seen a member stopped
// gracefully (SIGTERM) leave. bench/gossip/run.sh runs it and writes the
// table of docs/benchmarks.md.
//
// Everything is in _test.go files: the package ships no code. It depends on
// internal/lab and internal/testbed for the namespaces and the daemons, and
// on config for the profiles' timings; it must not depend on the gossip
// package or the agent it measures.
package gossip
