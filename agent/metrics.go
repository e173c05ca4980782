package agent

import (
	"context"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/metrics"
)

// scrapeTimeout bounds how long a scrape waits for the agent's goroutine.
const scrapeTimeout = 2 * time.Second

// snapshot is the metrics source: the same consistent view as Status,
// plus the gossip membership counts.
func (a *Agent) snapshot() metrics.Snapshot {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var st Status
	if err := a.onLoop(ctx, func() { st = a.nodeStatus() }); err != nil {
		return metrics.Snapshot{}
	}
	s := metrics.Snapshot{Maintenance: st.Maintenance, Drops: map[string]uint64{}}
	for _, in := range st.Instances {
		s.Instances = append(s.Instances, metrics.Instance{
			Name: in.Name, VRID: in.VRID, Family: in.Family, State: in.State,
			BasePriority: in.BasePriority, EffectivePriority: in.Priority,
			AdvertsSent: in.Sent, AdvertsReceived: in.Received, Guarded: in.Guarded,
		})
	}
	for _, c := range st.Checks {
		s.Checks = append(s.Checks, metrics.Check{Name: c.Name, Kind: string(c.Kind), Healthy: c.Healthy})
	}
	for reason, n := range st.Drops {
		s.Drops[reason.String()] = n
	}
	for _, ca := range st.Cloud {
		s.CloudActions = append(s.CloudActions, metrics.CloudAction{Owner: ca.Owner, Action: cloudmove.Operation(ca.Kind, false), ErrorAt: ca.ErrorAt})
	}
	if l := a.link.Load(); l != nil {
		g := &metrics.Gossip{HealthScore: l.c.HealthScore()}
		g.JoinWait = a.track.joinWaiting()
		for _, m := range l.c.Members() {
			switch m.Status {
			case gossip.StatusAlive:
				g.Alive++
			case gossip.StatusSuspect:
				g.Suspect++
			case gossip.StatusDead:
				g.Dead++
			case gossip.StatusLeft:
				g.Left++
			}
		}
		s.Gossip = g
	}
	return s
}
