package priority

import (
	"slices"
	"testing"

	"github.com/vipd/vipd/checks"
)

func weight(n int) *int { return &n }

// fixtureChecks are the checks the Compute tests track, one per weight rule.
func fixtureChecks() map[string]*checks.Config {
	list := []*checks.Config{
		{Name: "dnsmasq", Kind: checks.KindExec, Weight: 0},
		{Name: "minus20", Kind: checks.KindExec, Weight: -20},
		{Name: "plus10", Kind: checks.KindExec, Weight: 10},
		{Name: "minus20r", Kind: checks.KindExec, Weight: -20, WeightReverse: true},
		{Name: "plus10r", Kind: checks.KindExec, Weight: 10, WeightReverse: true},
		{Name: "zeror", Kind: checks.KindExec, Weight: 0, WeightReverse: true},
		{Name: "huge", Kind: checks.KindExec, Weight: 300},
		{Name: "proc", Kind: checks.KindProcess},
		{Name: "tcp", Kind: checks.KindTCP},
		{Name: "http", Kind: checks.KindHTTP},
		{Name: "dns", Kind: checks.KindDNS},
		{Name: "file1", Kind: checks.KindFile, Weight: 1, File: &checks.FileConfig{Path: "/run/f1"}},
		{Name: "file0", Kind: checks.KindFile, Weight: 0, File: &checks.FileConfig{Path: "/run/f0"}},
		{Name: "file0r", Kind: checks.KindFile, Weight: 0, WeightReverse: true},
		{Name: "fileneg", Kind: checks.KindFile, Weight: -100},
		{Name: "interface:eth1", Kind: checks.KindInterface, Interface: &checks.InterfaceConfig{Name: "eth1"}},
	}
	m := make(map[string]*checks.Config, len(list))
	for _, c := range list {
		m[c.Name] = c
	}
	return m
}

func ok(name string) CheckState  { return CheckState{Name: name, Healthy: true} }
func bad(name string) CheckState { return CheckState{Name: name, Healthy: false} }
func val(name string, v int) CheckState {
	return CheckState{Name: name, Kind: checks.KindFile, Healthy: true, Value: v}
}

func states(ss ...CheckState) map[string]CheckState {
	m := make(map[string]CheckState, len(ss))
	for _, s := range ss {
		m[s.Name] = s
	}
	return m
}

func track(name string) Track { return Track{Check: name} }
func trackW(name string, w int, rev bool) Track {
	return Track{Check: name, Weight: weight(w), WeightReverse: rev}
}

func instance(prio uint8, tracks ...Track) *Instance {
	return &Instance{Priority: prio, Track: tracks}
}

// lookupIn finds checks in m, as the agent finds its configured ones.
func lookupIn(m map[string]*checks.Config) CheckLookup {
	return func(name string) *checks.Config { return m[name] }
}

