package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
)

// Snapshot is the agent's state as the metrics read it at a scrape. The
// agent fills it (SetSource); every field is a plain value, and counters
// (adverts, drops) are totals since the agent started, which Prometheus
// turns into rates.
type Snapshot struct {
	// Instances are this node's VRRP instances. Names must be unique (a
	// repeated name is left out of the scrape).
	Instances []Instance
	// Checks are this node's health checks, names unique.
	Checks []Check
	// Drops counts received VRRP packets discarded, by reason (snake_case,
	// as in GetStatusResponse.drops: "bad_checksum", "not_a_peer"...).
	Drops map[string]uint64
	// Gossip is the membership view; nil when gossip is not configured
	// (the gossip metrics are then absent).
	Gossip *Gossip
	// Maintenance is true while the node is drained.
	Maintenance bool
	// CloudActions are the cloud actions of this node's instances and
	// sync groups.
	CloudActions []CloudAction
}

// CloudAction is one cloud action in a Snapshot.
type CloudAction struct {
	// Owner is "instance:NAME" or "sync_group:NAME" (label owner).
	Owner string
	// Action is the operation, one of CloudActions (label action; any
	// other value is reported as "unknown").
	Action string
	// ErrorAt is when the action's last error happened, if that error has
	// not been followed by a success; zero otherwise.
	ErrorAt time.Time
}

// Instance is one VRRP instance in a Snapshot.
type Instance struct {
	// Name is the instance name (label vrrp_instance).
	Name string
	// VRID is the virtual router id (label vrid).
	VRID uint8
	// Family is the address family (label family: "ipv4" or "ipv6").
	Family inet.Family
	// State is the current state (label state, one of States).
	State fsm.State
	// BasePriority is the configured priority; EffectivePriority the one
	// advertised now.
	BasePriority, EffectivePriority uint8
	// AdvertsSent and AdvertsReceived count adverts since the instance
	// started (received: accepted ones only).
	AdvertsSent, AdvertsReceived uint64
	// Guarded is true while the split-brain guard holds the instance back.
	Guarded bool
}

// Check is one health check in a Snapshot.
type Check struct {
	// Name is the check name, Kind how it probes (exec, process, tcp,
	// http, dns, file, interface).
	Name, Kind string
	// Healthy is the check's verdict after rise and fall (false before
	// the first verdict).
	Healthy bool
}

// Gossip is the membership view in a Snapshot.
type Gossip struct {
	// Alive, Suspect, Dead and Left count the members known in each state,
	// this node included.
	Alive, Suspect, Dead, Left int
	// HealthScore is memberlist's awareness score of this node: 0 is
	// healthy, higher means it is slow to answer probes (overloaded or
	// losing packets).
	HealthScore int
	// JoinWait is true while gossip.require_join holds this node's
	// instances with `peers: gossip` in BACKUP: it has not joined its
	// cluster yet.
	JoinWait bool
}

