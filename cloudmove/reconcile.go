package cloudmove

// The master round: every action converged at once, then re-checked every
// reconcile interval or on Reassert while master.

import (
	"context"
	"sync"
	"time"
)

// masterRound runs each action to verified, then re-checks it every
// reconcile interval or on Reassert, until the round ends.
func (s *Set) masterRound(ctx context.Context, start time.Time, settled chan struct{}) {
	var left sync.WaitGroup
	left.Add(len(s.rs))
	var wg sync.WaitGroup
	for _, r := range s.rs {
		wg.Go(func() {
			var once sync.Once
			settle := func() { once.Do(left.Done) }
			defer settle()
			// Taken before converging: a Reassert meanwhile closes it, so
			// the re-check it asks for is not lost.
			kick := s.currentKick()
			if s.converge(ctx, r, start, false, settle) != nil && ctx.Err() != nil {
				return
			}
			settle()
			s.reconcileLoop(ctx, r, kick)
		})
	}
	go func() {
		left.Wait()
		close(settled)
	}()
	wg.Wait()
}

func (s *Set) reconcileLoop(ctx context.Context, r *runner, kick chan struct{}) {
	every := orDefault(s.cl.ReconcileInterval, DefaultReconcileInterval)
	t := s.e.clock.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-kick:
		}
		kick = s.currentKick() // before converging, as in masterRound
		start := s.e.clock.Now()
		if err := s.converge(ctx, r, start, true, func() {}); err != nil && ctx.Err() != nil {
			return
		}
		stopDrained(t)
		t.Reset(every)
	}
}
