package sched

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/vipd/vipd/internal/clock"
	"golang.org/x/sys/unix"
)

// Threads holds the settings every thread of this process is to run
// under, and puts threads there.
type Threads struct {
	s    Settings
	attr unix.SchedAttr
	// taskDir lists the threads; a test points it at another process.
	taskDir string
	// threads counts the process's threads; nil: the runtime's metric. A
	// test replaces it.
	threads func() uint64
	kick    chan struct{} // Kick's word to Run
}

// NewThreads checks s and returns a Threads that applies it to this
// process.
func NewThreads(s Settings) (*Threads, error) {
	attr := unix.SchedAttr{Flags: unix.SCHED_FLAG_RESET_ON_FORK}
	switch s.Policy {
	case Other:
		if s.Nice < -20 || s.Nice > 19 {
			return nil, fmt.Errorf("sched: nice %d is out of range -20 to 19", s.Nice)
		}
		attr.Policy, attr.Nice = unix.SCHED_NORMAL, int32(s.Nice)
	case RR, FIFO:
		if s.Priority < 1 || s.Priority > 99 {
			return nil, fmt.Errorf("sched: real-time priority %d is out of range 1-99", s.Priority)
		}
		attr.Policy, attr.Priority = unix.SCHED_RR, uint32(s.Priority)
		if s.Policy == FIFO {
			attr.Policy = unix.SCHED_FIFO
		}
	default:
		return nil, fmt.Errorf("sched: unknown policy %v", s.Policy)
	}
	return &Threads{s: s, attr: attr, taskDir: "/proc/self/task", kick: make(chan struct{}, 1)}, nil
}

// Apply puts every thread that is not under the settings yet there, and
// returns how many it changed. A thread that exits meanwhile is skipped.
// It stops at the first failure, whose Error says what would allow it.
func (t *Threads) Apply() (int, error) {
	tids, err := t.list()
	if err != nil {
		return 0, err
	}
	changed := 0
	for _, tid := range tids {
		cur, err := unix.SchedGetAttr(tid, 0)
		if errors.Is(err, unix.ESRCH) {
			continue
		}
		if err == nil && t.holds(cur) {
			continue
		}
		attr := t.attr
		err = unix.SchedSetAttr(tid, &attr, 0)
		switch {
		case errors.Is(err, unix.ESRCH):
			continue
		case err != nil:
			return changed, &Error{What: fmt.Sprintf("set scheduling %v on thread %d", t.s, tid), Err: err, Hint: t.hint(err)}
		}
		changed++
	}
	return changed, nil
}

// holds reports whether a thread's attributes are already the settings.
func (t *Threads) holds(cur *unix.SchedAttr) bool {
	if cur.Policy != t.attr.Policy || cur.Flags&unix.SCHED_FLAG_RESET_ON_FORK == 0 {
		return false
	}
	if t.s.Policy == Other {
		return cur.Nice == t.attr.Nice
	}
	return cur.Priority == t.attr.Priority
}

// hint says what the process needs for the settings, for a permission error.
func (t *Threads) hint(err error) string {
	if !errors.Is(err, unix.EPERM) {
		return ""
	}
	if t.s.Policy == Other {
		return fmt.Sprintf("a negative nice value needs CAP_SYS_NICE or RLIMIT_NICE of at least %d (systemd: LimitNICE=%d)", 20-t.s.Nice, t.s.Nice)
	}
	return fmt.Sprintf("real-time scheduling needs CAP_SYS_NICE or RLIMIT_RTPRIO of at least %d (systemd: LimitRTPRIO=%d, and "+
		"RestrictRealtime=no); with real-time group scheduling, the cgroup also needs a cpu.rt_runtime_us budget", t.s.Priority, t.s.Priority)
}

// list returns the ids of the process's threads.
func (t *Threads) list() ([]int, error) {
	ents, err := os.ReadDir(t.taskDir)
	if err != nil {
		return nil, &Error{What: "list threads", Err: err}
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// MaxSweepGap is the longest Run waits between two looks at the
// process's threads once their number has stopped changing.
const MaxSweepGap = time.Minute

// steadyLooks is how many looks in a row must find no new thread before
// Run starts backing off: threads come in bursts a few seconds long (start-up,
// the first runs of the check scripts, a reload).
const steadyLooks = 10

// Run puts threads the Go runtime starts later under the settings (they
// begin under the normal policy: SCHED_RESET_ON_FORK) until ctx ends.
// Linux says nothing when a thread of one's own process starts and Go
// offers no hook, so Run looks: every period while threads come and for
// steadyLooks periods after the last one, then at gaps that double up to
// MaxSweepGap, and every period again as soon as the runtime's count of its
// threads (runtime/metrics, read without a system call) has grown, or Kick
// says threads may come. The runtime starts its threads at start-up and
// in bursts of work (a script's fork and wait, a slow file read) and keeps
// them; so a new thread joins within a period while threads come, and an
// agent whose threads are all there wakes for this once a minute, not
// once a period. /proc is read only when the count changed, or at
// MaxSweepGap in case a thread ended and another started in between.
// onErr, if set, gets each failure; a failure does not stop the sweeps.
func (t *Threads) Run(ctx context.Context, clk clock.Clock, period time.Duration, onErr func(error)) {
	maxGap := max(period, MaxSweepGap)
	gap := period
	steady := 0
	// The first look always reads /proc: threads may have started
	// between the caller's Apply and now.
	var seen uint64
	tm := clk.NewTimer(gap)
	defer tm.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
			// Threads may come: look every period again.
			steady, gap = 0, period
			tm.Stop()
			select { // a timer may hold an expiry Stop came too late for (clock.Timer)
			case <-tm.C():
			default:
			}
			tm.Reset(gap)
			continue
		case <-tm.C():
		}
		n := t.count()
		if n != seen || gap >= maxGap {
			if _, err := t.Apply(); err != nil && onErr != nil {
				onErr(err)
			}
		}
		switch {
		case n > seen:
			steady, gap = 0, period
		case steady < steadyLooks:
			steady++
		default:
			gap = min(2*gap, maxGap)
		}
		seen = n
		tm.Reset(gap)
	}
}

// Kick tells Run that threads may start soon (a reload, say): it looks
// every period again until they have stopped coming. It never blocks.
func (t *Threads) Kick() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// count returns the number of threads the Go runtime owns now.
func (t *Threads) count() uint64 {
	if t.threads != nil {
		return t.threads()
	}
	s := []metrics.Sample{{Name: threadsMetric}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// threadsMetric is the runtime's count of its live threads.
const threadsMetric = "/sched/threads/total:threads"
