package election

// Commands from the agent (checks, orders, sync groups, gossip, the API):
// each runs under the instance's lock and applies before it returns.

import (
	"net/netip"
	"time"

	"github.com/vipd/vipd/election/fsm"
)

// SetPriority changes the effective priority. Like every command it waits
// for Run to have started the instance and returns once it has been
// applied (so one caller's commands apply in the order given); after the
// instance stopped it does nothing.
func (i *Instance) SetPriority(p uint8) {
	i.do(func(now time.Time) []fsm.Action { return i.m.SetPriority(p, now) })
}

// Apply sets the effective priority and fault state together, as computed
// from the instance's checks and order. Entering FAULT goes first so a failing
// master resigns with priority 0 rather than first advertising the lower
// priority; leaving it goes first so the new priority sets the backup's
// master-down timer.
func (i *Instance) Apply(prio uint8, fault bool, reason string) {
	i.do(func(now time.Time) []fsm.Action {
		// The machine's action slices are only valid until its next call:
		// copy the first before making the second.
		acts := append([]fsm.Action(nil), i.m.SetFault(fault, reason, now)...)
		return append(acts, i.m.SetPriority(prio, now)...)
	})
}

// Hold keeps the instance from being or becoming MASTER: while another
// member of its sync group yields to a better master elsewhere, or while
// the node is in maintenance (see fsm.Machine.SetHold). A MASTER resigns
// with a priority-0 advert, so that its best backup takes over at once.
func (i *Instance) Hold(hold bool, reason string) {
	i.do(func(now time.Time) []fsm.Action { return i.m.SetHold(hold, reason, now) })
}

// HoldQuietly is Hold without the priority-0 advert: for the split-brain
// guard, which holds an instance because gossip shows a better master
// whose adverts do not arrive. That master is already MASTER; a
// resignation would only make a backup on this side of the cut take over
// after its skew time (to be held in turn), and a backup that hears both
// masters start a takeover it must then abandon. The backups here go on
// waiting for their master-down interval instead.
func (i *Instance) HoldQuietly(hold bool, reason string) {
	i.do(func(now time.Time) []fsm.Action {
		var out []fsm.Action
		for _, a := range i.m.SetHold(hold, reason, now) {
			if s, ok := a.(fsm.SendAdvert); ok && s.Priority == fsm.PriorityStop {
				continue
			}
			out = append(out, a)
		}
		return out
	})
}

// Follow makes a BACKUP MASTER now because another member of its sync
// group became MASTER (see fsm.Machine.Follow); a no-op while it is held or
// yields to a live master, and in any other state.
func (i *Instance) Follow(reason string) {
	i.do(func(now time.Time) []fsm.Action { return i.m.Follow(reason, now) })
}

// SetPeers replaces the unicast peers (static ones plus those gossip
// found): adverts go to them, and only they are accepted. An instance that
// started multicast stays multicast.
func (i *Instance) SetPeers(peers []netip.Addr) {
	i.do(func(time.Time) []fsm.Action {
		if !i.unicast {
			return nil
		}
		old := i.peers
		i.peers = make(map[netip.Addr]bool, len(peers))
		i.dsts = i.dsts[:0]
		added := false
		for _, p := range peers {
			if p != i.src && !i.peers[p] {
				i.dsts = append(i.dsts, p)
				i.peers[p] = true
				added = added || !old[p]
			}
		}
		for dst := range i.sendFails {
			if !i.peers[dst] {
				delete(i.sendFails, dst) // a peer gone: its outage ends unreported
			}
		}
		view := i.peers
		i.peerView.Store(&view)
		// A master tells a new peer at once: the peer may itself have
		// become master while it was not in our list (our adverts did not
		// reach it, its adverts were refused as "not a peer"), and waiting
		// for the next advert interval would leave two masters that long.
		if added && i.m.State() == fsm.Master {
			return []fsm.Action{fsm.SendAdvert{Priority: i.m.Priority()}}
		}
		return nil
	})
}

// hasPeer reports whether src is one of the unicast peers; safe from any
// goroutine (the demux asks it to route a shared VRID).
func (i *Instance) hasPeer(src netip.Addr) bool {
	m := i.peerView.Load()
	return m != nil && (*m)[src]
}

// Peers returns the current unicast peers, for status.
func (i *Instance) Peers() []netip.Addr {
	var p []netip.Addr
	i.do(func(time.Time) []fsm.Action {
		p = append([]netip.Addr(nil), i.dsts...)
		return nil
	})
	return p
}

// Reannounce re-runs a master's announcements now (gratuitous ARP /
// unsolicited NA), when gossip shows another node acted as master for this
// instance; a no-op unless MASTER.
func (i *Instance) Reannounce(from netip.Addr) {
	i.do(func(time.Time) []fsm.Action {
		if i.m.State() == fsm.Master {
			i.log.Info("another node acted as master: re-asserting", "from", from)
			i.announce()
			if o := i.deps.Observer; o != nil {
				o.Reasserted(i, from, 0)
			}
		}
		return nil
	})
}

// SetFastTakeover turns fast takeover (Deps.FastTakeover) on or off from
// the next advert or priority change on: a reload that changes
// vrrp.fast_takeover reaches running instances without restarting them.
func (i *Instance) SetFastTakeover(on bool) {
	i.do(func(time.Time) []fsm.Action { i.m.SetFastTakeover(on); return nil })
}

// FastTakeover reports whether fast takeover is on; false once the
// instance has stopped.
func (i *Instance) FastTakeover() bool {
	on := false
	i.do(func(time.Time) []fsm.Action { on = i.m.FastTakeover(); return nil })
	return on
}

// SetFault puts the instance into FAULT (true) or takes it out (false).
func (i *Instance) SetFault(fault bool, reason string) {
	i.do(func(now time.Time) []fsm.Action { return i.m.SetFault(fault, reason, now) })
}

func (i *Instance) do(f func(time.Time) []fsm.Action) {
	select {
	case <-i.started:
	case <-i.done:
		return
	}
	i.mu.Lock()
	if i.stopped {
		i.mu.Unlock()
		return
	}
	i.now = i.deps.Clock.Now()
	i.finish(f(i.now), true)
}
