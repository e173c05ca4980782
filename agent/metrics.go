package agent

import (
	"context"
	"strings"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/metrics"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// scrapeTimeout bounds how long a scrape waits for the agent's goroutine.
const scrapeTimeout = 2 * time.Second

// snapshot is the metrics source: the same consistent view as GetStatus,
// plus the gossip membership counts.
func (a *Agent) snapshot() metrics.Snapshot {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var st *vipdv1.GetStatusResponse
	if err := a.onLoop(ctx, func() { st = a.status() }); err != nil || st == nil {
		return metrics.Snapshot{}
	}
	s := metrics.Snapshot{Maintenance: st.Maintenance, Drops: map[string]uint64{}}
	for _, in := range st.Instances {
		s.Instances = append(s.Instances, metrics.Instance{
			Name: in.Name, VRID: uint8(in.Vrid), Family: familyFromProto(in.Family),
			State:        stateFromProto(in.State),
			BasePriority: uint8(in.BasePriority), EffectivePriority: uint8(in.EffectivePriority),
			AdvertsSent: in.AdvertsSent, AdvertsReceived: in.AdvertsReceived, Guarded: in.Guarded,
		})
	}
	for _, c := range st.Checks {
		s.Checks = append(s.Checks, metrics.Check{Name: c.Name, Kind: strings.ToLower(strings.TrimPrefix(c.Kind.String(), "CHECK_KIND_")), Healthy: c.Healthy})
	}
	for _, d := range st.Drops {
		s.Drops[d.Reason] = d.Count
	}
	for _, ca := range st.CloudActions {
		mc := metrics.CloudAction{Owner: ca.Owner, Action: cloudmove.Operation(cloudmove.Kind(ca.Kind), false)}
		if ca.ErrorAt != nil {
			mc.ErrorAt = ca.ErrorAt.AsTime()
		}
		s.CloudActions = append(s.CloudActions, mc)
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
