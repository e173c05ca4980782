package agent

import (
	"time"
)

// What wakes the agent's goroutine: events, not a ticker. Instances,
// check runners, order watchers, the cloud actions and the gossip cluster
// poke it (waker) when something changed; API calls, reloads and
// commands arrive on channels. Without gossip nothing else wakes it. With
// gossip, the cluster link also has due times of its own that no event
// announces, and after each round its alarm is set for the earliest of
// them (nextWake): the split-brain guard's interval ending and a held
// instance's next ping, the moment an advert it counts as heard stops
// counting, require_join's timeout (and its settling after the join), and
// at the latest linkRecheck. The alarm is one of the instances' Scheduler
// (a timerfd, not a Go timer, which would wake the runtime's monitor
// thread too), and the due times that may come a little early are given
// a window, so that they ride a wake-up the scheduler makes anyway for an
// advert or a master-down deadline.

// waker is the agent loop's doorbell: whatever changed something the loop
// must act on pokes it. A poke never blocks, and pokes that come while one
// is pending make one round.
type waker chan struct{}

func newWaker() waker { return make(waker, 1) }

// poke rings the doorbell.
func (w waker) poke() {
	select {
	case w <- struct{}{}:
	default:
	}
}

// linkRecheck is the longest the link goes without a round: a safety net
// for what changes without an event (the master address a backup
// follows, a check's output), published within it. The round may come
// from half of it on.
const linkRecheck = 5 * time.Second

// due is one time the link must look again, and from when it may.
type due struct {
	early, at time.Time
}

// linkWake gathers, during a round (sync resets it), due times found
// along the way (hears).
type linkWake struct {
	next due
}

// at notes a due time that may be served from early on.
func (w *linkWake) at(early, at time.Time) {
	if w.next.at.IsZero() || at.Before(w.next.at) {
		w.next = due{early, at}
	}
}

// nextWake returns the window of the link's next round if no event comes
// first, after a round that ended at now: from early on, when the
// scheduler wakes anyway, and at the latest at. Neither is sooner than
// syncInterval after now. A due time already passed means the guard has a
// ping to start: a round after syncInterval, unless a ping is in flight
// (its answer wakes the agent).
func (l *clusterLink) nextWake(now time.Time, t *tracking, running map[string]*running) (early, at time.Time) {
	next := due{now.Add(linkRecheck / 2), now.Add(linkRecheck)}
	soon := func(d due) {
		if !d.at.IsZero() && d.at.Before(next.at) {
			next = d
		}
	}
	exact := func(at time.Time) { soon(due{at, at}) }
	soon(l.wake.next)
	var guardDue []time.Time
	for name, since := range l.guardSince {
		if r := running[name]; r != nil && t.guarded(name) == "" {
			guardDue = append(guardDue, since.Add(guardInterval(r.cfg)))
		}
	}
	for _, at := range l.guardCheck {
		guardDue = append(guardDue, at)
	}
	inFlight := l.pinging()
	for _, at := range guardDue {
		if at.After(now) || !inFlight {
			exact(at)
		}
	}
	if w := l.join; w.done == "" && w.require {
		switch {
		case !w.joinedAt.IsZero():
			// Settling after the join: that the held instances heard a
			// master shows in no event, so look every syncInterval until
			// they have or the grace (a few adverts, once) has passed.
			exact(now.Add(syncInterval))
		case w.timeout > 0 && !w.started.IsZero():
			exact(w.started.Add(w.timeout))
		}
	}
	floor := now.Add(syncInterval)
	return later(next.early, floor), later(next.at, floor)
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
