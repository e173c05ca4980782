package election

// Adverts in: handing them to the instance (from the demux or a queue),
// the checks that need the instance's config, and who was heard when.

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
)

type received struct {
	adv      vrrp.Advert
	src, dst netip.Addr
	hopLimit int
}

// Deliver hands a decoded advert to the instance's goroutine. It never
// blocks and may be called with another instance's lock held (an
// in-memory segment that delivers from within a send): when the instance
// is too far behind the advert is dropped and counted, as a kernel socket
// buffer would.
func (i *Instance) Deliver(adv vrrp.Advert, src, dst netip.Addr, hopLimit int) {
	i.queued.Add(1)
	select {
	case i.in <- &received{adv: adv, src: src, dst: dst, hopLimit: hopLimit}:
	default:
		i.queued.Add(-1)
		i.drop(vrrp.DropQueueFull, src, "instance input queue full")
	}
}

// deliverNow handles an advert on the caller's goroutine, the demux's: one
// wake-up per advert instead of two. The demux serves every instance on
// its socket, so it never waits for one: before Start, behind adverts
// already queued, or while the instance is busy (a slow action under way,
// see finish), the advert is queued for Run's goroutine as Deliver does.
func (i *Instance) deliverNow(adv vrrp.Advert, src, dst netip.Addr, hopLimit int) {
	select {
	case <-i.started:
	default:
		i.Deliver(adv, src, dst, hopLimit)
		return
	}
	if i.queued.Load() > 0 || !i.mu.TryLock() {
		i.Deliver(adv, src, dst, hopLimit)
		return
	}
	if i.stopped {
		i.mu.Unlock()
		return
	}
	i.finish(i.receive(received{adv: adv, src: src, dst: dst, hopLimit: hopLimit}), false)
}

// receive applies the checks that need the instance's config, then hands a
// valid advert to the state machine.
func (i *Instance) receive(r received) []fsm.Action {
	a := r.adv
	switch {
	case r.src == i.src:
		i.drop(vrrp.DropOwnPacket, r.src, "advert from our own address")
		return nil
	case a.Version != i.cfg.Version:
		i.drop(vrrp.DropBadVersion, r.src, fmt.Sprintf("version %d, instance runs version %d", a.Version, i.cfg.Version))
		return nil
	case r.hopLimit != 255 && (r.dst.IsMulticast() || !i.unicast):
		// RFC 3768 §7.1, RFC 5798 §7.1: an advert that crossed a router is
		// forged or misrouted. A multicast instance talks on one link only,
		// so this holds for every advert it takes, even one sent to its
		// unicast address; unicast instances may cross routers on purpose
		// (as keepalived's unicast_peer does).
		i.drop(vrrp.DropBadTTL, r.src, fmt.Sprintf("advert to %v with hop limit %d", r.dst, r.hopLimit))
		return nil
	case i.unicast && !i.peers[r.src]:
		i.drop(vrrp.DropNotAPeer, r.src, "source is not a configured unicast peer")
		return nil
	}
	if a.Version == 2 {
		want := vrrp.AuthNone
		if i.cfg.AuthPass != "" {
			want = vrrp.AuthPass
		}
		if a.AuthType != want || (want == vrrp.AuthPass && a.AuthData != i.auth) {
			i.drop(vrrp.DropAuthMismatch, r.src, "authentication does not match")
			return nil
		}
		// RFC 3768 §7.1: v2 routers must agree on the interval; v3 backups
		// adopt the master's instead.
		if a.Interval != i.cfg.AdvertInterval {
			i.drop(vrrp.DropIntervalMismatch, r.src, fmt.Sprintf("advert interval %v, configured %v", a.Interval, i.cfg.AdvertInterval))
			return nil
		}
	}
	i.rcvd.Add(1)
	now := i.deps.Clock.Now()
	i.now = now
	i.noteHeard(r.src.Unmap(), now)
	return i.m.Receive(fsm.Advert{Priority: a.Priority, Interval: a.Interval, Src: r.src}, now)
}

// maxHeard bounds the sources LastHeard remembers: a segment has a few
// routers per VRID, and forged sources must not grow the map.
const maxHeard = 16

// noteHeard records an accepted advert from src; i.mu is held. Updating a
// known source does not allocate.
func (i *Instance) noteHeard(src netip.Addr, now time.Time) {
	if _, ok := i.heard[src]; !ok && len(i.heard) >= maxHeard {
		var oldest netip.Addr
		for a, at := range i.heard {
			if !oldest.IsValid() || at.Before(i.heard[oldest]) {
				oldest = a
			}
		}
		delete(i.heard, oldest)
	}
	i.heard[src] = now
}

// LastHeard returns when an advert from src last passed the instance's
// checks (the zero time if never, as far as it remembers), whatever the
// state machine made of it: the split-brain guard tells a master whose
// adverts do not reach this node from one it hears.
func (i *Instance) LastHeard(src netip.Addr) time.Time {
	var at time.Time
	i.do(func(time.Time) []fsm.Action {
		at = i.heard[src.Unmap()]
		return nil
	})
	return at
}

func (i *Instance) drop(reason vrrp.DropReason, src netip.Addr, detail string) {
	if i.deps.Drops != nil {
		i.deps.Drops.Add(reason)
	}
	i.log.Debug("advert dropped", "reason", reason.String(), "src", src, "detail", detail)
}
