// Package cloudmove benchmarks a NAT-pair failover on AWS (scenario 3 of
// the design: one Elastic IP and a /32 route in five route tables) against
// moto_server behind a proxy that adds 50 ms to every EC2 API call, and
// measures the time from "became master" to "all verified" for vipd's
// cloudmove against a faithful Go re-enactment of the call sequence of
// the notify_master scripts people use for it (describe calls, then one
// call per route table and the address, one after the other). It also
// counts the API calls on each critical path, and splits vipd's time into
// the endpoint's share (how long moto took to serve the burst of mutating
// calls and the last describe) so that the gap to the 5× goal can be
// explained. bench/cloudmove/run.sh runs it and writes the table of
// docs/benchmarks.md; VIPD_BENCH_TRACE=1 with -v logs every call's
// timeline.
//
// Everything is in _test.go files: the package ships no code.
package cloudmove