func TestComputeTracking(t *testing.T) {
	tests := []struct {
		name   string
		inst   *Instance
		states map[string]CheckState
		want   Result
	}{
		{
			name: "no tracking keeps the configured priority",
			inst: instance(100),
			want: Result{Priority: 100},
		},
		{
			name:   "weight 0 failing puts the instance in FAULT",
			inst:   instance(100, track("dnsmasq")),
			states: states(bad("dnsmasq")),
			want:   Result{Priority: 100, Fault: true, Reason: "check dnsmasq failed (weight 0)", FailedChecks: []string{"dnsmasq"}},
		},
		{
			name:   "weight 0 succeeding changes nothing",
			inst:   instance(100, track("dnsmasq")),
			states: states(ok("dnsmasq")),
			want:   Result{Priority: 100},
		},
		{
			name:   "negative weight is subtracted while failing",
			inst:   instance(100, track("minus20")),
			states: states(bad("minus20")),
			want:   Result{Priority: 80, Reason: "check minus20 failed (weight -20): -20", FailedChecks: []string{"minus20"}},
		},
		{
			name:   "negative weight changes nothing while succeeding",
			inst:   instance(100, track("minus20")),
			states: states(ok("minus20")),
			want:   Result{Priority: 100},
		},
		{
			name:   "positive weight is added while succeeding",
			inst:   instance(100, track("plus10")),
			states: states(ok("plus10")),
			want:   Result{Priority: 110, Reason: "check plus10 succeeded (weight +10): +10"},
		},
		{
			name:   "positive weight adds nothing while failing",
			inst:   instance(100, track("plus10")),
			states: states(bad("plus10")),
			want:   Result{Priority: 100, Reason: "check plus10 failed (weight +10)", FailedChecks: []string{"plus10"}},
		},
		{
			name:   "reverse negative weight is added while failing",
			inst:   instance(100, track("minus20r")),
			states: states(bad("minus20r")),
			want:   Result{Priority: 120, Reason: "check minus20r failed (weight -20 reverse): +20"},
		},
		{
			name:   "reverse negative weight counts against the node while succeeding",
			inst:   instance(100, track("minus20r")),
			states: states(ok("minus20r")),
			want:   Result{Priority: 100, Reason: "check minus20r succeeded (weight -20 reverse)", FailedChecks: []string{"minus20r"}},
		},
		{
			name:   "reverse positive weight is subtracted while succeeding",
			inst:   instance(100, track("plus10r")),
			states: states(ok("plus10r")),
			want:   Result{Priority: 90, Reason: "check plus10r succeeded (weight +10 reverse): -10", FailedChecks: []string{"plus10r"}},
		},
		{
			name:   "reverse positive weight changes nothing while failing",
			inst:   instance(100, track("plus10r")),
			states: states(bad("plus10r")),
			want:   Result{Priority: 100},
		},
		{
			name:   "weight 0 reverse faults while succeeding",
			inst:   instance(100, track("zeror")),
			states: states(ok("zeror")),
			want:   Result{Priority: 100, Fault: true, Reason: "check zeror succeeded (weight 0 reverse)", FailedChecks: []string{"zeror"}},
		},
		{
			name:   "weight 0 reverse is fine while failing",
			inst:   instance(100, track("zeror")),
			states: states(bad("zeror")),
			want:   Result{Priority: 100},
		},
		{
			name:   "track weight overrides the check's",
			inst:   instance(100, trackW("dnsmasq", -30, false)),
			states: states(bad("dnsmasq")),
			want:   Result{Priority: 70, Reason: "check dnsmasq failed (weight -30): -30", FailedChecks: []string{"dnsmasq"}},
		},
		{
			name:   "track weight 0 overrides a weighted check",
			inst:   instance(100, trackW("plus10", 0, false)),
			states: states(bad("plus10")),
			want:   Result{Priority: 100, Fault: true, Reason: "check plus10 failed (weight 0)", FailedChecks: []string{"plus10"}},
		},
		{
			name:   "track reverse overrides the check's",
			inst:   instance(100, trackW("minus20", -20, true)),
			states: states(bad("minus20")),
			want:   Result{Priority: 120, Reason: "check minus20 failed (weight -20 reverse): +20"},
		},
		{
			name:   "track weight without reverse clears the check's",
			inst:   instance(100, trackW("minus20r", -20, false)),
			states: states(bad("minus20r")),
			want:   Result{Priority: 80, Reason: "check minus20r failed (weight -20): -20", FailedChecks: []string{"minus20r"}},
		},
		{
			name:   "weights add up in tracking order",
			inst:   instance(100, track("plus10"), track("minus20"), track("plus10r")),
			states: states(ok("plus10"), bad("minus20"), ok("plus10r")),
			want: Result{Priority: 80,
				Reason:       "check plus10 succeeded (weight +10): +10; check minus20 failed (weight -20): -20; check plus10r succeeded (weight +10 reverse): -10",
				FailedChecks: []string{"minus20", "plus10r"}},
		},
		{
			name:   "fault reason lists only the faulting checks",
			inst:   instance(100, track("minus20"), track("dnsmasq")),
			states: states(bad("minus20"), bad("dnsmasq")),
			want:   Result{Priority: 80, Fault: true, Reason: "check dnsmasq failed (weight 0)", FailedChecks: []string{"minus20", "dnsmasq"}},
		},
		{
			name:   "clamped at 254",
			inst:   instance(250, track("plus10")),
			states: states(ok("plus10")),
			want:   Result{Priority: 254, Reason: "check plus10 succeeded (weight +10): +10; 260 clamped to 254"},
		},
		{
			name:   "clamped at 1",
			inst:   instance(10, track("minus20")),
			states: states(bad("minus20")),
			want:   Result{Priority: 1, Reason: "check minus20 failed (weight -20): -20; -10 clamped to 1", FailedChecks: []string{"minus20"}},
		},
		{
			name:   "exactly 1 is not clamped",
			inst:   instance(21, track("minus20")),
			states: states(bad("minus20")),
			want:   Result{Priority: 1, Reason: "check minus20 failed (weight -20): -20", FailedChecks: []string{"minus20"}},
		},
		{
			name:   "a weight beyond 253 counts as 253",
			inst:   instance(1, track("huge")),
			states: states(ok("huge")),
			want:   Result{Priority: 254, Reason: "check huge succeeded (weight +253): +253"},
		},
		{
			name:   "file value times weight is added",
			inst:   instance(100, track("file1")),
			states: states(val("file1", 7)),
			want:   Result{Priority: 107, Reason: "file check file1: value 7 * weight +1 = +7"},
		},
		{
			name:   "file negative value lowers the priority",
			inst:   instance(100, track("file1")),
			states: states(val("file1", -30)),
			want:   Result{Priority: 70, Reason: "file check file1: value -30 * weight +1 = -30"},
		},
		{
			name:   "file value 0 with a weight changes nothing",
			inst:   instance(100, track("file1")),
			states: states(val("file1", 0)),
			want:   Result{Priority: 100},
		},
		{
			name:   "file check ignores Healthy",
			inst:   instance(100, track("file1")),
			states: states(CheckState{Name: "file1", Healthy: false, Value: 5}),
			want:   Result{Priority: 105, Reason: "file check file1: value 5 * weight +1 = +5"},
		},
		{
			name:   "file negative weight",
			inst:   instance(150, track("fileneg")),
			states: states(val("fileneg", 1)),
			want:   Result{Priority: 50, Reason: "file check fileneg: value 1 * weight -100 = -100"},
		},
		{
			name:   "file result below -254 is FAULT and moves nothing",
			inst:   instance(150, track("fileneg")),
			states: states(val("fileneg", 3)),
			want: Result{Priority: 150, Fault: true,
				Reason:       "file check fileneg: value 3 * weight -100 = -300, FAULT at -254 or below",
				FailedChecks: []string{"fileneg"}},
		},
		{
			name:   "file result exactly -254 is FAULT",
			inst:   instance(150, trackW("fileneg", -127, false)),
			states: states(val("fileneg", 2)),
			want: Result{Priority: 150, Fault: true,
				Reason:       "file check fileneg: value 2 * weight -127 = -254, FAULT at -254 or below",
				FailedChecks: []string{"fileneg"}},
		},
		{
			name:   "file result -253 is not FAULT",
			inst:   instance(150, trackW("fileneg", -253, false)),
			states: states(val("fileneg", 1)),
			want:   Result{Priority: 1, Reason: "file check fileneg: value 1 * weight -253 = -253; -103 clamped to 1"},
		},
		{
			name:   "file result above 253 counts as 253",
			inst:   instance(1, track("file1")),
			states: states(val("file1", 1000)),
			want:   Result{Priority: 254, Reason: "file check file1: value 1000 * weight +1 = 1000, capped at +253"},
		},
		{
			name:   "file reverse negates the value",
			inst:   instance(100, trackW("file1", 10, true)),
			states: states(val("file1", 2)),
			want:   Result{Priority: 80, Reason: "file check file1: value 2 * weight +10 reverse = -20"},
		},
		{
			name:   "file reverse of a negative value below -254 is not FAULT",
			inst:   instance(100, trackW("file1", 100, true)),
			states: states(val("file1", -3)),
			want:   Result{Priority: 254, Reason: "file check file1: value -3 * weight +100 reverse = 300, capped at +253; 353 clamped to 254"},
		},
		{
			name:   "file weight 0 non-zero value is FAULT",
			inst:   instance(100, track("file0")),
			states: states(val("file0", 5)),
			want:   Result{Priority: 100, Fault: true, Reason: "file check file0: value 5 (weight 0)", FailedChecks: []string{"file0"}},
		},
		{
			name:   "file weight 0 zero value is fine",
			inst:   instance(100, track("file0")),
			states: states(val("file0", 0)),
			want:   Result{Priority: 100},
		},
		{
			name:   "file weight 0 reverse zero value is FAULT",
			inst:   instance(100, track("file0r")),
			states: states(val("file0r", 0)),
			want:   Result{Priority: 100, Fault: true, Reason: "file check file0r: value 0 (weight 0 reverse)", FailedChecks: []string{"file0r"}},
		},
		{
			name:   "file weight 0 reverse non-zero value is fine",
			inst:   instance(100, track("file0r")),
			states: states(val("file0r", 1)),
			want:   Result{Priority: 100},
		},
		{
			name:   "interface down is FAULT",
			inst:   instance(100, track("interface:eth1")),
			states: states(bad("interface:eth1")),
			want:   Result{Priority: 100, Fault: true, Reason: "interface eth1 down (weight 0)", FailedChecks: []string{"interface:eth1"}},
		},
		{
			name:   "interface up is fine",
			inst:   instance(100, track("interface:eth1")),
			states: states(ok("interface:eth1")),
			want:   Result{Priority: 100},
		},
		{
			name:   "interface with a negative weight lowers the priority while down",
			inst:   instance(100, trackW("interface:eth1", -50, false)),
			states: states(bad("interface:eth1")),
			want:   Result{Priority: 50, Reason: "interface eth1 down (weight -50): -50", FailedChecks: []string{"interface:eth1"}},
		},
		{
			name:   "interface with a positive reverse weight lowers the priority while up",
			inst:   instance(100, trackW("interface:eth1", 5, true)),
			states: states(ok("interface:eth1")),
			want:   Result{Priority: 95, Reason: "interface eth1 up (weight +5 reverse): -5", FailedChecks: []string{"interface:eth1"}},
		},
		{
			name:   "address owner ignores weighted checks",
			inst:   instance(255, track("minus20"), track("plus10"), trackW("interface:eth1", -50, false)),
			states: states(bad("minus20"), bad("plus10"), bad("interface:eth1")),
			want:   Result{Priority: 255},
		},
		{
			name:   "address owner is still put in FAULT by a weight 0 check",
			inst:   instance(255, track("plus10"), track("dnsmasq")),
			states: states(ok("plus10"), bad("dnsmasq")),
			want:   Result{Priority: 255, Fault: true, Reason: "check dnsmasq failed (weight 0)", FailedChecks: []string{"dnsmasq"}},
		},
		{
			name:   "address owner treats a file's default weight 1 as weight 0",
			inst:   instance(255, track("file1")),
			states: states(val("file1", 3)),
			want:   Result{Priority: 255, Fault: true, Reason: "file check file1: value 3 (weight 0)", FailedChecks: []string{"file1"}},
		},
		{
			name:   "address owner ignores a file with another weight",
			inst:   instance(255, track("fileneg")),
			states: states(val("fileneg", 3)),
			want:   Result{Priority: 255},
		},
		{
			name: "weight 0 check without a result yet is FAULT",
			inst: instance(100, track("dnsmasq")),
			want: Result{Priority: 100, Fault: true, Reason: "check dnsmasq has no result yet (weight 0)"},
		},
		{
			name: "weighted check without a result yet moves nothing",
			inst: instance(100, track("plus10")),
			want: Result{Priority: 100, Reason: "check plus10 has no result yet (weight +10)"},
		},
		{
			name:   "a tracked check that is not configured is FAULT",
			inst:   instance(100, track("nosuch")),
			states: states(ok("nosuch")),
			want:   Result{Priority: 100, Fault: true, Reason: "tracked check nosuch is not configured", FailedChecks: []string{"nosuch"}},
		},
		{
			name: "nil instance is FAULT",
			inst: nil,
			want: Result{Priority: 1, Fault: true, Reason: "no instance configuration"},
		},
	}
	checks := fixtureChecks()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(tc.inst, lookupIn(checks), tc.states, "cnh", nil)
			assertResult(t, got, tc.want)
		})
	}
}

