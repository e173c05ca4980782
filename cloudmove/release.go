package cloudmove

// Leaving MASTER: each action gives up what must be given up (an EBS
// volume), in parallel, within its retry budget.

import (
	"context"
	"errors"
	"sync"
)

// releaseAll gives up every action's resource, in parallel, each with its
// retry budget.
func (s *Set) releaseAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, r := range s.rs {
		wg.Go(func() { s.releaseOne(ctx, r) })
	}
	wg.Wait()
}

func (s *Set) releaseOne(ctx context.Context, r *runner) {
	e := s.e
	start := e.clock.Now()
	r.mu.Lock()
	r.st.State, r.st.Since = StateReleasing, start
	r.mu.Unlock()
	b := s.newBackoff()
	deadline := start.Add(e.budget)
	for ctx.Err() == nil {
		err := r.a.release(ctx, e)
		if err == nil {
			now := e.clock.Now()
			r.mu.Lock()
			r.st.State, r.st.Since = StateReleased, now
			r.clearError(fromRelease)
			r.mu.Unlock()
			s.observe(r, true, now.Sub(start), nil)
			s.changed()
			return
		}
		if ctx.Err() != nil {
			return // superseded (master again) or closed: not an error of the action
		}
		var we *waitError
		if !errors.As(err, &we) {
			e.log.Warn("cloud release retrying", "action", r.a.name(), "err", describeError(err))
		}
		if classify(err) == classPermanent || !e.clock.Now().Before(deadline) {
			e.log.Error("cloud release failed", "action", r.a.name(), "err", describeError(err))
			now := e.clock.Now()
			r.mu.Lock()
			r.st.State, r.st.Since = StateFailed, now
			r.st.Error, r.st.ErrorAt, r.errFrom = describeError(err), now, fromRelease
			r.mu.Unlock()
			s.observe(r, true, now.Sub(start), err)
			s.changed()
			return
		}
		r.setError(e.clock.Now(), err, fromRelease)
		if !s.backOff(ctx, b) {
			return
		}
	}
}
