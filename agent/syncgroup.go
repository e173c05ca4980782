package agent

import (
	"fmt"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/election/fsm"
)

// Sync groups: keepalived's vrrp_sync_group, members that must be MASTER on
// the same node. tracking keeps each member's state (Transitioned) and
// whether it yields to a better master elsewhere (YieldingChanged) in the
// member's record, holds the others back meanwhile, moves them to MASTER
// with a member that becomes MASTER, and reports the group's own state.
// Everything here is called with tracking.mu held.

// heldBack reports whether another member of name's sync group yields to a
// better master elsewhere: then name must not be master here either
// (keepalived's sync groups move as one).
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
// otherwise (and STOP when all stopped).
func (t *tracking) groupState(g *config.SyncGroup) fsm.State {
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
			return fsm.Fault
		}
	}
	switch {
	case all(fsm.Master):
		return fsm.Master
	case all(fsm.Stopped):
		return fsm.Stopped
	}
	return fsm.Backup
}

// groupMoved works out g's state after a member's transition (g nil: the
// instance is in no group): state is the new one to notify, fsm.Init when
// it did not change; prev the one notified before (fsm.Init: none yet);
// master whether the whole group is MASTER now.
func (t *tracking) groupMoved(g *config.SyncGroup) (state, prev fsm.State, master bool) {
	if g == nil {
		return fsm.Init, fsm.Init, false
	}
	state = t.groupState(g)
	master = state == fsm.Master
	prev = t.groups[g.Name]
	if state == prev {
		return fsm.Init, prev, master
	}
	t.groups[g.Name] = state
	return state, prev, master
}

// memberMoved records a member's transition for the group: only a BACKUP
// yields, and a new MASTER asks the others to follow: each other member
// moves to MASTER at once (fsm.Machine.Follow) instead of waiting out a
// timer of its own, so that the group's addresses spend no more than the
// time of a netlink call or two on different nodes. Called from
// Transitioned.
func (t *tracking) memberMoved(name string, g *config.SyncGroup, to fsm.State) {
	if r := t.insts[name]; r != nil && to != fsm.Backup {
		// Said before the instance's own YieldingChanged arrives: apply
		// may run in between, and must not hold the others back then.
		r.yielding = false
	}
	if g == nil || to != fsm.Master {
		return
	}
	for _, m := range g.Instances {
		if r := t.insts[m]; r != nil && m != name {
			r.follow = fmt.Sprintf("sync group %s: %s became master", g.Name, name)
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
// from apply, after the holds were worked out.
func (t *tracking) takeFollows(running map[string]*running) []follow {
	var out []follow
	for name, rec := range t.insts {
		if rec.follow == "" {
			continue
		}
		if r, ok := running[name]; ok && !rec.held {
			out = append(out, follow{r.inst, rec.follow})
		}
		rec.follow = ""
	}
	return out
}
