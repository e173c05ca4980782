package cloudmove_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/vipd/vipd/cloudmove"
)

// validOwner returns an instance owner with one valid action of each kind.
func validOwner() cloudmove.Owner {
	c := cloudmove.DefaultConfig()
	c.Actions = []*cloudmove.ActionConfig{
		{Kind: cloudmove.KindSecondaryIP, SecondaryIP: &cloudmove.SecondaryIPConfig{}},
		{Kind: cloudmove.KindElasticIP, ElasticIP: &cloudmove.ElasticIPConfig{AllocationID: "eipalloc-0123456789abcdef0"}},
		{Kind: cloudmove.KindRoute, Route: &cloudmove.RouteConfig{Destination: netip.MustParsePrefix("203.0.113.10/32"),
			RouteTables: []string{"rtb-01234567"}}},
		{Kind: cloudmove.KindEBS, EBS: &cloudmove.VolumeConfig{VolumeID: "vol-01234567", Device: "/dev/xvdf", Mount: "/srv/data",
			ForceDetachAfter: cloudmove.DefaultForceDetachAfter}},
	}
	return cloudmove.Owner{Kind: "instance", Name: "VI_1", Cloud: c, Interface: "eth0",
		VIPs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
}

// problems returns Validate's problems as field → message.
func problems(t *testing.T, owners ...cloudmove.Owner) map[string]string {
	t.Helper()
	err := cloudmove.Validate(owners)
	if err == nil {
		return nil
	}
	var ve cloudmove.ValidationError
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
func TestValidateFieldErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(o *cloudmove.Owner)
		field  string
		msg    string
	}{
		{"region", func(o *cloudmove.Owner) { o.Cloud.Region = "Europe" }, "region", `"Europe" is not a region name such as eu-west-1`},
		{"endpoint", func(o *cloudmove.Owner) { o.Cloud.Endpoint = "127.0.0.1:5000" }, "endpoint", `"127.0.0.1:5000" is not an http:// or https:// URL`},
		{"on_failure", func(o *cloudmove.Owner) { o.Cloud.OnFailure = "retry" }, "on_failure", `"retry" is not stay or fault`},
		{"budget below call timeout", func(o *cloudmove.Owner) { o.Cloud.RetryBudget = time.Second; o.Cloud.CallTimeout = 2 * time.Second },
			"retry_budget", "1s must be at least 2s"},
		{"fault_hold", func(o *cloudmove.Owner) { o.Cloud.FaultHold = -time.Second }, "fault_hold", "-1s is negative"},
		{"no actions", func(o *cloudmove.Owner) { o.Cloud.Actions = nil }, "actions", "must list at least one action"},
		{"unknown kind", func(o *cloudmove.Owner) { o.Cloud.Actions[0].Kind = "dns" }, "actions[0]", `"dns" is not a cloud action kind`},
		{"kind without its block", func(o *cloudmove.Owner) { o.Cloud.Actions[3].Kind = cloudmove.KindRoute },
			"actions[3]", "a route action needs its route settings and no other kind's"},
		{"no interface to default to", func(o *cloudmove.Owner) {
			o.Interface, o.Cloud.Actions[1].ElasticIP.Interface, o.Cloud.Actions[2].Route.Interface = "", "eth0", "eth0"
		},
			"actions[0].secondary_ip.interface", "is required (the owner has no interface to default to)"},
		{"secondary ipv6", func(o *cloudmove.Owner) {
			o.Cloud.Actions[0].SecondaryIP.Addresses = []netip.Addr{netip.MustParseAddr("2001:db8::1")}
		}, "actions[0].secondary_ip.addresses[0]", "2001:db8::1: only IPv4 addresses can be moved as secondary private IPs"},
		{"secondary no VIP", func(o *cloudmove.Owner) { o.VIPs = nil },
			"actions[0].secondary_ip.addresses", "is required: the instance has no IPv4 VIP to default to"},
		{"eni id", func(o *cloudmove.Owner) { o.Cloud.Actions[1].ElasticIP.ENI = "vol-01234567" },
			"actions[1].elastic_ip.eni", `"vol-01234567" is not an id such as eni-0123456789abcdef0`},
		{"eip both", func(o *cloudmove.Owner) { o.Cloud.Actions[1].ElasticIP.PublicIP = netip.MustParseAddr("203.0.113.1") },
			"actions[1].elastic_ip.public_ip", "give allocation_id or public_ip, not both"},
		{"route host bits", func(o *cloudmove.Owner) {
			o.Cloud.Actions[2].Route.Destination = netip.MustParsePrefix("203.0.113.10/24")
		},
			"actions[2].route.destination", "203.0.113.10/24 has host bits set; the network is 203.0.113.0/24"},
		{"route table id", func(o *cloudmove.Owner) { o.Cloud.Actions[2].Route.RouteTables = []string{"rtb-01234567", "rtb-xyz"} },
			"actions[2].route.route_tables[1]", `"rtb-xyz" is not an id such as rtb-0123456789abcdef0`},
		{"include_main without tags", func(o *cloudmove.Owner) { o.Cloud.Actions[2].Route.IncludeMain = true },
			"actions[2].route.include_main", "only applies to subnet_tags (list the main table in route_tables instead)"},
		{"ebs device", func(o *cloudmove.Owner) { o.Cloud.Actions[3].EBS.Device = "sdf" },
			"actions[3].ebs.device", `"sdf" is not a device name EC2 accepts, such as /dev/sdf or /dev/xvdf`},
		{"ebs mount", func(o *cloudmove.Owner) { o.Cloud.Actions[3].EBS.Mount = "/srv/../data" },
			"actions[3].ebs.mount", `"/srv/../data" must be a clean absolute path other than /`},
	} {
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

// A resource moved by two actions, of one owner or of two, is a
// ConflictError naming the first claimant, which the front end spells.
func TestValidateConflicts(t *testing.T) {
	a, b := validOwner(), validOwner()
	b.Name = "VI_2"
	b.Cloud.Actions = b.Cloud.Actions[3:] // the same volume
	err := cloudmove.Validate([]cloudmove.Owner{a, b})
	var ve cloudmove.ValidationError
	if !errors.As(err, &ve) || len(ve) != 1 {
		t.Fatalf("want one problem, got %v", err)
	}
	fe := ve[0]
	var ce *cloudmove.ConflictError
	if fe.Owner != 1 || fe.Field != "actions[0].ebs.volume_id" || !errors.As(fe, &ce) {
		t.Fatalf("problem %+v", fe)
	}
	if *ce != (cloudmove.ConflictError{Resource: "volume vol-01234567", Owner: 0, Field: "actions[3].ebs.volume_id"}) {
		t.Fatalf("conflict %+v", *ce)
	}

	// Within one owner: the default addresses are the owner's VIPs.
	o := validOwner()
	o.Cloud.Actions = append(o.Cloud.Actions, &cloudmove.ActionConfig{Kind: cloudmove.KindSecondaryIP,
		SecondaryIP: &cloudmove.SecondaryIPConfig{Addresses: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}})
	got := problems(t, o)
	if len(got) != 1 || got["actions[4].secondary_ip.addresses[0]"] != "secondary IP 198.51.100.10 is already moved by owner 0's actions[0].secondary_ip.addresses" {
		t.Fatalf("got %q", got)
	}
}

func TestParseOnFailure(t *testing.T) {
	for in, want := range map[string]cloudmove.OnFailure{"stay": cloudmove.Stay, "FAULT": cloudmove.Fault, "Stay": cloudmove.Stay} {
		if got, err := cloudmove.ParseOnFailure(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	if _, err := cloudmove.ParseOnFailure("Retry"); err == nil || err.Error() != `"Retry" is not stay or fault` {
		t.Errorf("Retry: %v", err)
	}
}

func TestDefaultsAndSameSettings(t *testing.T) {
	c := cloudmove.DefaultConfig()
	if c.OnFailure != cloudmove.Stay || c.ReconcileInterval != 30*time.Second || c.RefreshInterval != time.Minute ||
		c.CallTimeout != 5*time.Second || c.RetryBudget != time.Minute || c.FaultHold != 5*time.Minute || len(c.Actions) != 0 {
		t.Fatalf("defaults %+v", c)
	}
	if v := cloudmove.DefaultVolumeConfig(); v.ForceDetachAfter != 30*time.Second {
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
	var none *cloudmove.Config
	if none.SameSettings(a) || !none.SameSettings(nil) {
		t.Fatal("nil sections")
	}
}

func TestInterfaces(t *testing.T) {
	o := validOwner()
	o.Cloud.Actions[0].SecondaryIP.Interface = "eth1"
	o.Cloud.Actions[2].Route.Interface = "eth2"
	o.Cloud.Actions = append(o.Cloud.Actions, &cloudmove.ActionConfig{Kind: cloudmove.KindElasticIP}) // no block: not read
	got := o.Cloud.Interfaces()
	if len(got) != 2 || got["actions[0].secondary_ip.interface"] != "eth1" || got["actions[2].route.interface"] != "eth2" {
		t.Fatalf("got %q", got)
	}
}
