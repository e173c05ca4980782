package metrics

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/internal/lab"
)

// fullSnapshot has something for every state metric.
func fullSnapshot() Snapshot {
	return Snapshot{
		Instances: []Instance{
			{Name: "VI_1", VRID: 51, Family: inet.IPv4, State: fsm.Master, BasePriority: 150, EffectivePriority: 130,
				AdvertsSent: 1000, AdvertsReceived: 3},
			{Name: "VI_6", VRID: 52, Family: inet.IPv6, State: fsm.Backup, BasePriority: 100, EffectivePriority: 100,
				AdvertsReceived: 900, Guarded: true},
		},
		Checks: []Check{{Name: "dns", Kind: "dns", Healthy: true}, {Name: "proc", Kind: "process"}},
		Drops:  map[string]uint64{"bad_checksum": 2, "not_a_peer": 5},
		Gossip: &Gossip{Alive: 3, Suspect: 1, Dead: 1, HealthScore: 2},
		CloudActions: []CloudAction{
			{Owner: "instance:VI_1", Action: "associate_address", ErrorAt: time.Unix(1_700_000_000, 500_000_000)},
			{Owner: "instance:VI_1", Action: "replace_route"},
			{Owner: "instance:VI_1", Action: "replace_route", ErrorAt: time.Unix(1_700_000_100, 0)},
			{Owner: "sync_group:G", Action: "attach_volume"},
		},
	}
}

// fullMetrics returns metrics with every event observed once or more and
// the full snapshot as source, so that every family is present.
func fullMetrics() *Metrics {
	m := New(BuildInfo{Version: "1.2.3", Commit: "abc123", GoVersion: "go1.26.8"})
	m.SetSource(fullSnapshot)
	m.ObserveTransition("VI_1", fsm.Backup, fsm.Master)
	m.ObserveTransition("VI_1", fsm.Master, fsm.Backup)
	m.ObserveTransition("VI_1", fsm.Backup, fsm.Master)
	m.ObserveMasterChange("VI_1")
	m.ObserveCheck("dns", "dns", 20*time.Millisecond, true)
	m.ObserveCheck("dns", "dns", 2*time.Second, false)
	m.ObserveNotify("master", 30*time.Millisecond, nil)
	m.ObserveNotify("fault", time.Second, errors.New("exit status 1"))
	m.ObserveCloudAction("instance:VI_1", "associate_address", 800*time.Millisecond, nil)
	m.ObserveCloudAction("instance:VI_1", "replace_route", 3*time.Second, errors.New("throttled"))
	m.ObserveSplitBrain("VI_6")
	m.ObserveAPIRequest("vipd.v1.VipdService/GetStatus", "OK", time.Millisecond)
	m.ObserveAPIPanic("vipd.v1.VipdService/Failover")
	m.ObserveTransitionCause("VI_1", "failover", time.Unix(1765000000, 0))
	return m
}

// scrape returns the text exposition as the handler serves it.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func TestLintClean(t *testing.T) {
	m := fullMetrics()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	// The served text parses and lints the same.
	problems, err = promlint.New(strings.NewReader(scrape(t, m))).Lint()
	if err != nil || len(problems) != 0 {
		t.Errorf("promlint of the scrape: %v %v", problems, err)
	}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "vipd_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("metric %s has neither the vipd_ prefix nor a standard collector's", name)
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "instance" || l.GetName() == "job" {
					t.Errorf("%s has label %q, which Prometheus's target labels would override", name, l.GetName())
				}
			}
		}
	}
	if n := countPrefix(mfs, "go_"); n < 5 {
		t.Errorf("%d go_ metrics: Go collector missing", n)
	}
	if n := countPrefix(mfs, "process_"); n < 3 {
		t.Errorf("%d process_ metrics: process collector missing", n)
	}
}

func countPrefix(mfs []*dto.MetricFamily, prefix string) int {
	n := 0
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), prefix) {
			n++
		}
	}
	return n
}

