package sched

import (
	"os"
	"runtime"
	"sync"
	"time"
)

// FewInstances is the most instances Procs runs on one P.
const FewInstances = 10

// Procs returns how many threads may run Go code at once (GOMAXPROCS) for
// a VRRP load of instances instances whose fastest advert interval is
// fastest: 1 for a small, slow load (at most FewInstances, none faster
// than once a second), else 0, for the runtime's default.
//
// Why one: an idle agent's cost is the Go runtime's per wake-up, and with
// a second P idle, every goroutine handed work (a check's re-read after its
// alarm, a slow action after a transition) wakes a second thread to look
// for more, which finds none and sleeps again: two context switches for
// nothing. With one P nothing is handed to another thread.
//
// Why only then: with one P a goroutine that computes (a reload's parsing,
// an API answer, gossip's encryption) holds up the advert path until the
// runtime preempts it, 10 ms at the most; nothing at 1 s adverts, whose
// master-down interval is 3.6 s, but a share of a fast interval's; and a
// hundred instances use the second P in a failover, when their
// transitions' actions run side by side.
func Procs(instances int, fastest time.Duration) int {
	if instances <= FewInstances && fastest >= time.Second {
		return 1
	}
	return 0
}

// SetProcs puts GOMAXPROCS at n, or back to the runtime's default (which
// follows the CPUs and the cgroup's quota) for 0, unless the GOMAXPROCS
// environment variable chose it. It returns the setting in force and
// whether it changed it.
func SetProcs(n int) (int, bool) {
	procsMu.Lock()
	defer procsMu.Unlock()
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0), false
	}
	before := runtime.GOMAXPROCS(0)
	switch {
	case n > 0 && n != before:
		runtime.GOMAXPROCS(n)
	case n <= 0 && custom:
		runtime.SetDefaultGOMAXPROCS()
	default:
		return before, false
	}
	custom = n > 0
	now := runtime.GOMAXPROCS(0)
	return now, now != before
}

var (
	procsMu sync.Mutex
	// custom records that SetProcs chose the setting, so that 0 goes back
	// to the default only then (the default's own automatic updates stop
	// once a value is set).
	custom bool
)
