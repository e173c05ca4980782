package cloudmove

// The background view: ids and resources looked at again every refresh
// interval, on entering BACKUP, and while following another node's master
// round (PeerMaster), so that a failover makes only the mutating calls.

import (
	"context"
	"sync"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// refresher re-resolves ids and re-reads the resources' state in the
// background every refresh interval, so that a failover needs nothing but
// the mutating calls.
func (s *Set) refresher() {
	defer s.wg.Done()
	every := orDefault(s.cl.RefreshInterval, DefaultRefreshInterval)
	t := s.e.clock.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C():
		case <-s.refreshKick:
			stopDrained(t)
		}
		s.refresh(s.ctx)
		t.Reset(every)
	}
}

// followPoll is how soon a backup looks again while following another
// node's master round (PeerMaster); the wait doubles after each look, up
// to followPollMax, so that a master that never gets there (a permission
// it lacks) does not cost a describe storm.
const (
	followPoll    = 500 * time.Millisecond
	followPollMax = 8 * time.Second
)

// PeerMaster tells a backup that another node became master of this
// owner (the agent calls it when gossip says so): the backup refreshes its
// view now, and keeps looking (500 ms later, then less and less often,
// within the retry budget) until that master's resources are in place, so
// that the next failover
// acts on what the master made (ReplaceRoute) rather than on the view
// from before it (CreateRoute, refused). A master ignores it.
func (s *Set) PeerMaster() {
	s.mu.Lock()
	if s.ctx.Err() != nil || s.role == roleMaster || s.role == roleStopped || s.following {
		s.mu.Unlock()
		return
	}
	s.following = true
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			s.following = false
			s.mu.Unlock()
		}()
		deadline := s.e.clock.Now().Add(s.e.budget)
		wait := followPoll
		for {
			s.mu.Lock()
			master := s.role == roleMaster
			s.mu.Unlock()
			if master {
				return
			}
			s.refresh(s.ctx)
			if s.settledElsewhere() || !s.e.clock.Now().Before(deadline) {
				return
			}
			if !clock.Sleep(s.ctx, s.e.clock, wait) {
				return
			}
			wait = min(2*wait, followPollMax)
		}
	}()
}

// settledElsewhere reports whether every action whose view can go stale
// saw its resource in place at the last look.
func (s *Set) settledElsewhere() bool {
	for _, r := range s.rs {
		if f, ok := r.a.(follower); ok && !f.settledElsewhere() {
			return false
		}
	}
	return true
}

// refreshSoon asks the refresher for a refresh now (at most one queued).
func (s *Set) refreshSoon() {
	select {
	case s.refreshKick <- struct{}{}:
	default:
	}
}

func (s *Set) refresh(ctx context.Context) {
	if s.e.imds != nil {
		if id, err := discoverIdentity(ctx, s.e.imds); err == nil {
			s.e.id.Store(id)
		} else {
			s.e.log.Warn("instance metadata refresh failed; keeping the last identity", "err", err)
		}
	}
	s.mu.Lock()
	master := s.role == roleMaster
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range s.rs {
		wg.Go(func() {
			err := r.a.resolve(ctx, s.e)
			if err == nil && !master {
				// While master the reconcile loop looks; otherwise keep
				// the cache fresh for the next failover.
				_, d, oerr := r.a.observe(ctx, s.e)
				if oerr == nil {
					r.mu.Lock()
					r.st.Detail = d
					r.clearError(fromLook)
					r.mu.Unlock()
				}
				err = oerr
			}
			if err != nil && ctx.Err() == nil {
				s.e.log.Warn("cloud refresh failed", "action", r.a.name(), "err", describeError(err))
				if !master {
					r.setError(s.e.clock.Now(), err, fromLook)
				}
			}
		})
	}
	wg.Wait()
}