// promtool, Prometheus's own checker, agrees.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := findPromtool(t)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape(t, fullMetrics()))
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	// And it can fail: a counter without _total is reported.
	cmd = exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader("# HELP vipd_bad A counter.\n# TYPE vipd_bad counter\nvipd_bad 1\n")
	if out, err := cmd.CombinedOutput(); err == nil && len(out) == 0 {
		t.Error("promtool check metrics accepts a counter without _total; the check above proves nothing")
	}
}

func findPromtool(t *testing.T) string {
	t.Helper()
	return lab.RequireProgram(t, "promtool", "/usr/bin/promtool")
}

// Values follow the snapshot and the events.
func TestValues(t *testing.T) {
	m := fullMetrics()
	want := `
# HELP vipd_build_info Always 1; the labels say which vipd build runs.
# TYPE vipd_build_info gauge
vipd_build_info{commit="abc123",goversion="go1.26.8",version="1.2.3"} 1
# HELP vipd_instance_state VRRP state of an instance: one series per state, 1 for the current one.
# TYPE vipd_instance_state gauge
vipd_instance_state{family="ipv4",state="backup",vrid="51",vrrp_instance="VI_1"} 0
vipd_instance_state{family="ipv4",state="fault",vrid="51",vrrp_instance="VI_1"} 0
vipd_instance_state{family="ipv4",state="init",vrid="51",vrrp_instance="VI_1"} 0
vipd_instance_state{family="ipv4",state="master",vrid="51",vrrp_instance="VI_1"} 1
vipd_instance_state{family="ipv4",state="stop",vrid="51",vrrp_instance="VI_1"} 0
vipd_instance_state{family="ipv6",state="backup",vrid="52",vrrp_instance="VI_6"} 1
vipd_instance_state{family="ipv6",state="fault",vrid="52",vrrp_instance="VI_6"} 0
vipd_instance_state{family="ipv6",state="init",vrid="52",vrrp_instance="VI_6"} 0
vipd_instance_state{family="ipv6",state="master",vrid="52",vrrp_instance="VI_6"} 0
vipd_instance_state{family="ipv6",state="stop",vrid="52",vrrp_instance="VI_6"} 0
# HELP vipd_instance_effective_priority VRRP priority an instance advertises now (base adjusted by checks, or from its order).
# TYPE vipd_instance_effective_priority gauge
vipd_instance_effective_priority{family="ipv4",vrid="51",vrrp_instance="VI_1"} 130
vipd_instance_effective_priority{family="ipv6",vrid="52",vrrp_instance="VI_6"} 100
# HELP vipd_instance_adverts_sent_total VRRP adverts sent by an instance.
# TYPE vipd_instance_adverts_sent_total counter
vipd_instance_adverts_sent_total{family="ipv4",vrid="51",vrrp_instance="VI_1"} 1000
vipd_instance_adverts_sent_total{family="ipv6",vrid="52",vrrp_instance="VI_6"} 0
# HELP vipd_instance_split_brain_guard_active 1 while the split-brain guard holds an instance in BACKUP, else 0.
# TYPE vipd_instance_split_brain_guard_active gauge
vipd_instance_split_brain_guard_active{family="ipv4",vrid="51",vrrp_instance="VI_1"} 0
vipd_instance_split_brain_guard_active{family="ipv6",vrid="52",vrrp_instance="VI_6"} 1
# HELP vipd_packets_dropped_total Received VRRP packets discarded, by reason.
# TYPE vipd_packets_dropped_total counter
vipd_packets_dropped_total{reason="bad_checksum"} 2
vipd_packets_dropped_total{reason="not_a_peer"} 5
# HELP vipd_check_healthy 1 if a health check is healthy (after rise/fall), else 0.
# TYPE vipd_check_healthy gauge
vipd_check_healthy{check="dns",kind="dns"} 1
vipd_check_healthy{check="proc",kind="process"} 0
# HELP vipd_gossip_members Gossip members known to this node, by state (alive, suspect, dead, left).
# TYPE vipd_gossip_members gauge
vipd_gossip_members{state="alive"} 3
vipd_gossip_members{state="dead"} 1
vipd_gossip_members{state="left"} 0
vipd_gossip_members{state="suspect"} 1
# HELP vipd_gossip_health_score memberlist's health (awareness) score of this node: 0 is healthy, higher is worse.
# TYPE vipd_gossip_health_score gauge
vipd_gossip_health_score 2
# HELP vipd_maintenance 1 while this node is in maintenance (drained), else 0.
# TYPE vipd_maintenance gauge
vipd_maintenance 0
# HELP vipd_instance_transitions_total VRRP state transitions of this node's instances, by state left and entered.
# TYPE vipd_instance_transitions_total counter
vipd_instance_transitions_total{from="backup",to="master",vrrp_instance="VI_1"} 2
vipd_instance_transitions_total{from="master",to="backup",vrrp_instance="VI_1"} 1
# HELP vipd_check_failures_total Health check runs that failed (before rise/fall counting).
# TYPE vipd_check_failures_total counter
vipd_check_failures_total{check="dns",kind="dns"} 1
# HELP vipd_notify_failures_total Notify script runs that failed (exit status not 0, timeout, could not start).
# TYPE vipd_notify_failures_total counter
vipd_notify_failures_total{event="fault"} 1
vipd_notify_failures_total{event="master"} 0
# HELP vipd_cloud_action_errors_total Cloud actions that failed (a permanent error, or retryable errors past the retry budget), by owner and operation.
# TYPE vipd_cloud_action_errors_total counter
vipd_cloud_action_errors_total{action="associate_address",owner="instance:VI_1"} 0
vipd_cloud_action_errors_total{action="replace_route",owner="instance:VI_1"} 1
# HELP vipd_split_brain_events_total Times the split-brain guard held an instance back because gossip showed a better master whose adverts did not arrive.
# TYPE vipd_split_brain_events_total counter
vipd_split_brain_events_total{vrrp_instance="VI_6"} 1
`
	names := []string{"vipd_build_info", "vipd_instance_state", "vipd_instance_effective_priority",
		"vipd_instance_adverts_sent_total", "vipd_instance_split_brain_guard_active", "vipd_packets_dropped_total",
		"vipd_check_healthy", "vipd_gossip_members", "vipd_gossip_health_score", "vipd_maintenance",
		"vipd_instance_transitions_total", "vipd_check_failures_total", "vipd_notify_failures_total",
		"vipd_cloud_action_errors_total", "vipd_split_brain_events_total"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// Histograms: counts and sums of what was observed.
	for _, h := range []struct {
		name, label string
		count       uint64
		sum         float64
	}{
		{"vipd_check_duration_seconds", "dns", 2, 2.02},
		{"vipd_notify_duration_seconds", "fault", 1, 1},
		{"vipd_cloud_action_duration_seconds", "replace_route", 1, 3},
	} {
		got := histogram(t, m, h.name, h.label)
		if got.GetSampleCount() != h.count || got.GetSampleSum() < h.sum-1e-9 || got.GetSampleSum() > h.sum+1e-9 {
			t.Errorf("%s{%s}: count %d sum %v, want %d %v", h.name, h.label, got.GetSampleCount(), got.GetSampleSum(), h.count, h.sum)
		}
	}

	// A new snapshot shows at the next scrape; a repeated name is left out
	// rather than failing the scrape.
	var mu sync.Mutex
	s := fullSnapshot()
	m.SetSource(func() Snapshot { mu.Lock(); defer mu.Unlock(); return s })
	mu.Lock()
	s.Instances[0].State, s.Instances[0].AdvertsSent = fsm.Fault, 1200
	s.Instances = append(s.Instances, Instance{Name: "VI_1", VRID: 99, Family: inet.IPv4, State: fsm.Master})
	s.Gossip, s.Maintenance = nil, true
	mu.Unlock()
	text := scrape(t, m)
	for _, line := range []string{
		`vipd_instance_state{family="ipv4",state="fault",vrid="51",vrrp_instance="VI_1"} 1`,
		`vipd_instance_state{family="ipv4",state="master",vrid="51",vrrp_instance="VI_1"} 0`,
		`vipd_instance_adverts_sent_total{family="ipv4",vrid="51",vrrp_instance="VI_1"} 1200`,
		"vipd_maintenance 1",
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
	for _, absent := range []string{`vrid="99"`, "vipd_gossip_members", "vipd_gossip_health_score"} {
		if strings.Contains(text, absent) {
			t.Errorf("scrape has %s", absent)
		}
	}

	// Without a source the state metrics are absent, the events stay.
	m.SetSource(nil)
	if n, err := testutil.GatherAndCount(m.Registry(), "vipd_instance_state", "vipd_maintenance"); err != nil || n != 0 {
		t.Errorf("without a source: %d state series (%v)", n, err)
	}
	if n := testutil.ToFloat64(m.transitions.WithLabelValues("VI_1", "backup", "master")); n != 2 {
		t.Errorf("transitions backup→master = %v", n)
	}
	m.ObserveTransition("VI_1", fsm.State(99), fsm.Master)
	if n := testutil.ToFloat64(m.transitions.WithLabelValues("VI_1", "unknown", "master")); n != 1 {
		t.Errorf("unknown state not mapped to \"unknown\": %v", n)
	}
}

func histogram(t *testing.T, m *Metrics, name, label string) *dto.Histogram {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetValue() == label {
					return mt.GetHistogram()
				}
			}
		}
	}
	t.Fatalf("no %s{…%q…}", name, label)
	return nil
}

