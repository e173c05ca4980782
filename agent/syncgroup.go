package agent

import (
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
	if t.maint {
		t.held[name] = true
	}
	return t.maint
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
		if m != name && t.yields[m] {
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
			if t.members[m] != s {
				return false
			}
		}
		return true
	}
	for _, m := range g.Instances {
		if t.members[m] == fsm.Fault {
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
	t.yields[inst.Name()] = yielding
	t.mu.Unlock()
	t.poke()
}
