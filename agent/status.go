package agent

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/inet"
)

// Status is this node's status in the agent's own types: the API's
// GetStatus (converted by the server) and the metrics (agent/metrics.go)
// both read it, so that neither a label nor an API string depends on the
// other's names.
type Status struct {
	// Node and Version name this node and the vipd build it runs.
	Node, Version string
	// Started is when the agent started; Now when the status was read.
	Started, Now time.Time
	// Maintenance is true while the node is drained.
	Maintenance bool
	// Instances are the running instances, by name.
	Instances []InstanceStatus
	// Checks are the health checks, by name.
	Checks []checks.Status
	// Drops counts the VRRP packets dropped, by reason.
	Drops map[vrrp.DropReason]uint64
	// Cloud are the cloud actions, by owner, then name.
	Cloud []CloudStatus
}

// InstanceStatus is one running instance's status: its configuration's
// identity and settings, and its state now.
type InstanceStatus struct {
	// Name, VRID, Family, Interface and VRRPVersion are the instance's
	// configuration.
	Name        string
	VRID        uint8
	Family      inet.Family
	Interface   string
	VRRPVersion uint8
	// BasePriority is the configured priority; Priority the one
	// advertised now.
	BasePriority, Priority uint8
	// AdvertInterval is the configured advert interval.
	AdvertInterval time.Duration
	// VIPs are the configured virtual addresses.
	VIPs []netip.Prefix
	// State is the VRRP state; Since when it began (zero before the
	// first transition).
	State fsm.State
	Since time.Time
	// Master is the master as this node believes it; Source this node's
	// advert source. Either may be the zero Addr.
	Master, Source netip.Addr
	// Sent and Received count adverts since the instance started.
	Sent, Received uint64
	// Reason says why the instance is in its state, or held.
	Reason string
	// Held is true while the instance is held in BACKUP; Guarded while
	// the split-brain guard is what holds it.
	Held, Guarded bool
	// SyncGroup names the sync group the instance belongs to, if any.
	SyncGroup string
	// Peers are the unicast peers the instance sends to.
	Peers []netip.Addr
}

// CloudStatus is one cloud action's status, with the instance or sync
// group that owns it ("instance:NAME" or "sync_group:NAME").
type CloudStatus struct {
	Owner string
	cloudmove.ActionStatus
}

// Status returns this node's instances, checks, drop counters and cloud
// actions, read on the agent's goroutine.
func (s *Service) Status(ctx context.Context) (Status, error) {
	a := s.a
	var st Status
	err := a.onLoop(ctx, func() { st = a.nodeStatus() })
	return st, err
}

// nodeStatus gathers the status; it runs on the agent's goroutine.
func (a *Agent) nodeStatus() Status {
	s := Status{
		Node: a.cfg.Node.Name, Version: a.version, Started: a.started, Now: a.clock.Now(),
		Maintenance: a.track.maintenance(), Drops: a.drops.Snapshot(),
	}
	for name, r := range a.running {
		ic, in := r.cfg, r.inst
		v := a.track.view(name)
		is := InstanceStatus{
			Name: ic.Name, VRID: ic.VRID, Family: ic.Family, Interface: ic.Interface, VRRPVersion: ic.Version,
			BasePriority: ic.Priority, AdvertInterval: ic.AdvertInterval,
			State: in.State(), Priority: in.Priority(), Master: in.Master(), Source: in.Source(),
			Reason: v.reason, Held: v.held, Guarded: v.guard != "", Since: v.since, Peers: in.Peers(),
		}
		for _, vip := range ic.VIPs {
			is.VIPs = append(is.VIPs, vip.Prefix)
		}
		is.Sent, is.Received = in.Counters()
		if is.Guarded {
			// A backup the guard holds has no transition saying why.
			is.Reason = v.guard
		}
		if is.Held && !is.Guarded && !v.maint && v.joinHeld {
			// Nor has one held by require_join.
			is.Reason = v.wait
		}
		if g := a.cfg.SyncGroupOf(name); g != nil {
			is.SyncGroup = g.Name
		}
		s.Instances = append(s.Instances, is)
	}
	slices.SortFunc(s.Instances, func(x, y InstanceStatus) int { return cmp.Compare(x.Name, y.Name) })
	for name, cr := range a.track.runners {
		st := cr.runner.Status()
		st.Name = name
		s.Checks = append(s.Checks, st)
	}
	slices.SortFunc(s.Checks, func(x, y checks.Status) int { return cmp.Compare(x.Name, y.Name) })
	if a.cloud != nil {
		for owner, list := range a.cloud.status() {
			for _, st := range list {
				s.Cloud = append(s.Cloud, CloudStatus{owner, st})
			}
		}
		slices.SortFunc(s.Cloud, func(x, y CloudStatus) int {
			return cmp.Or(cmp.Compare(x.Owner, y.Owner), cmp.Compare(x.Name, y.Name))
		})
	}
	return s
}
