package cloudmove

// One action brought to "points at this node": look, act, verify, with
// jittered retries within the retry budget.

import (
	"context"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// newBackoff returns the retry waits of one round or release: the Set's
// bounds, drawn from its seeded source.
func (s *Set) newBackoff() *clock.Backoff {
	return &clock.Backoff{Min: s.opts.BackoffMin, Max: s.opts.BackoffMax, Rand: s.rnd}
}

// backOff waits b's next wait on the Set's clock, or until ctx ends. The
// draw holds rndMu: every round and release of the Set draws from its one
// source.
func (s *Set) backOff(ctx context.Context, b *clock.Backoff) bool {
	s.rndMu.Lock()
	d := b.Next()
	s.rndMu.Unlock()
	return clock.Sleep(ctx, s.e.clock, d)
}

// stopDrained stops t and empties its channel, whether it fired (and was
// read), fired unread or is still running, so that a Reset starts a clean
// period: a fire left in the channel would end the next one at once.
func stopDrained(t clock.Timer) {
	if !t.Stop() {
		select {
		case <-t.C():
		default:
		}
	}
}

// converge brings one action to "points at this node": look (unless the
// last look, from the start-up look or the background refresh, already
// says it does not; with no successful look yet, the view is unknown and
// the round looks first), act, look again to verify. Retryable errors are retried with jittered
// backoff until the round ends; after the retry budget the action is
// reported failed (and on_failure applies) but keeps trying. An error
// that cannot succeed is reported at once and ends this attempt (the
// reconcile loop tries again later). After an ambiguous failure of a
// mutating call it looks before it acts again, so that nothing is
// applied twice. settle is called once the action is verified or failed.
func (s *Set) converge(ctx context.Context, r *runner, start time.Time, reconcile bool, settle func()) error {
	e := s.e
	b := s.newBackoff()
	budget := orDefault(s.cl.RetryBudget, DefaultRetryBudget)
	deadline := start.Add(budget)
	reported := false
	look := reconcile || r.a.cached() != notOurs || !r.a.resolved() || r.a.lookFirst()
	changed := false
	// unseen counts the looks since the last successful mutating call
	// that did not show its effect yet (EC2 is eventually consistent): a
	// few are waited out before acting again.
	unseen := -1
	var detail string

	// fail handles an error: false ends the attempt.
	fail := func(err error, what string) bool {
		if ctx.Err() != nil {
			return false
		}
		msg := describeError(err)
		if classify(err) == classPermanent {
			e.log.Error("cloud action failed", "action", r.a.name(), "during", what, "err", msg)
			s.markFailed(r, err, start)
			settle()
			return false
		}
		if !reported && !e.clock.Now().Before(deadline) {
			reported = true
			e.log.Error("cloud action still failing after its retry budget; retrying", "action", r.a.name(),
				"budget", budget, "err", msg)
			s.markFailed(r, err, start)
			settle()
		} else {
			e.log.Debug("cloud action retrying", "action", r.a.name(), "during", what, "err", msg)
			r.setError(e.clock.Now(), err, fromRound)
		}
		return s.backOff(ctx, b)
	}

	for ctx.Err() == nil {
		if !r.a.resolved() {
			if err := r.a.resolve(ctx, e); err != nil {
				if !fail(err, "resolve") {
					return err
				}
				continue
			}
		}
		if look {
			obs, d, err := r.a.observe(ctx, e)
			if err != nil {
				if !fail(err, "check") {
					return err
				}
				continue
			}
			detail = d
			switch obs {
			case ours:
				s.markDone(r, start, changed, detail, reconcile)
				settle()
				return nil
			case pending:
				r.setDetail(detail)
				if !fail(waitf("%s", detail), "wait") {
					return ctx.Err()
				}
				continue
			}
			if unseen >= 0 && unseen < maxUnseen {
				unseen++
				if !fail(waitf("applied, not visible yet: %s", detail), "verify") {
					return ctx.Err()
				}
				continue
			}
			if reconcile && !changed {
				e.log.Warn("cloud resource moved away while master: re-asserting", "action", r.a.name(), "state", detail)
			}
		}
		if !s.waitDeps(ctx, r, deadline) {
			return ctx.Err()
		}
		r.mu.Lock()
		r.st.Attempts++
		r.mu.Unlock()
		change := r.a.change()
		err := r.a.apply(ctx, e)
		look, unseen = true, -1
		if err != nil {
			if !fail(err, "act") {
				return err
			}
			continue
		}
		unseen = 0
		if change != "" {
			changed = true
			e.log.Info("cloud action applied", "action", r.a.name(), "change", change)
		}
	}
	return ctx.Err()
}

// maxUnseen is how many looks after a successful mutating call may miss
// its effect before the call is made again.
const maxUnseen = 3

// waitDeps waits for the actions r depends on to be verified in this
// round.
func (s *Set) waitDeps(ctx context.Context, r *runner, deadline time.Time) bool {
	for _, d := range r.deps {
		d.mu.Lock()
		ch := d.verified
		d.mu.Unlock()
		if ch == nil {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
	return true
}
