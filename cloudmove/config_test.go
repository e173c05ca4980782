package cloudmove

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

// validOwner returns an instance owner with one valid action of each kind.
func validOwner() Owner {
	c := DefaultConfig()
	c.Actions = []*ActionConfig{
		{Kind: KindSecondaryIP, SecondaryIP: &SecondaryIPConfig{}},
		{Kind: KindElasticIP, ElasticIP: &ElasticIPConfig{AllocationID: "eipalloc-0123456789abcdef0"}},
		{Kind: KindRoute, Route: &RouteConfig{Destination: netip.MustParsePrefix("203.0.113.10/32"),
			RouteTables: []string{"rtb-01234567"}}},
		{Kind: KindEBS, EBS: &VolumeConfig{VolumeID: "vol-01234567", Device: "/dev/xvdf", Mount: "/srv/data",
			ForceDetachAfter: DefaultForceDetachAfter}},
	}
	return Owner{Kind: "instance", Name: "VI_1", Cloud: c, Interface: "eth0",
		VIPs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
}

// problems returns the owner's problems as field → message.
func problems(t *testing.T, o Owner) map[string]string {
	t.Helper()
	err := o.Validate()
	if err == nil {
		return nil
	}
	var ve ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate returned %T %v, not a ValidationError", err, err)
	}
	out := map[string]string{}
	for _, fe := range ve {
		out[fe.Field] = fe.Err.Error()
	}
	return out
}

func TestValidateValid(t *testing.T) {
	if err := validOwner().Validate(); err != nil {
		t.Fatalf("valid owner: %v", err)
	}
}

// Each rule names the field it is about, relative to the section, so that
// a front end can say where that field was written.
// fieldCase changes a valid owner so that exactly one field is wrong.
type fieldCase struct {
	name   string
	change func(o *Owner)
	field  string
	msg    string
}

// checkFields runs field cases: each rule names the field it is about,
// relative to the section, so that a front end can say where that field
// was written.
func checkFields(t *testing.T, cases []fieldCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := validOwner()
			tc.change(&o)
			got := problems(t, o)
			if len(got) != 1 || got[tc.field] != tc.msg {
				t.Fatalf("want only %s: %s; got %q", tc.field, tc.msg, got)
			}
		})
	}
}

func TestValidateSection(t *testing.T) {
	checkFields(t, []fieldCase{
		{"region", func(o *Owner) { o.Cloud.Region = "Europe" }, "region", `"Europe" is not a region name such as eu-west-1`},
		{"endpoint", func(o *Owner) { o.Cloud.Endpoint = "127.0.0.1:5000" }, "endpoint", `"127.0.0.1:5000" is not an http:// or https:// URL`},
		{"on_failure", func(o *Owner) { o.Cloud.OnFailure = "retry" }, "on_failure", `"retry" is not stay or fault`},
		{"budget below call timeout", func(o *Owner) { o.Cloud.RetryBudget = time.Second; o.Cloud.CallTimeout = 2 * time.Second },
			"retry_budget", "1s must be at least 2s"},
		{"fault_hold", func(o *Owner) { o.Cloud.FaultHold = -time.Second }, "fault_hold", "-1s is negative"},
		{"no actions", func(o *Owner) { o.Cloud.Actions = nil }, "actions", "must list at least one action"},
		{"unknown kind", func(o *Owner) { o.Cloud.Actions[0].Kind = "dns" }, "actions[0]", `"dns" is not a cloud action kind`},
		{"kind without its block", func(o *Owner) { o.Cloud.Actions[3].Kind = KindRoute },
			"actions[3]", "a route action needs its route settings and no other kind's"},
	})
}

// A resource moved by two actions, of one owner or of two, is a
// ConflictError naming the first claimant, which the front end spells.
func TestValidateConflicts(t *testing.T) {
	a, b := validOwner(), validOwner()
	b.Name = "VI_2"
	b.Cloud.Actions = b.Cloud.Actions[3:] // the same volume
	errs := Validate([]Owner{a, b})
	var ve ValidationError
	if len(errs) != 2 || errs[0] != nil || !errors.As(errs[1], &ve) || len(ve) != 1 {
		t.Fatalf("want one problem, of the second owner; got %v", errs)
	}
	fe := ve[0]
	var ce *ConflictError
	if fe.Field != "actions[0].ebs.volume_id" || !errors.As(fe, &ce) {
		t.Fatalf("problem %+v", fe)
	}
	if *ce != (ConflictError{Resource: "volume vol-01234567", Owner: 0, Field: "actions[3].ebs.volume_id"}) {
		t.Fatalf("conflict %+v", *ce)
	}

	// Within one owner: the default addresses are the owner's VIPs.
	o := validOwner()
	o.Cloud.Actions = append(o.Cloud.Actions, &ActionConfig{Kind: KindSecondaryIP,
		SecondaryIP: &SecondaryIPConfig{Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}})
	got := problems(t, o)
	if len(got) != 1 || got["actions[4].secondary_ip.addresses[0]"] != "secondary IP 198.51.100.10 is already moved by owner 0's actions[0].secondary_ip.addresses" {
		t.Fatalf("got %q", got)
	}
}

func TestParseOnFailure(t *testing.T) {
	for in, want := range map[string]OnFailure{"stay": Stay, "FAULT": Fault, "Stay": Stay} {
		if got, err := ParseOnFailure(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := ParseOnFailure("Retry"); err == nil || err.Error() != `"Retry" is not stay or fault` {
		t.Errorf("Retry: %v", err)
	}
}

func TestDefaultsAndSameSettings(t *testing.T) {
	c := DefaultConfig()
	if c.OnFailure != Stay || c.ReconcileInterval != 30*time.Second || c.RefreshInterval != time.Minute ||
		c.CallTimeout != 5*time.Second || c.RetryBudget != time.Minute || c.FaultHold != 5*time.Minute || len(c.Actions) != 0 {
		t.Fatalf("defaults %+v", c)
	}
	if v := DefaultVolumeConfig(); v.ForceDetachAfter != 30*time.Second {
		t.Fatalf("volume defaults %+v", v)
	}
	a, b := validOwner().Cloud, validOwner().Cloud
	if !a.SameSettings(b) {
		t.Fatal("equal sections differ")
	}
	b.Actions[2].Route.RouteTables = []string{"rtb-89abcdef"}
	if a.SameSettings(b) {
		t.Fatal("a changed route table is not noticed")
	}
	var none *Config
	if none.SameSettings(a) || !none.SameSettings(nil) {
		t.Fatal("nil sections")
	}
}

func TestInterfaces(t *testing.T) {
	o := validOwner()
	o.Cloud.Actions[0].SecondaryIP.Interface = "eth1"
	o.Cloud.Actions[2].Route.Interface = "eth2"
	o.Cloud.Actions = append(o.Cloud.Actions, &ActionConfig{Kind: KindElasticIP}) // no block: not read
	got := o.Cloud.Interfaces()
	if len(got) != 2 || got["actions[0].secondary_ip.interface"] != "eth1" || got["actions[2].route.interface"] != "eth2" {
		t.Fatalf("got %q", got)
	}
}
