package agent

import (
	"time"

	"github.com/vipd/vipd/config"
)

// require_join: a node that cannot join its gossip cluster (a mistyped
// key, another cluster name, a firewall) finds no peer, hears no advert
// and, left to VRRP alone, becomes MASTER by itself: a second holder of
// the address. With gossip.require_join, every instance with `peers:
// gossip` is held in BACKUP until another member has been alive in this
// node's view (gossip.Cluster.Joined), or until gossip.require_join_timeout
// has passed; turning require_join off by a reload releases at once.

// Reasons of the hold, as `vipd status` shows them.
const (
	joinWaitReason   = "waiting to join the gossip cluster (require_join)"
	joinSettleReason = "joined the gossip cluster; waiting a master-down interval for the master's adverts (require_join)"
)

// joinWait is require_join's settings and progress, owned by the agent's
// goroutine.
type joinWait struct {
	require bool
	timeout time.Duration
	started time.Time // agent clock; zero until the cluster starts
	// joinedAt is when the join was first seen. The hold lasts until every
	// held instance has heard a master, or for grace after the join:
	// released earlier, a backup that has no peers yet
	// (their states follow the join) would wait only its skew time (the
	// master-down interval ran out while it was held) and become a second
	// master before the master's adverts could reach it.
	joinedAt time.Time
	heard    bool          // every held instance knows a master (observe)
	grace    time.Duration // 3 of their longest advert intervals (observe)
	done     string        // why the hold ended for good, once it has
}

func newJoinWait(g *config.Gossip) joinWait {
	return joinWait{require: g.RequireJoin, timeout: g.RequireJoinTimeout}
}

// observe notes whether every instance with `peers: gossip` knows a master
// now, and the grace: three of their longest advert intervals. That is a
// master-down interval without the skew time, which each instance adds by
// itself when released without a master known (fsm.Machine.SetHold), so
// that every instance waits its own master-down interval from the join
// and the best priority still takes over first.
func (w *joinWait) observe(running map[string]*running) {
	w.heard, w.grace = true, 0
	for _, r := range running {
		if !r.cfg.PeersFromGossip {
			continue
		}
		w.grace = max(w.grace, 3*r.cfg.AdvertInterval)
		w.heard = w.heard && r.inst.Master().IsValid()
	}
}

// reason is the hold's reason now, "" when nothing is held.
func (w *joinWait) reason(now time.Time, joined bool) string {
	if w.done != "" {
		return ""
	}
	if joined && w.joinedAt.IsZero() {
		w.joinedAt = now
	}
	switch {
	case !w.require:
		if joined {
			w.done = "joined the gossip cluster"
		}
		return ""
	case !w.joinedAt.IsZero():
		if w.heard || now.Sub(w.joinedAt) >= w.grace {
			w.done = "joined the gossip cluster"
			return ""
		}
		return joinSettleReason
	case w.timeout > 0 && !w.started.IsZero() && now.Sub(w.started) >= w.timeout:
		w.done = "require_join_timeout passed without a join"
		return ""
	}
	return joinWaitReason
}

// syncJoinWait tells tracking whether require_join holds the instances
// with `peers: gossip`, and logs each change.
func (l *clusterLink) syncJoinWait(now time.Time, t *tracking) {
	if l.join.started.IsZero() {
		l.join.started = now
	}
	r := l.join.reason(now, l.c.Joined())
	prev := t.setJoinWait(r)
	switch {
	case r == prev:
		return
	case r == joinSettleReason:
		l.log.Info("require_join: joined the gossip cluster; holding until the master's adverts are heard", "at_most", l.join.grace)
	case r != "":
		l.log.Warn("require_join: holding every instance with peers: gossip in BACKUP until this node joins its gossip cluster; "+
			"if it cannot (keys or cluster_name differ, a firewall), check the gossip errors above; "+
			"for a genuine one-node start set gossip.require_join: false and reload, or set gossip.require_join_timeout",
			"timeout", l.join.timeout)
	case l.join.done != "":
		l.log.Info("require_join: hold released: "+l.join.done, "after", now.Sub(l.join.started).Round(time.Millisecond))
	default:
		l.log.Info("require_join: hold released: require_join turned off")
	}
	t.poke()
}

// joinHeld reports whether require_join holds instance name. Called with
// t.mu held.
func (t *tracking) joinHeld(name string) bool {
	if t.wait == "" {
		return false
	}
	ic := t.instance(name)
	return ic != nil && ic.PeersFromGossip
}
