package agent

import (
	"fmt"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/election/fsm"
)

// Sync groups: keepalived's vrrp_sync_group, members that must be MASTER on
// the same node. tracking keeps each member's state (Transitioned) and
// whether it yields to a better master elsewhere (YieldingChanged), holds
// the others back meanwhile, and reports the group's own state.

// startHeld reports whether a new instance must start held (the node is in
// maintenance), and records it as told.
func (t *tracking) startHeld(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	held := t.maint || t.joinHeld(name)
	if held {
		t.rec(name).held = true
	}
	return held
}

// heldBack reports whether another member of name's sync group yields to a
// better master elsewhere: then name must not be master here either
// (keepalived's sync groups move as one). Called with t.mu held.
func (t *tracking) heldBack(name string) bool {
	g := t.cfg.SyncGroupOf(name)
	if g == nil {
		return false
	}
	for _, m := range g.Instances {
		if m != name && t.peek(m).yielding {
			return true
		}
	}
	return false
}

// groupState is MASTER when every member is, FAULT when any is, BACKUP
// otherwise (and STOP when all stopped). Called with t.mu held.
func (t *tracking) groupState(g *config.SyncGroup) string {
	all := func(s fsm.State) bool {
		for _, m := range g.Instances {
			if t.peek(m).state != s {
				return false
			}
		}
		return true
	}
	for _, m := range g.Instances {
		if t.peek(m).state == fsm.Fault {
			return fsm.Fault.String()
		}
	}
	switch {
	case all(fsm.Master):
		return fsm.Master.String()
	case all(fsm.Stopped):
		return fsm.Stopped.String()
	}
	return fsm.Backup.String()
}

// YieldingChanged runs on the instance's goroutine: record and wake.
func (t *tracking) YieldingChanged(inst *election.Instance, yielding bool) {
	t.mu.Lock()
	t.rec(inst.Name()).yielding = yielding
	t.mu.Unlock()
	t.poke()
}

// groupFollows is what a member's move to MASTER asks of the rest of its
// group: each other member follows at once (fsm.Machine.Follow) instead of
// waiting out a timer of its own, so that the group's addresses spend no
// more than the time of a netlink call or two on different nodes. The zero
// value is ready; guarded by tracking.mu.
type groupFollows struct {
	pending map[string]string // member to move → reason
}

// memberMoved records a member's transition for the group: only a BACKUP
// yields, and a new MASTER asks the others to follow. Called from
// Transitioned with t.mu held.
func (t *tracking) memberMoved(name string, g *config.SyncGroup, to fsm.State) {
	if to != fsm.Backup {
		// Said before the instance's own YieldingChanged arrives: apply
		// may run in between, and must not hold the others back then.
		t.rec(name).yielding = false
	}
	if g == nil || to != fsm.Master {
		return
	}
	if t.follows.pending == nil {
		t.follows.pending = map[string]string{}
	}
	for _, m := range g.Instances {
		if m != name {
			t.follows.pending[m] = fmt.Sprintf("sync group %s: %s became master", g.Name, name)
		}
	}
}

// follow is one member to move to MASTER with its group.
type follow struct {
	inst   *election.Instance
	reason string
}

// takeFollows returns the pending follows of running members that are not
// held (a held one waits for its release), and forgets them all. Called
// from apply with t.mu held, after the holds were worked out.
func (t *tracking) takeFollows(running map[string]*running) []follow {
	var out []follow
	for name, reason := range t.follows.pending {
		if r, ok := running[name]; ok && !t.peek(name).held {
			out = append(out, follow{r.inst, reason})
		}
		delete(t.follows.pending, name)
	}
	return out
}
