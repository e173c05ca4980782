// Package sched keeps the agent on time when the machine is busy: it puts
// every thread of the process under a real-time scheduling policy or a
// nice value (node.scheduling), and locks the process's memory
// (node.lock_memory), so that neither a CPU-bound service nor memory
// reclaim delays adverts long enough for a backup to take over.
//
// Why every thread: a Linux scheduling policy belongs to a thread, and a
// Go program's advert path is not one thread. Adverts are sent by
// whichever runtime thread runs the election's timer callback, the timer
// itself is a timerfd in the runtime's network poller, which any idle
// thread may be blocked in, and the garbage collector runs on all of them.
// Raising only one locked thread would leave the wake-up that feeds it at
// normal priority. So the policy is set on every thread of /proc/self/task,
// and Threads.Run sets it again on threads the runtime starts later.
//
// Why SCHED_RESET_ON_FORK, as keepalived does: child processes (check and
// notify scripts) start under the normal policy with nice 0, so a busy
// script never runs at real-time priority. The flag also applies to the
// runtime's own new threads (the kernel makes no difference between a new
// thread and a new process there), which is why Threads.Run looks for new
// ones. Neither Linux nor Go says when a thread starts, but the runtime
// counts its threads (runtime/metrics) and keeps those it started: Run
// reads that count, every second while it grows (start-up, the first
// scripts), then less and less often up to once a minute, and reads /proc
// only when the count changed (or once a minute), so an agent whose
// threads are all there costs one wake-up a minute for this.
//
// It imports internal/clock (Run's timer) and internal/exepages (the
// executable's mappings) and nothing else of vipd; config is translated by
// cmd/vipd.
package sched