// Descriptions of the metrics read from the Snapshot.
var (
	instLabels = []string{"vrrp_instance", "vrid", "family"}

	descState = prometheus.NewDesc("vipd_instance_state",
		"VRRP state of an instance: one series per state, 1 for the current one.",
		append(instLabels, "state"), nil)
	descBasePrio = prometheus.NewDesc("vipd_instance_base_priority",
		"Configured (base) VRRP priority of an instance.", instLabels, nil)
	descEffPrio = prometheus.NewDesc("vipd_instance_effective_priority",
		"VRRP priority an instance advertises now (base adjusted by checks, or from its order).", instLabels, nil)
	descSent = prometheus.NewDesc("vipd_instance_adverts_sent_total",
		"VRRP adverts sent by an instance.", instLabels, nil)
	descRecv = prometheus.NewDesc("vipd_instance_adverts_received_total",
		"VRRP adverts accepted by an instance (dropped ones are in vipd_packets_dropped_total).", instLabels, nil)
	descGuard = prometheus.NewDesc("vipd_instance_split_brain_guard_active",
		"1 while the split-brain guard holds an instance in BACKUP, else 0.", instLabels, nil)
	descDrops = prometheus.NewDesc("vipd_packets_dropped_total",
		"Received VRRP packets discarded, by reason.", []string{"reason"}, nil)
	descCheck = prometheus.NewDesc("vipd_check_healthy",
		"1 if a health check is healthy (after rise/fall), else 0.", []string{"check", "kind"}, nil)
	descMembers = prometheus.NewDesc("vipd_gossip_members",
		"Gossip members known to this node, by state (alive, suspect, dead, left).", []string{"state"}, nil)
	descHealth = prometheus.NewDesc("vipd_gossip_health_score",
		"memberlist's health (awareness) score of this node: 0 is healthy, higher is worse.", nil, nil)
	descJoinWait = prometheus.NewDesc("vipd_gossip_join_wait",
		"1 while require_join holds the instances with peers: gossip in BACKUP because this node has not joined its gossip cluster, else 0.", nil, nil)
	descMaint = prometheus.NewDesc("vipd_maintenance",
		"1 while this node is in maintenance (drained), else 0.", nil, nil)
	descCloudErr = prometheus.NewDesc("vipd_cloud_action_last_error_timestamp_seconds",
		"Unix time of a cloud action's last error not yet followed by a success (kept through a release and a fault hold), 0 when there is none; by owner and operation (the latest of the owner's actions of that kind).",
		[]string{"owner", "action"}, nil)
)

// snapshotCollector reads the Snapshot at each scrape.
type snapshotCollector struct{ m *Metrics }

func (c *snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descBasePrio, descEffPrio, descSent, descRecv, descGuard,
		descDrops, descCheck, descMembers, descHealth, descJoinWait, descMaint, descCloudErr} {
		ch <- d
	}
}

func (c *snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.m.source.Load()
	if src == nil {
		return
	}
	s := (*src)()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	b := func(x bool) float64 {
		if x {
			return 1
		}
		return 0
	}

	seen := map[string]bool{}
	for _, in := range s.Instances {
		if seen[in.Name] {
			continue // a duplicate would make the whole scrape fail
		}
		seen[in.Name] = true
		l := []string{in.Name, strconv.Itoa(int(in.VRID)), familyLabel(in.Family)}
		cur := stateLabel(in.State)
		for _, st := range States {
			gauge(descState, b(st == cur), append(l, st)...)
		}
		gauge(descBasePrio, float64(in.BasePriority), l...)
		gauge(descEffPrio, float64(in.EffectivePriority), l...)
		counter(descSent, in.AdvertsSent, l...)
		counter(descRecv, in.AdvertsReceived, l...)
		gauge(descGuard, b(in.Guarded), l...)
	}
	for reason, n := range s.Drops {
		counter(descDrops, n, reason)
	}
	seen = map[string]bool{}
	for _, ck := range s.Checks {
		if seen[ck.Name] {
			continue
		}
		seen[ck.Name] = true
		gauge(descCheck, b(ck.Healthy), ck.Name, ck.Kind)
	}
	if g := s.Gossip; g != nil {
		gauge(descMembers, float64(g.Alive), "alive")
		gauge(descMembers, float64(g.Suspect), "suspect")
		gauge(descMembers, float64(g.Dead), "dead")
		gauge(descMembers, float64(g.Left), "left")
		gauge(descHealth, float64(g.HealthScore))
		gauge(descJoinWait, b(g.JoinWait))
	}
	gauge(descMaint, b(s.Maintenance))
	// Several actions of one kind (two routes) share a series: the
	// latest error wins.
	type ownerAction struct{ owner, action string }
	latest := map[ownerAction]time.Time{}
	var order []ownerAction
	for _, ca := range s.CloudActions {
		k := ownerAction{ca.Owner, CloudActionLabel(ca.Action)}
		at, ok := latest[k]
		if !ok {
			order = append(order, k)
		}
		if ca.ErrorAt.After(at) {
			at = ca.ErrorAt
		}
		latest[k] = at
	}
	for _, k := range order {
		v := 0.0
		if at := latest[k]; !at.IsZero() {
			v = float64(at.UnixNano()) / 1e9
		}
		gauge(descCloudErr, v, k.owner, k.action)
	}
}
