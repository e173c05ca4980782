package checks

import (
	"slices"
	"strings"
	"sync"
)

// Changes gathers the updates of many Runners for one consumer without
// ever blocking a Runner: it keeps the latest Status of each check until
// the consumer takes it. Statuses published twice before a Take are
// coalesced, which loses nothing the priority code needs (it wants the
// current state; Status.Transitions still counts every change). Safe for
// concurrent use.
type Changes struct {
	mu      sync.Mutex
	pending map[string]Status
	ready   chan struct{}
}

// NewChanges returns an empty Changes.
func NewChanges() *Changes {
	return &Changes{pending: make(map[string]Status), ready: make(chan struct{}, 1)}
}

// Publish records s, replacing an untaken status of the same check, and
// signals Ready. It never blocks; use it as RunnerOptions.OnChange.
func (c *Changes) Publish(s Status) {
	c.mu.Lock()
	c.pending[s.Name] = s
	c.mu.Unlock()
	select {
	case c.ready <- struct{}{}:
	default: // a signal is already pending
	}
}

// Ready receives a value after statuses have been published; then call
// Take. One signal may stand for several statuses, and a signal may find
// nothing left to take.
func (c *Changes) Ready() <-chan struct{} { return c.ready }

// Take returns the statuses waiting, sorted by check name, and forgets
// them.
func (c *Changes) Take() []Status {
	c.mu.Lock()
	out := make([]Status, 0, len(c.pending))
	for _, s := range c.pending {
		out = append(out, s)
	}
	clear(c.pending)
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b Status) int { return strings.Compare(a.Name, b.Name) })
	return out
}
