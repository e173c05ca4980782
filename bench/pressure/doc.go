// Package pressure benchmarks false failover on a busy machine: a master
// and a backup in network namespaces, 100 ms adverts, and the master's
// CPUs saturated by busy loops or its memory squeezed into reclaim, for
// vipd and keepalived, each without and with their protections (vipd's
// node.scheduling and node.lock_memory, read from the same keepalived.conf
// keywords keepalived takes: vrrp_rt_priority and vrrp_no_swap). It counts
// the backup's spurious takeovers and measures the spacing of the master's
// adverts as the backup receives them. bench/pressure/run.sh runs it and
// writes the table of docs/benchmarks.md.
//
// The memory stress is bounded: the master's processes and the hog run in
// a memory cgroup of their own (256 MiB by default) below this process's,
// so only they reclaim; the rest of the machine is not touched.
//
// Everything is in _test.go files: the package ships no code. It depends
// on internal/lab and internal/testbed for the namespaces and the daemons,
// and on election/vrrp only to decode adverts.
package pressure
