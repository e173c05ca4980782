package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/sched"
)

// threadSweep is the shortest gap between two looks for threads the Go
// runtime started since (see internal/sched: they start under the normal
// policy, and sched.Threads.Run backs off to a minute while none come).
const threadSweep = time.Second

// busyGuard applies node.scheduling and node.lock_memory at start (see
// internal/sched) and remembers what it applied. A failure is logged as an
// error and the agent runs on without that protection, as keepalived does:
// refusing to start would leave the VIP with no agent at all.
type busyGuard struct {
	log     *slog.Logger
	applied config.Node    // the node settings applied at start
	locked  bool           // memory is locked: start-up pages stay mapped
	threads *sched.Threads // the settings' sweep, nil when none runs
	done    chan struct{}
}

// startBusyGuard applies the settings and, with a scheduling set, starts the
// sweep that keeps new threads under it until ctx ends; wait waits for it.
func startBusyGuard(ctx context.Context, log *slog.Logger, n config.Node) *busyGuard {
	g := &busyGuard{log: log, applied: n, done: make(chan struct{})}
	if n.LockMemory {
		if st, err := sched.LockMemory(); err != nil {
			log.Error("node.lock_memory not applied: memory may be swapped out or dropped under pressure", "err", err)
		} else {
			g.locked = true
			log.Info("memory locked (node.lock_memory)", "executable_kb", st.Executable>>10)
		}
	}
	if n.Scheduling.IsZero() {
		close(g.done)
		return g
	}
	th, err := sched.NewThreads(schedSettings(n.Scheduling))
	if err == nil {
		var changed int
		changed, err = th.Apply()
		if err == nil {
			log.Info("scheduling applied to every thread (node.scheduling)", "scheduling", n.Scheduling.String(), "threads", changed)
		}
	}
	if err != nil {
		log.Error("node.scheduling not applied: adverts run at normal priority", "scheduling", n.Scheduling.String(), "err", err)
		close(g.done)
		return g
	}
	g.threads = th
	go func() {
		defer close(g.done)
		last := ""
		th.Run(ctx, clock.Real(), threadSweep, func(err error) {
			if msg := err.Error(); msg != last { // once per distinct failure
				last = msg
				log.Error("node.scheduling: a new thread could not be put under it", "err", err)
			}
		})
	}()
	return g
}

// wait returns once the sweep has stopped (ctx ended).
func (g *busyGuard) wait() { <-g.done }

// reloaded warns when a reloaded configuration changes the settings: they
// are applied at start only. It also has the sweep look for new threads
// every second again, as the reload may start some.
func (g *busyGuard) reloaded(c *config.Config) {
	if g.threads != nil {
		g.threads.Kick() // a reload starts checks and scripts: threads may come
	}
	if c == nil {
		return
	}
	if n := c.Node; n.Scheduling != g.applied.Scheduling || n.LockMemory != g.applied.LockMemory {
		g.log.Warn("node.scheduling and node.lock_memory take effect at the next start; the running agent keeps those it started with",
			"scheduling", g.applied.Scheduling.String(), "lock_memory", g.applied.LockMemory)
	}
}

func schedSettings(s config.Scheduling) sched.Settings {
	switch s.Policy {
	case config.SchedRR:
		return sched.Settings{Policy: sched.RR, Priority: s.Priority}
	case config.SchedFIFO:
		return sched.Settings{Policy: sched.FIFO, Priority: s.Priority}
	}
	return sched.Settings{Policy: sched.Other, Nice: s.Nice}
}

// setProcs sets GOMAXPROCS for c's VRRP load (sched.Procs: one P for a few
// instances at 1 s or slower, which saves the runtime a second thread
// woken for nothing on every hand-over between goroutines; the runtime's
// default otherwise) and logs a change. The GOMAXPROCS environment
// variable, if set, wins. It runs at start and at each reload.
func setProcs(log *slog.Logger, c *config.Config) {
	fastest := time.Duration(1<<63 - 1) // no instance: idle, as slow as can be
	for _, ic := range c.Instances {
		fastest = min(fastest, ic.AdvertInterval)
	}
	if n, changed := sched.SetProcs(sched.Procs(len(c.Instances), fastest)); changed {
		log.Info("GOMAXPROCS set for the VRRP load", "gomaxprocs", n, "instances", len(c.Instances))
	}
}
