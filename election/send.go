package election

// Adverts out: encoding one per destination, and reporting a run of failed
// sends once.

import (
	"net/netip"
	"time"

	"github.com/vipd/vipd/election/vrrp"
)

func (i *Instance) sendAdvert(prio uint8) {
	adv := vrrp.Advert{
		Version:  i.cfg.Version,
		VRID:     i.cfg.VRID,
		Priority: prio,
		Interval: i.cfg.AdvertInterval,
		Addrs:    i.wireAddrs,
	}
	if i.cfg.Version == 2 && i.cfg.AuthPass != "" {
		adv.AuthType = vrrp.AuthPass
		adv.AuthData = i.auth
	}
	for _, dst := range i.dsts {
		var err error
		// The v3 checksum covers the pseudo-header, so each destination
		// needs its own encoding.
		i.buf, err = adv.AppendMarshal(i.buf[:0], i.src, dst)
		if err != nil {
			i.log.Error("cannot encode advert", "err", err)
			return
		}
		if err := i.send.WriteTo(i.buf, i.src, dst); err != nil {
			i.sendFailed(dst, err)
			continue
		}
		i.sent.Add(1)
		if i.sendFails != nil {
			i.sendWorks(dst)
		}
	}
}

// sendOutage is a run of failed sends to one destination.
type sendOutage struct {
	since  time.Time
	failed int
}

// sendFailed logs the first failure of an outage at warning and counts the
// rest: with a link down every advert fails alike, and saying so each
// interval would bury everything else in the log. i.mu is held.
func (i *Instance) sendFailed(dst netip.Addr, err error) {
	if o := i.sendFails[dst]; o != nil {
		o.failed++
		i.log.Debug("cannot send advert", "dst", dst, "err", err, "failed", o.failed)
		return
	}
	if i.sendFails == nil {
		i.sendFails = map[netip.Addr]*sendOutage{}
	}
	i.sendFails[dst] = &sendOutage{since: i.deps.Clock.Now(), failed: 1}
	i.log.Warn("cannot send advert (logged once until sending works again)", "dst", dst, "err", err)
}

// sendWorks ends dst's outage, if any, saying how long it was. i.mu is held.
func (i *Instance) sendWorks(dst netip.Addr) {
	o := i.sendFails[dst]
	if o == nil {
		return
	}
	delete(i.sendFails, dst)
	if len(i.sendFails) == 0 {
		i.sendFails = nil
	}
	i.log.Info("sending adverts works again", "dst", dst, "failed", o.failed,
		"for", i.deps.Clock.Now().Sub(o.since).Round(time.Millisecond))
}
