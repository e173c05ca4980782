// Package failover benchmarks how long a VIP is gone when its master
// crashes: the master is sent SIGKILL right after one of its adverts reaches
// the backup, and the time from that advert to the VIP being bound on the
// backup is measured, for vipd and for keepalived with the same
// keepalived.conf, alternating between them, at advert intervals of 1 s,
// 100 ms and 10 ms. bench/failover/run.sh runs it and writes the table of
// docs/benchmarks.md.
//
// Everything is in _test.go files: the package ships no code. It depends on
// internal/lab and internal/testbed for the namespaces and the daemons, and
// on election/vrrp only to decode adverts; it must not depend on the
// election runtime or the agent it measures.
package failover
