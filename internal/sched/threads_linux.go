package sched

import (
	"context"
	"errors"
	"fmt"
	"os"
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
	return &Threads{s: s, attr: attr, taskDir: "/proc/self/task"}, nil
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

// Run applies the settings again every period until ctx ends, so that
// threads the Go runtime starts later (they begin under the normal policy:
// SCHED_RESET_ON_FORK) join within a period. onErr, if set, gets each
// failure; a failure does not stop the sweeps.
func (t *Threads) Run(ctx context.Context, clk clock.Clock, period time.Duration, onErr func(error)) {
	tm := clk.NewTimer(period)
	defer tm.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tm.C():
		}
		if _, err := t.Apply(); err != nil && onErr != nil {
			onErr(err)
		}
		tm.Reset(period)
	}
}