// TestCloudLabelsBounded: whatever text reaches the cloud metrics (an
// action's name with its resource ids, a future kind), the action label
// takes only the fixed values, and the error gauge merges the actions of
// one kind.
func TestCloudLabelsBounded(t *testing.T) {
	m := fullMetrics()
	m.ObserveCloudAction("instance:VI_1", "route 10.240.240.240/32 in subnets Network=private", time.Second, nil)
	m.ObserveCloudAction("instance:VI_1", "detach_volume", time.Second, errors.New("refused"))
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"unknown": true}
	for _, a := range CloudActions {
		allowed[a] = true
	}
	seen := 0
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "vipd_cloud_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				switch l.GetName() {
				case "action":
					seen++
					if !allowed[l.GetValue()] {
						t.Errorf("%s has action=%q, not in the fixed set", mf.GetName(), l.GetValue())
					}
				case "owner":
				default:
					t.Errorf("%s has an unexpected label %s", mf.GetName(), l.GetName())
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no cloud series")
	}
	text := scrape(t, m)
	for _, line := range []string{
		`vipd_cloud_action_duration_seconds_count{action="unknown",owner="instance:VI_1"} 1`,
		`vipd_cloud_action_errors_total{action="detach_volume",owner="instance:VI_1"} 1`,
		`vipd_cloud_action_last_error_timestamp_seconds{action="associate_address",owner="instance:VI_1"} 1.7000000005e+09`,
		`vipd_cloud_action_last_error_timestamp_seconds{action="replace_route",owner="instance:VI_1"} 1.7000001e+09`,
		`vipd_cloud_action_last_error_timestamp_seconds{action="attach_volume",owner="sync_group:G"} 0`,
	} {
		if !strings.Contains(text, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
}

// The state and family labels are pinned value by value: renaming a state
// or a family (or its String) elsewhere cannot change a series. Every
// state fsm knows has its label, one of States; any other is "unknown".
func TestStateAndFamilyLabels(t *testing.T) {
	for s, want := range map[fsm.State]string{fsm.Init: "init", fsm.Backup: "backup", fsm.Master: "master", fsm.Fault: "fault",
		fsm.Stopped: "stop", fsm.State(200): "unknown", fsm.State(255): "unknown"} {
		if got := stateLabel(s); got != want {
			t.Errorf("stateLabel(%d) = %q, want %q", s, got, want)
		}
	}
	for s := range fsm.State(255) {
		if _, known := fsm.ParseState(s.String()); known && !slices.Contains(States, stateLabel(s)) {
			t.Errorf("fsm state %v has label %q, not one of States", s, stateLabel(s))
		}
	}
	for f, want := range map[inet.Family]string{inet.IPv4: "ipv4", inet.IPv6: "ipv6"} {
		if got := familyLabel(f); got != want {
			t.Errorf("familyLabel(%v) = %q, want %q", f, got, want)
		}
	}
}
