package election

// A master's addresses: binding and releasing the VIPs, and announcing
// them (gratuitous ARP, unsolicited NA) on keepalived's schedule.

import (
	"context"
	"net/netip"
	"time"

	"github.com/vipd/vipd/election/vip"
	"github.com/vipd/vipd/internal/clock"
)

func (i *Instance) vips() []vip.VIP {
	out := make([]vip.VIP, 0, len(i.cfg.VIPs))
	for _, v := range i.cfg.VIPs {
		iface := v.Interface
		if iface == "" {
			iface = i.cfg.Interface
		}
		out = append(out, vip.VIP{Interface: iface, Prefix: v.Prefix, Label: v.Label})
	}
	return out
}

func (i *Instance) bindVIPs() {
	for _, v := range i.vips() {
		if err := i.deps.Addrs.Add(v); err != nil {
			i.log.Error("cannot bind VIP", "vip", v.Prefix, "interface", v.Interface, "err", err)
		}
	}
}

func (i *Instance) releaseVIPs() {
	for _, v := range i.vips() {
		if err := i.deps.Addrs.Remove(v); err != nil {
			i.log.Error("cannot release VIP", "vip", v.Prefix, "interface", v.Interface, "err", err)
		}
	}
}

// announce sends one round of gratuitous ARP / unsolicited NA for every VIP,
// grouped by interface.
func (i *Instance) announce() {
	byIface := map[string][]netip.Addr{}
	var order []string
	for _, v := range i.vips() {
		if _, ok := byIface[v.Interface]; !ok {
			order = append(order, v.Interface)
		}
		byIface[v.Interface] = append(byIface[v.Interface], v.Prefix.Addr())
	}
	for _, iface := range order {
		if err := i.deps.Announcer.Announce(iface, byIface[iface]); err != nil {
			i.log.Warn("cannot announce VIPs", "interface", iface, "err", err)
		}
	}
}

// startGARP runs keepalived's announcement schedule for one term as master:
// garp_master_repeat rounds now, as many again after garp_master_delay, then
// garp_master_refresh_repeat rounds every garp_master_refresh.
func (i *Instance) startGARP() {
	i.stopGARP()
	ctx, cancel := context.WithCancel(context.Background())
	i.garpStop = cancel
	g := i.cfg.GARP
	i.garpWG.Add(1)
	go func() {
		defer i.garpWG.Done()
		s := garpSchedule{clk: i.deps.Clock, announce: i.announce, gap: g.Interval}
		if !s.rounds(ctx, int(g.MasterRepeat)) {
			return
		}
		if g.MasterDelay > 0 {
			if !s.wait(ctx, g.MasterDelay) || !s.rounds(ctx, int(g.MasterRepeat)) {
				return
			}
		}
		for g.MasterRefresh > 0 {
			if !s.wait(ctx, g.MasterRefresh) || !s.rounds(ctx, int(g.MasterRefreshRepeat)) {
				return
			}
		}
	}()
}

func (i *Instance) stopGARP() {
	if i.garpStop != nil {
		i.garpStop()
		i.garpStop = nil
	}
	i.garpWG.Wait()
}

type garpSchedule struct {
	clk      clock.Clock
	announce func()
	gap      time.Duration
}

// rounds announces n times, gap apart; false if cancelled.
func (s garpSchedule) rounds(ctx context.Context, n int) bool {
	for k := 0; k < max(n, 1); k++ {
		if k > 0 && s.gap > 0 && !s.wait(ctx, s.gap) {
			return false
		}
		if ctx.Err() != nil {
			return false
		}
		s.announce()
	}
	return true
}

// wait waits d on the instance's clock; false if cancelled.
func (s garpSchedule) wait(ctx context.Context, d time.Duration) bool {
	return clock.Sleep(ctx, s.clk, d)
}
