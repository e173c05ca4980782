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

// joinWaitReason is the hold's reason, as `vipd status` shows it.
const joinWaitReason = "waiting to join the gossip cluster (require_join)"

// joinWait is require_join's settings and progress, owned by the agent's
// goroutine.
type joinWait struct {
	require bool
	timeout time.Duration
	started time.Time // agent clock; zero until the cluster starts
	done    string    // why the hold ended for good, once it has
}

func newJoinWait(g *config.Gossip) joinWait {
	return joinWait{require: g.RequireJoin, timeout: g.RequireJoinTimeout}
}

// reason is the hold's reason now, "" when nothing is held.
func (w *joinWait) reason(now time.Time, joined bool) string {
	switch {
	case w.done != "":
		return ""
	case joined:
		w.done = "joined the gossip cluster"
	case !w.require:
		return ""
	case w.timeout > 0 && !w.started.IsZero() && now.Sub(w.started) >= w.timeout:
		w.done = "require_join_timeout passed without a join"
	default:
		return joinWaitReason
	}
	return ""
}

// syncJoinWait tells tracking whether require_join holds the instances
// with `peers: gossip`, and logs each change.
func (l *clusterLink) syncJoinWait(now time.Time, t *tracking) {
	if l.join.started.IsZero() {
		l.join.started = now
	}
	r := l.join.reason(now, l.c.Joined())
	t.mu.Lock()
	prev := t.wait
	t.wait = r
	t.mu.Unlock()
	switch {
	case r == prev:
		return
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
