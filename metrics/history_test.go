package metrics

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vipd/vipd/history"
)

// Every cause label value comes from history.Causes, whatever reason text
// the agent classes: the label set cannot grow.
func TestTransitionCauseLabelsAreFixed(t *testing.T) {
	m := New(BuildInfo{})
	at := time.Unix(1765000000, 500_000_000)
	reasons := []string{"startup", "master down timer expired", "failover to n2 requested on n1", "maintenance",
		"a reason nobody wrote yet", "", "split-brain guard: n2 is master", "advert with higher priority"}
	for _, r := range reasons {
		m.ObserveTransitionCause("dns", history.Cause(r), at)
	}
	m.ObserveTransitionCause("dns", "made-up cause", at)
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != "vipd_instance_transitions_by_cause_total" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == "cause" && !slices.Contains(history.Causes, lp.GetValue()) {
					t.Errorf("cause label %q is not in history.Causes", lp.GetValue())
				}
			}
			total += mt.GetCounter().GetValue()
		}
	}
	if total != float64(len(reasons)+1) {
		t.Errorf("counted %v transitions, want %d", total, len(reasons)+1)
	}
	want := "vipd_instance_last_transition_timestamp_seconds{vrrp_instance=\"dns\"} 1.7650000005e+09\n"
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader("# HELP vipd_instance_last_transition_timestamp_seconds When this node's instance last changed VRRP state (Unix time).\n# TYPE vipd_instance_last_transition_timestamp_seconds gauge\n"+want), "vipd_instance_last_transition_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	m.ForgetTransitions("dns")
	if n := testutil.CollectAndCount(m.causes); n != 0 {
		t.Errorf("%d cause series left after ForgetTransitions", n)
	}
}
