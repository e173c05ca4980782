package agent

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
)

// nodeStatus is this node's status in the agent's own types. GetStatus
// turns it into protobuf (statusProto, api.go); the metrics read it as it
// is, so that no label depends on the API's enum names.
type nodeStatus struct {
	node, version string
	started, now  time.Time
	maintenance   bool
	instances     []instanceStatus // by name
	checks        []checks.Status  // by name
	drops         map[vrrp.DropReason]uint64
	cloud         []cloudStatus // by owner, then name
}

// instanceStatus is one running instance's status.
type instanceStatus struct {
	cfg            *config.Instance
	state          fsm.State
	priority       uint8
	master, source netip.Addr
	sent, received uint64
	reason         string // why it is in its state (or held)
	held, guarded  bool
	since          time.Time
	syncGroup      string
	peers          []netip.Addr
}

// cloudStatus is one cloud action's status, with the instance or sync
// group that owns it.
type cloudStatus struct {
	owner string
	cloudmove.ActionStatus
}

// nodeStatus gathers the status; it runs on the agent's goroutine.
func (a *Agent) nodeStatus() nodeStatus {
	s := nodeStatus{
		node: a.cfg.Node.Name, version: a.version, started: a.started, now: a.clock.Now(),
		maintenance: a.track.maintenance(), drops: a.drops.Snapshot(),
	}
	for name, r := range a.running {
		ic, in := r.cfg, r.inst
		v := a.track.view(name)
		is := instanceStatus{
			cfg: ic, state: in.State(), priority: in.Priority(), master: in.Master(), source: in.Source(),
			reason: v.reason, held: v.held, guarded: v.guard != "", since: v.since, peers: in.Peers(),
		}
		is.sent, is.received = in.Counters()
		if is.guarded {
			// A backup the guard holds has no transition saying why.
			is.reason = v.guard
		}
		if is.held && !is.guarded && !v.maint && v.joinHeld {
			// Nor has one held by require_join.
			is.reason = v.wait
		}
		if g := a.cfg.SyncGroupOf(name); g != nil {
			is.syncGroup = g.Name
		}
		s.instances = append(s.instances, is)
	}
	slices.SortFunc(s.instances, func(x, y instanceStatus) int { return cmp.Compare(x.cfg.Name, y.cfg.Name) })
	for name, cr := range a.track.runners {
		st := cr.runner.Status()
		st.Name = name
		s.checks = append(s.checks, st)
	}
	slices.SortFunc(s.checks, func(x, y checks.Status) int { return cmp.Compare(x.Name, y.Name) })
	if a.cloud != nil {
		for owner, list := range a.cloud.status() {
			for _, st := range list {
				s.cloud = append(s.cloud, cloudStatus{owner, st})
			}
		}
		slices.SortFunc(s.cloud, func(x, y cloudStatus) int {
			return cmp.Or(cmp.Compare(x.owner, y.owner), cmp.Compare(x.Name, y.Name))
		})
	}
	return s
}
