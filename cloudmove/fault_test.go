package cloudmove_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/cloudmove/faultproxy"
)

// Every action converges within its budget through latency, 500s,
// throttling and connection resets (before and after the call reaches
// EC2), and no change is made twice.
func TestFaultsConverge(t *testing.T) {
	l := newLab(t)
	subA := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	priv := l.must(l.w.Subnet(l.ctx, "198.51.100.128/26", "eu-west-1a", nil))
	var tables []string
	for range 3 {
		tables = append(tables, l.must(l.w.RouteTable(l.ctx, "")))
	}
	na, nb := l.node(subA, priv), l.node(subA, priv)
	alloc, _, err := l.w.ElasticIP(l.ctx)
	if err != nil {
		t.Fatal(err)
	}
	vol := l.must(l.w.Volume(l.ctx, "eu-west-1a"))
	o := l.owner(fmt.Sprintf(`actions:
  - secondary_ip: {}
  - elastic_ip: {allocation_id: %s}
  - route: {destination: 203.0.113.0/28, route_tables: [%s], interface: eth1}
  - ebs: {volume_id: %s, device: /dev/xvdf, force_detach_after: 1s}`, alloc, strings.Join(tables, ", "), vol))

	faults := faultproxy.Config{
		Latency: 5 * time.Millisecond,
		P500:    0.12, PThrottle: 0.12, PResetBefore: 0.08, PResetAfter: 0.08,
		Seed:          7,
		EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"},
	}
	l.proxy.Set(faults)
	a := l.start("A", na, o, nil)
	b := l.start("B", nb, o, nil)

	lostAnswers := 0 // mutating calls made whose answer the proxy cut off
	phase := func(name string, ag *agent, eni0, eni1 string) {
		t.Helper()
		l.proxy.ClearCalls()
		l.master(ag)
		for _, st := range ag.set.Status() {
			if st.Took >= 20*time.Second {
				t.Errorf("%s: %s took %v, beyond its budget", name, st.Name, st.Took)
			}
		}
		// Each change reached EC2 exactly once.
		applied := map[string]int{}
		injected := 0
		for _, c := range l.proxy.Calls() {
			if c.Fault != faultproxy.None && c.Fault != faultproxy.DryRun {
				injected++
			}
			if c.Fault == faultproxy.ResetAfter && faultproxy.Mutating(c.Action) && !c.DryRun {
				lostAnswers++
			}
			if !faultproxy.Mutating(c.Action) || c.DryRun || !c.Forwarded || c.Status != 200 {
				continue
			}
			key := c.Action
			switch c.Action {
			case "CreateRoute", "ReplaceRoute":
				key = "route " + c.Params.Get("RouteTableId")
			case "DetachVolume":
				key += " force=" + c.Params.Get("Force")
			}
			applied[key]++
		}
		for k, n := range applied {
			if n != 1 {
				t.Errorf("%s: %s applied %d times", name, k, n)
			}
		}
		if applied["AssignPrivateIpAddresses"] != 1 || applied["AssociateAddress"] != 1 || applied["AttachVolume"] != 1 {
			t.Errorf("%s: changes %v", name, applied)
		}
		for _, rt := range tables {
			if applied["route "+rt] != 1 {
				t.Errorf("%s: route in %s changed %d times", name, rt, applied["route "+rt])
			}
			if got := l.routeTarget(rt, "203.0.113.0/28"); got != eni1 {
				t.Errorf("%s: route in %s → %s, want %s", name, rt, got, eni1)
			}
		}
		if eni, _ := l.eipHolder(alloc); eni != eni0 {
			t.Errorf("%s: EIP on %s, want %s", name, eni, eni0)
		}
		if injected < 3 {
			t.Errorf("%s: only %d faults injected; the test proves nothing", name, injected)
		}
		t.Logf("%s: %d calls, %d faults injected, changes %v", name, len(l.proxy.Calls()), injected, applied)
	}
	phase("A", a, na.ENIs[0].ENI, na.ENIs[1].ENI)
	a.crash()
	phase("B", b, nb.ENIs[0].ENI, nb.ENIs[1].ENI)
	if lostAnswers == 0 {
		t.Error("no mutating call lost its answer: the no-repeat rule was not exercised (change the seed)")
	}
	if h, _ := l.volumeHolder(vol); h != nb.InstanceID {
		t.Errorf("volume on %q, want B", h)
	}
}

// A permission the policy lacks is reported by name at start, and the
// first failover fails at once (no retries) and faults the owner.
func TestMissingPermission(t *testing.T) {
	l := newLab(t)
	sub := l.must(l.w.Subnet(l.ctx, "198.51.100.0/26", "eu-west-1a", nil))
	na := l.node(sub)
	alloc, _, err := l.w.ElasticIP(l.ctx)
	if err != nil {
		t.Fatal(err)
	}
	l.proxy.Set(faultproxy.Config{Deny: []string{"AssociateAddress"}, EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"}})
	o := l.owner(fmt.Sprintf("on_failure: fault\nactions: [{elastic_ip: {allocation_id: %s}}]", alloc))
	a := l.start("A", na, o, nil)
	var denied []string
	for _, pc := range a.set.Permissions() {
		if pc.Checked && !pc.Allowed {
			denied = append(denied, pc.Permission)
		}
	}
	if fmt.Sprint(denied) != "[ec2:AssociateAddress]" {
		t.Fatalf("denied %v, want [ec2:AssociateAddress]; all: %+v", denied, a.set.Permissions())
	}
	if st := a.set.Status()[0]; !strings.Contains(st.Error, "missing IAM permission ec2:AssociateAddress") {
		t.Errorf("status error %q", st.Error)
	}
	if a.set.Faulted() {
		t.Fatal("faulted before any failover")
	}
	a.set.Master()
	ctx, cancel := context.WithTimeout(l.ctx, 10*time.Second)
	defer cancel()
	err = a.set.Wait(ctx)
	if err == nil || !strings.Contains(err.Error(), "missing IAM permission ec2:AssociateAddress") {
		t.Fatalf("Wait: %v", err)
	}
	st := a.set.Status()[0]
	if st.State != cloudmove.StateFailed || st.Attempts != 1 {
		t.Errorf("status %+v, want failed after 1 attempt", st)
	}
	if !a.set.Faulted() {
		t.Error("on_failure: fault did not fault")
	}
	if n := l.proxy.Count("AssociateAddress", false); n != 1 {
		t.Errorf("%d AssociateAddress calls, want 1 (a denial is not retried)", n)
	}
	failedAt := st.ErrorAt
	if failedAt.IsZero() {
		t.Errorf("no error time: %+v", st)
	}

	// The agent puts the owner in FAULT, which gives everything up: the
	// error and its time stay in the status through the release and the
	// fault hold.
	a.set.Backup()
	if err := a.set.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	st = a.set.Status()[0]
	if st.State != cloudmove.StateReleased || !strings.Contains(st.Error, "missing IAM permission ec2:AssociateAddress") || !st.ErrorAt.Equal(failedAt) {
		t.Errorf("after the release: %+v, want released with the error of %v", st, failedAt)
	}
	if !a.set.Faulted() {
		t.Error("the release ended the fault hold")
	}

	// Once the permission is granted, the next master round succeeds and
	// clears the error.
	l.proxy.Set(faultproxy.Config{EmulateDryRun: []string{"CreateRoute", "ReplaceRoute"}})
	a.set.Master()
	if err := a.set.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if st = a.set.Status()[0]; st.State != cloudmove.StateDone || st.Error != "" || !st.ErrorAt.IsZero() {
		t.Errorf("after a success: %+v, want done without error", st)
	}
}