// TestComputeCheckKinds checks that every state-based kind follows the
// script rules: a weight 0 failure is FAULT, a weighted one moves the
// priority.
func TestComputeCheckKinds(t *testing.T) {
	checks := fixtureChecks()
	for _, name := range []string{"dnsmasq", "proc", "tcp", "http", "dns", "interface:eth1"} {
		c := checks[name]
		t.Run(string(c.Kind), func(t *testing.T) {
			got := Compute(instance(100, track(name)), lookupIn(checks), states(bad(name)), "cnh", nil)
			if !got.Fault || !slices.Equal(got.FailedChecks, []string{name}) {
				t.Errorf("weight 0, failing: got %+v, want FAULT with %s failed", got, name)
			}
			got = Compute(instance(100, trackW(name, -15, false)), lookupIn(checks), states(bad(name)), "cnh", nil)
			if got.Fault || got.Priority != 85 {
				t.Errorf("weight -15, failing: got %+v, want priority 85", got)
			}
			got = Compute(instance(100, trackW(name, 15, false)), lookupIn(checks), states(ok(name)), "cnh", nil)
			if got.Fault || got.Priority != 115 {
				t.Errorf("weight +15, succeeding: got %+v, want priority 115", got)
			}
		})
	}
}

func assertResult(t *testing.T, got, want Result) {
	t.Helper()
	if got.Priority != want.Priority || got.Fault != want.Fault || got.Reason != want.Reason ||
		!slices.Equal(got.FailedChecks, want.FailedChecks) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func orderInst(o OrderConfig, tracks ...Track) *Instance {
	i := instance(100, tracks...)
	i.Order = &o
	return i
}

func TestComputeOrder(t *testing.T) {
	const path = "/etc/vipd/order"
	parse := func(s string) *Order {
		l, problems := ParseOrder(path, []byte(s))
		if len(problems) > 0 {
			t.Fatalf("fixture %q: %v", s, problems)
		}
		return &l
	}
	three := parse("cnh\nsby\nwcdc\n")
	oneOff := parse("cnh\n#sby\nwcdc\n")
	seven := parse("n1\nn2\nn3\nn4\nn5\nn6\nn7\n")
	// As the agent holds an order agreed through gossip.
	cluster := &Order{Instance: "web", Version: 4, Origin: "sby", Source: "cluster order (version 4 from sby)",
		Nodes: []OrderNode{{Name: "sby", Line: 1}, {Name: "cnh", Line: 2, Disabled: true}, {Name: "wcdc", Line: 3}}}
	file := OrderConfig{File: path}
	rev := OrderConfig{File: path, Reverse: true}
	fault := OrderConfig{File: path, Unhealthy: UnhealthyFault}
	lowest := OrderConfig{File: path, Unhealthy: UnhealthyLowest}
	checks := fixtureChecks()

	tests := []struct {
		name   string
		inst   *Instance
		states map[string]CheckState
		node   string
		list   *Order
		want   Result
	}{
		{
			name: "first node is master",
			inst: orderInst(file), node: "cnh", list: three,
			want: Result{Priority: 250, Reason: "node cnh is number 1 in order file /etc/vipd/order:1"},
		},
		{
			name: "second node is first backup",
			inst: orderInst(file), node: "sby", list: three,
			want: Result{Priority: 200, Reason: "node sby is number 2 in order file /etc/vipd/order:2"},
		},
		{
			name: "third node",
			inst: orderInst(file), node: "wcdc", list: three,
			want: Result{Priority: 150, Reason: "node wcdc is number 3 in order file /etc/vipd/order:3"},
		},
		{
			name: "names match whatever their case",
			inst: orderInst(file), node: "CNH", list: three,
			want: Result{Priority: 250, Reason: "node cnh is number 1 in order file /etc/vipd/order:1"},
		},
		{
			name: "reverse makes the last node master",
			inst: orderInst(rev), node: "wcdc", list: three,
			want: Result{Priority: 250, Reason: "node wcdc is number 1 in order file /etc/vipd/order:3 counting from the end"},
		},
		{
			name: "reverse makes the first node last",
			inst: orderInst(rev), node: "cnh", list: three,
			want: Result{Priority: 150, Reason: "node cnh is number 3 in order file /etc/vipd/order:1 counting from the end"},
		},
		{
			name: "a cluster-wide order is named by its version and origin, not as a file",
			inst: orderInst(file), node: "wcdc", list: cluster,
			want: Result{Priority: 150, Reason: "node wcdc is number 3 in cluster order (version 4 from sby)"},
		},
		{
			name: "disabled in a cluster-wide order",
			inst: orderInst(file), node: "cnh", list: cluster,
			want: Result{Priority: 1, Reason: "node cnh disabled in cluster order (version 4 from sby)"},
		},
		{
			name: "disabled node drops to priority 1",
			inst: orderInst(file), node: "sby", list: oneOff,
			want: Result{Priority: 1, Reason: "node sby disabled in order file /etc/vipd/order:2"},
		},
		{
			name: "disabled node with the fault policy is FAULT",
			inst: orderInst(fault), node: "sby", list: oneOff,
			want: Result{Priority: 1, Fault: true, Reason: "node sby disabled in order file /etc/vipd/order:2"},
		},
		{
			name: "a disabled node keeps its slot",
			inst: orderInst(file), node: "wcdc", list: oneOff,
			want: Result{Priority: 150, Reason: "node wcdc is number 3 in order file /etc/vipd/order:3"},
		},
		{
			name: "a disabled node keeps its slot in reverse",
			inst: orderInst(rev), node: "cnh", list: oneOff,
			want: Result{Priority: 150, Reason: "node cnh is number 3 in order file /etc/vipd/order:1 counting from the end"},
		},
		{
			name: "node missing from the list drops to 1",
			inst: orderInst(lowest), node: "xyz", list: three,
			want: Result{Priority: 1, Reason: "node xyz not in order file /etc/vipd/order"},
		},
		{
			name: "node missing from the list with the fault policy",
			inst: orderInst(fault), node: "xyz", list: three,
			want: Result{Priority: 1, Fault: true, Reason: "node xyz not in order file /etc/vipd/order"},
		},
		{
			name: "node without a name",
			inst: orderInst(file), node: "", list: three,
			want: Result{Priority: 1, Reason: "this node has no name to look up in the order file /etc/vipd/order"},
		},
		{
			name: "order file not loaded",
			inst: orderInst(fault), node: "cnh", list: nil,
			want: Result{Priority: 1, Fault: true, Reason: "order file /etc/vipd/order not loaded"},
		},
		{
			name: "inline order is used when no list is given",
			inst: orderInst(OrderConfig{Nodes: []string{"cnh", "sby"}}), node: "sby",
			want: Result{Priority: 200, Reason: "node sby is number 2 in configured order, item 2"},
		},
		{
			name: "inline order with a disabled node",
			inst: orderInst(OrderConfig{Nodes: []string{"#cnh", "sby"}}), node: "cnh",
			want: Result{Priority: 1, Reason: "node cnh disabled in configured order, item 1"},
		},
		{
			name: "weighted checks do not move an order's priority",
			inst: orderInst(file, track("plus10"), track("minus20")), node: "sby", list: three,
			states: states(ok("plus10"), ok("minus20")),
			want:   Result{Priority: 200, Reason: "node sby is number 2 in order file /etc/vipd/order:2"},
		},
		{
			name: "any failing check makes the node unhealthy whatever its weight",
			inst: orderInst(file, track("plus10"), track("minus20")), node: "cnh", list: three,
			states: states(bad("plus10"), ok("minus20")),
			want:   Result{Priority: 1, Reason: "check plus10 failed (weight +10)", FailedChecks: []string{"plus10"}},
		},
		{
			name: "failing check with the fault policy",
			inst: orderInst(fault, track("dnsmasq")), node: "cnh", list: three,
			states: states(bad("dnsmasq")),
			want:   Result{Priority: 1, Fault: true, Reason: "check dnsmasq failed (weight 0)", FailedChecks: []string{"dnsmasq"}},
		},
		{
			name: "check without a result yet makes the node unhealthy",
			inst: orderInst(file, track("dnsmasq")), node: "cnh", list: three,
			want: Result{Priority: 1, Reason: "check dnsmasq has no result yet (weight 0)"},
		},
		{
			name: "every cause is given",
			inst: orderInst(file, track("dnsmasq"), track("interface:eth1")), node: "sby", list: oneOff,
			states: states(bad("dnsmasq"), bad("interface:eth1")),
			want: Result{Priority: 1, Fault: true, // the link down: see below
				Reason:       "node sby disabled in order file /etc/vipd/order:2; check dnsmasq failed (weight 0); interface eth1 down (weight 0)",
				FailedChecks: []string{"dnsmasq", "interface:eth1"}},
		},
		{
			// unhealthy: lowest still puts a node whose link is down in
			// FAULT: off its network, it must not claim the VIP there.
			name: "link down is FAULT whatever the policy",
			inst: orderInst(file, track("interface:eth1")), node: "sby", list: three,
			states: states(bad("interface:eth1")),
			want:   Result{Priority: 1, Fault: true, Reason: "interface eth1 down (weight 0)", FailedChecks: []string{"interface:eth1"}},
		},
		{
			name: "a failed check alone follows the policy (lowest)",
			inst: orderInst(file, track("dnsmasq")), node: "sby", list: three,
			states: states(bad("dnsmasq")),
			want:   Result{Priority: 1, Reason: "check dnsmasq failed (weight 0)", FailedChecks: []string{"dnsmasq"}},
		},
		{
			name: "an order ignores the configured owner priority",
			inst: func() *Instance { i := orderInst(file); i.Priority = 255; return i }(),
			node: "sby", list: three,
			want: Result{Priority: 200, Reason: "node sby is number 2 in order file /etc/vipd/order:2"},
		},
		{
			name: "configured priorities",
			inst: orderInst(OrderConfig{File: path, Priorities: []uint8{200, 100}}), node: "wcdc", list: three,
			want: Result{Priority: 99, Reason: "node wcdc is number 3 in order file /etc/vipd/order:3"},
		},
		{
			name: "positions past the default priorities step down by 1",
			inst: orderInst(file), node: "n7", list: seven,
			want: Result{Priority: 48, Reason: "node n7 is number 7 in order file /etc/vipd/order:7"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Compute(tc.inst, lookupIn(checks), tc.states, tc.node, tc.list)
			assertResult(t, got, tc.want)
		})
	}
}

// TestOrderFirstHealthyIsMaster runs every node of the design's scenario 5
// through Compute and checks that the highest priority belongs to the
// first enabled, healthy node, for both VIPs.
func TestOrderFirstHealthyIsMaster(t *testing.T) {
	nodes := []string{"cnh", "sby", "wcdc", "spare"}
	tests := []struct {
		name      string
		file      string
		unhealthy []string
		reverse   bool
		want      string
	}{
		{name: "all healthy", file: "cnh\nsby\nwcdc\nspare\n", want: "cnh"},
		{name: "all healthy reverse", file: "cnh\nsby\nwcdc\nspare\n", reverse: true, want: "spare"},
		{name: "first disabled", file: "#cnh\nsby\nwcdc\nspare\n", want: "sby"},
		{name: "first unhealthy", file: "cnh\nsby\nwcdc\nspare\n", unhealthy: []string{"cnh"}, want: "sby"},
		{name: "first two out", file: "# cnh\nsby\nwcdc\nspare\n", unhealthy: []string{"sby"}, want: "wcdc"},
		{name: "reverse with the last disabled", file: "cnh\nsby\nwcdc\n#spare\n", reverse: true, want: "wcdc"},
		{name: "missing node never wins", file: "sby\nwcdc\n", want: "sby"},
	}
	checks := fixtureChecks()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			list, _ := ParseOrder("order", []byte(tc.file))
			best, bestPrio, tie := "", 0, false
			for _, n := range nodes {
				st := states(ok("dnsmasq"))
				if slices.Contains(tc.unhealthy, n) {
					st = states(bad("dnsmasq"))
				}
				r := Compute(orderInst(OrderConfig{File: "order", Reverse: tc.reverse}, track("dnsmasq")), lookupIn(checks), st, n, &list)
				switch p := int(r.Priority); {
				case r.Fault:
				case p > bestPrio:
					best, bestPrio, tie = n, p, false
				case p == bestPrio:
					tie = true
				}
			}
			if best != tc.want || tie {
				t.Errorf("master = %s (priority %d, tie %v), want %s", best, bestPrio, tie, tc.want)
			}
		})
	}
}

func TestPositionPriority(t *testing.T) {
	tests := []struct {
		name  string
		pos   int
		prios []uint8
		want  uint8
	}{
		{name: "default first", pos: 0, want: 250},
		{name: "default second", pos: 1, want: 200},
		{name: "default last", pos: 4, want: 50},
		{name: "one past the defaults", pos: 5, want: 49},
		{name: "far past the defaults stops at 2", pos: 1000, want: 2},
		{name: "negative position is the first", pos: -3, want: 250},
		{name: "configured", pos: 1, prios: []uint8{240, 120}, want: 120},
		{name: "configured past the end", pos: 4, prios: []uint8{240, 120}, want: 117},
		{name: "255 is kept for owners", pos: 0, prios: []uint8{255}, want: 254},
		{name: "1 is kept for unhealthy nodes", pos: 0, prios: []uint8{1}, want: 2},
		{name: "0 is not a priority", pos: 1, prios: []uint8{10, 0}, want: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PositionPriority(tc.pos, tc.prios); got != tc.want {
				t.Errorf("PositionPriority(%d, %v) = %d, want %d", tc.pos, tc.prios, got, tc.want)
			}
		})
	}
}
