package agent

import (
	"time"
)

// What wakes the agent's goroutine: events, not a ticker. Instances,
// check runners, order watchers, the cloud actions and the gossip cluster
// poke it (tracking.poke) when something changed; API calls, reloads and
// commands arrive on channels. Without gossip nothing else wakes it. With
// gossip, the cluster link also has due times of its own that no event
// announces, and its timer is set for the earliest of them after each
// round (nextWake): the split-brain guard's interval ending and a held
// instance's next ping, the moment an advert it counts as heard stops
// counting, require_join's timeout (and its settling after the join), and
// at the latest linkRecheck.

// linkRecheck is the longest the link goes without a round: a safety net
// for what changes without an event (the master address a backup
// follows, a check's output), published within it.
const linkRecheck = 5 * time.Second

// linkWake gathers, during a round (sync resets it), due times found
// along the way (hears).
type linkWake struct {
	next time.Time
}

// at notes a due time.
func (w *linkWake) at(t time.Time) {
	if w.next.IsZero() || t.Before(w.next) {
		w.next = t
	}
}

// nextWake returns when the link must run its next round if no event
// comes first, after a round that ended at now. It is never sooner than syncInterval after now. A due time already passed
// means the guard has a ping to start: a round after syncInterval,
// unless a ping is in flight (its answer wakes the agent).
func (l *clusterLink) nextWake(now time.Time, t *tracking, running map[string]*running) time.Time {
	next := now.Add(linkRecheck)
	soon := func(at time.Time) {
		if !at.IsZero() && at.Before(next) {
			next = at
		}
	}
	soon(l.wake.next)
	var guardDue []time.Time
	t.mu.Lock()
	for name, since := range l.guardSince {
		if r := running[name]; r != nil && t.guard[name] == "" {
			guardDue = append(guardDue, since.Add(guardInterval(r.cfg)))
		}
	}
	t.mu.Unlock()
	for _, at := range l.guardCheck {
		guardDue = append(guardDue, at)
	}
	inFlight := l.pinging()
	for _, at := range guardDue {
		if at.After(now) || !inFlight {
			soon(at)
		}
	}
	if w := l.join; w.done == "" && w.require {
		switch {
		case !w.joinedAt.IsZero():
			// Settling after the join: that the held instances heard a
			// master shows in no event, so look every syncInterval until
			// they have or the grace (a few adverts, once) has passed.
			soon(now.Add(syncInterval))
		case w.timeout > 0 && !w.started.IsZero():
			soon(w.started.Add(w.timeout))
		}
	}
	return later(next, now.Add(syncInterval))
}

// pinging reports whether a direct ping of the guard is under way.
func (l *clusterLink) pinging() bool {
	l.probeMu.Lock()
	defer l.probeMu.Unlock()
	for _, p := range l.probes {
		if !p.done {
			return true
		}
	}
	return false
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
