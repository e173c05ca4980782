package cloudmove

// What an action reports: its status, where its last error came from (and
// so which success clears it), and the fault that on_failure: fault holds.

import (
	"errors"
	"sync"
	"time"
)

// Action states, as ActionStatus.State reports them.
const (
	StateIdle      = "idle"      // not master, nothing to do
	StatePending   = "pending"   // master, working on it
	StateDone      = "done"      // master, verified
	StateFailed    = "failed"    // master, failed (and retrying unless the error is permanent)
	StateReleasing = "releasing" // leaving master: giving the resource up
	StateReleased  = "released"  // given up (or nothing to give up)
)

// ActionStatus is the outcome of one action, for the API, logs and tests.
type ActionStatus struct {
	// Name identifies the action ("route 203.0.113.10/32 in rtb-...").
	Name string
	// Kind is the action's kind.
	Kind Kind
	// State is one of the State* constants.
	State string
	// Detail is what the cloud looked like at the last look.
	Detail string
	// Error is the action's last error. It is kept through a release
	// and a fault hold, until a later success: a verified master round;
	// for an error of a release, a release that succeeds; for a failed
	// look (start-up, refresh), the next good look.
	Error string
	// ErrorAt is when Error was last set; zero when Error is "".
	ErrorAt time.Time
	// Warnings are problems that do not stop the action (a source/dest
	// check left on).
	Warnings []string
	// Changed says the current round made a mutating call that succeeded.
	Changed bool
	// Attempts counts the mutating attempts of the current round.
	Attempts int
	// Took is the time from becoming master to verified (or failed).
	Took time.Duration
	// Since is when State last changed.
	Since time.Time
}

// runner holds one action and its status.
type runner struct {
	a    action
	deps []*runner

	mu       sync.Mutex
	st       ActionStatus
	errFrom  errSource     // what st.Error came from
	verified chan struct{} // closed when verified in the current round
}

func (r *runner) status() ActionStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.Warnings = r.a.warnings()
	return st
}

// errSource says what an action's last error came from, and so which
// success clears it.
type errSource int

const (
	// fromRound: a master round or reconcile (or a permission DryRun
	// denied): only a verified round clears it.
	fromRound errSource = iota
	// fromRelease: giving the resource up; a release that succeeds (or
	// a verified round) clears it.
	fromRelease
	// fromLook: resolving or looking at the resource (start-up, refresh);
	// a later successful look (or a verified round) clears it.
	fromLook
)

// setError records err as the action's last error (a wait for the
// resource is progress, not an error: it goes to Detail instead).
func (r *runner) setError(now time.Time, err error, from errSource) {
	var we *waitError
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.As(err, &we) {
		r.st.Detail = we.msg
		return
	}
	if from == fromLook && r.st.Error != "" && r.errFrom != fromLook {
		// A failed round or release stays the error to answer: a good
		// look later must not clear it.
		return
	}
	r.st.Error, r.st.ErrorAt, r.errFrom = describeError(err), now, from
}

// clearError forgets the last error after a success of kind from: a
// verified round clears any error, a release or a look only its own kind.
// Called with r.mu held.
func (r *runner) clearError(from errSource) {
	if r.st.Error != "" && (from == fromRound || r.errFrom == from) {
		r.st.Error, r.st.ErrorAt, r.errFrom = "", time.Time{}, fromRound
	}
}

func (r *runner) setDetail(d string) {
	r.mu.Lock()
	r.st.Detail = d
	r.mu.Unlock()
}

func (s *Set) markDone(r *runner, start time.Time, changed bool, detail string, reconcile bool) {
	now := s.e.clock.Now()
	r.mu.Lock()
	was := r.st.State
	r.st.State, r.st.Detail = StateDone, detail
	r.clearError(fromRound)
	if changed {
		r.st.Changed = true
	}
	if !reconcile || changed {
		r.st.Took = now.Sub(start)
	}
	if was != StateDone {
		r.st.Since = now
	}
	if r.verified != nil {
		select {
		case <-r.verified:
		default:
			close(r.verified)
		}
	}
	r.mu.Unlock()
	if !reconcile || changed {
		if !reconcile {
			s.e.log.Info("cloud action verified", "action", r.a.name(), "took", now.Sub(start), "changed", changed)
		}
		s.observe(r, false, now.Sub(start), nil)
	}
	s.clearFault()
	if was != StateDone {
		s.changed()
	}
}

func (s *Set) markFailed(r *runner, err error, start time.Time) {
	now := s.e.clock.Now()
	r.mu.Lock()
	r.st.State, r.st.Since, r.st.Took = StateFailed, now, now.Sub(start)
	r.st.Error, r.st.ErrorAt, r.errFrom = describeError(err), now, fromRound
	r.mu.Unlock()
	s.observe(r, false, now.Sub(start), err)
	if s.cl.OnFailure == Fault {
		s.mu.Lock()
		hold := s.cl.FaultHold
		s.faultUntil = now.Add(hold)
		if s.faultTimer != nil {
			s.faultTimer.Stop()
		}
		t := s.e.clock.NewTimer(hold)
		s.faultTimer = t
		s.mu.Unlock()
		s.e.log.Error("cloud action failed: FAULT", "action", r.a.name(), "hold", hold)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			select {
			case <-t.C():
				s.changed()
			case <-s.ctx.Done():
			}
		}()
	}
	s.changed()
}

// observe reports a settled action to Options.Metrics, labelled with its
// owner and operation (never its name, which carries resource ids).
func (s *Set) observe(r *runner, release bool, d time.Duration, err error) {
	if s.opts.Metrics == nil {
		return
	}
	op := Operation(r.a.kind(), release)
	if op == "" {
		// Only volumes are given up; other releases do nothing to time.
		return
	}
	s.opts.Metrics(s.owner.Kind+":"+s.owner.Name, op, d, err)
}

// clearFault ends a fault once no action of the round is failed.
func (s *Set) clearFault() {
	for _, r := range s.rs {
		r.mu.Lock()
		failed := r.st.State == StateFailed
		r.mu.Unlock()
		if failed {
			return
		}
	}
	s.mu.Lock()
	was := !s.faultUntil.IsZero()
	s.faultUntil = time.Time{}
	s.mu.Unlock()
	if was {
		s.changed()
	}
}
