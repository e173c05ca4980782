package config_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

const cloudYAML = `instances:
  - name: VI_DNS
    interface: eth0
    vrid: 51
    vips: [198.51.100.10/26, "2001:db8::10/64"]
    cloud:
      region: eu-west-1
      endpoint: http://127.0.0.1:5000
      on_failure: fault
      reconcile_interval: 10s
      actions:
        - secondary_ip: {}
        - elastic_ip: {allocation_id: eipalloc-0123456789abcdef0, private_ip: 198.51.100.5}
        - route: {destination: 203.0.113.10/32, subnet_tags: {Network: private}, include_main: true, interface: eth1}
        - ebs: {volume_id: vol-0123456789abcdef0, device: /dev/xvdf, mount: /srv/data, force_detach_after: 1m}
  - name: VI_2
    interface: eth0
    vrid: 52
    vips: [198.51.100.20/26]
  - name: VI_3
    interface: eth1
    vrid: 53
    vips: [198.51.100.30/26]
sync_groups:
  - name: G
    instances: [VI_2, VI_3]
    cloud:
      actions:
        - secondary_ip: {eni: eni-0123456789abcdef1}
        - elastic_ip: {public_ip: 203.0.113.99}
        - route: {destination: 203.0.113.0/28, route_tables: [rtb-01234567, rtb-0123456789abcdef0]}
`

func TestCloudYAML(t *testing.T) {
	cfg, err := config.ParseYAML("c.yaml", []byte(cloudYAML), config.LoadOptions{Hostname: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Instances[0].Cloud
	if c == nil || c.Region != "eu-west-1" || c.Endpoint != "http://127.0.0.1:5000" || c.OnFailure != cloudmove.Fault ||
		c.ReconcileInterval != 10*time.Second || c.CallTimeout != cloudmove.DefaultCallTimeout || c.RetryBudget != cloudmove.DefaultRetryBudget {
		t.Fatalf("section: %+v", c)
	}
	if c.Pos != (config.Pos{File: "c.yaml", Line: 6}) {
		t.Errorf("pos %v", c.Pos)
	}
	if len(c.Actions) != 4 {
		t.Fatalf("%d actions", len(c.Actions))
	}
	if a := c.Actions[0]; a.Kind != cloudmove.KindSecondaryIP || a.SecondaryIP.Interface != "" || a.SecondaryIP.Addresses != nil {
		t.Errorf("secondary: %+v", a.SecondaryIP)
	}
	if a := c.Actions[1].ElasticIP; a.AllocationID != "eipalloc-0123456789abcdef0" || a.PrivateIP != netip.MustParseAddr("198.51.100.5") {
		t.Errorf("eip: %+v", a)
	}
	if a := c.Actions[2].Route; a.Destination != netip.MustParsePrefix("203.0.113.10/32") || a.SubnetTags["Network"] != "private" ||
		!a.IncludeMain || a.Interface != "eth1" || a.RouteTables != nil {
		t.Errorf("route: %+v", a)
	}
	if a := c.Actions[3].EBS; a.VolumeID != "vol-0123456789abcdef0" || a.Device != "/dev/xvdf" || a.Mount != "/srv/data" || a.ForceDetachAfter != time.Minute {
		t.Errorf("ebs: %+v", a)
	}
	if cfg.SyncGroups[0].Cloud == nil || cfg.SyncGroups[0].Cloud.OnFailure != cloudmove.Stay {
		t.Fatalf("group cloud: %+v", cfg.SyncGroups[0].Cloud)
	}
	owners := cfg.CloudOwners()
	if len(owners) != 2 {
		t.Fatalf("owners: %+v", owners)
	}
	if o := owners[0]; o.Kind != "instance" || o.Interface != "eth0" || len(o.VIPs) != 1 || o.VIPs[0] != netip.MustParseAddr("198.51.100.10") {
		t.Errorf("owner 0: %+v", o)
	}
	if o := owners[1]; o.Kind != "sync_group" || o.Interface != "eth0" || len(o.VIPs) != 2 || o.VIPs[1] != netip.MustParseAddr("198.51.100.30") {
		t.Errorf("owner 1: %+v", o)
	}
	if !c.SameSettings(c) || c.SameSettings(cfg.SyncGroups[0].Cloud) {
		t.Error("SameSettings")
	}
}

func TestCloudYAMLErrors(t *testing.T) {
	for _, tc := range []struct {
		name, cloud, want string
	}{
		{"unknown key", "actions: [{secondary_ip: {}}]\n      bogus: 1", "c.yaml:8: instances[0].cloud.bogus: unknown key"},
		{"two kinds", "actions:\n        - {secondary_ip: {}, ebs: {volume_id: vol-01234567, device: /dev/xvdf}}",
			"c.yaml:8: instances[0].cloud.actions[0].ebs: an action has exactly one kind"},
		{"no kind", "actions:\n        - {}", "c.yaml:8: instances[0].cloud.actions[0]: needs one kind"},
		{"no actions", "region: eu-west-1", "c.yaml:6: instances[0].cloud.actions: must list at least one action"},
		{"bad region", "region: Europe\n      actions: [{secondary_ip: {}}]", "c.yaml:7: instances[0].cloud.region: \"Europe\" is not a region name"},
		{"bad endpoint", "endpoint: 127.0.0.1:5000\n      actions: [{secondary_ip: {}}]", "c.yaml:7: instances[0].cloud.endpoint: \"127.0.0.1:5000\" is not an http"},
		{"on_failure", "on_failure: retry\n      actions: [{secondary_ip: {}}]", "c.yaml:7: instances[0].cloud.on_failure: \"retry\" is not stay or fault"},
		{"eni prefix", "actions:\n        - secondary_ip: {eni: vol-0123456789abcdef0}", "c.yaml:8: instances[0].cloud.actions[0].secondary_ip.eni: \"vol-0123456789abcdef0\" is not an id"},
		{"ipv6 secondary", "actions:\n        - secondary_ip:\n            addresses: [198.51.100.11, \"2001:db8::1\"]",
			"c.yaml:9: instances[0].cloud.actions[0].secondary_ip.addresses[1]: 2001:db8::1: only IPv4"},
		{"eip both", "actions:\n        - elastic_ip: {allocation_id: eipalloc-01234567, public_ip: 203.0.113.1}", "c.yaml:8: instances[0].cloud.actions[0].elastic_ip.public_ip: give allocation_id or public_ip, not both"},
		{"eip none", "actions:\n        - elastic_ip: {private_ip: 198.51.100.5}", "c.yaml:8: instances[0].cloud.actions[0].elastic_ip.allocation_id: is required"},
		{"eip id", "actions:\n        - elastic_ip: {allocation_id: eip-01234567}", "elastic_ip.allocation_id: \"eip-01234567\" is not an id"},
		{"route host bits", "actions:\n        - route: {destination: 203.0.113.10/24, route_tables: [rtb-01234567]}", "c.yaml:8: instances[0].cloud.actions[0].route.destination: 203.0.113.10/24 has host bits set"},
		{"route both", "actions:\n        - route: {destination: 203.0.113.10/32, route_tables: [rtb-01234567], subnet_tags: {a: b}}", "route.subnet_tags: give route_tables or subnet_tags, not both"},
		{"route neither", "actions:\n        - route: {destination: 203.0.113.10/32}", "route.route_tables: is required (or subnet_tags)"},
		{"route table id", "actions:\n        - route:\n            destination: 203.0.113.10/32\n            route_tables: [rtb-xyz]", "c.yaml:10: instances[0].cloud.actions[0].route.route_tables[0]: \"rtb-xyz\" is not an id"},
		{"include_main", "actions:\n        - route: {destination: 203.0.113.10/32, route_tables: [rtb-01234567], include_main: true}", "route.include_main: only applies to subnet_tags"},
		{"ebs device", "actions:\n        - ebs: {volume_id: vol-01234567, device: sdf}", "c.yaml:8: instances[0].cloud.actions[0].ebs.device: \"sdf\" is not a device name"},
		{"ebs mount", "actions:\n        - ebs: {volume_id: vol-01234567, device: /dev/sdf, mount: data}", "ebs.mount: \"data\" must be a clean absolute path"},
		{"ebs volume", "actions:\n        - ebs: {device: /dev/sdf}", "ebs.volume_id: is required"},
		{"dup volume", "actions:\n        - ebs: {volume_id: vol-01234567, device: /dev/sdf}\n        - ebs: {volume_id: vol-01234567, device: /dev/sdg}",
			"c.yaml:9: instances[0].cloud.actions[1].ebs.volume_id: volume vol-01234567 is already moved by instances[0].cloud.actions[0].ebs.volume_id"},
		{"budget", "retry_budget: 1s\n      call_timeout: 2s\n      actions: [{secondary_ip: {}}]", "instances[0].cloud.retry_budget: 1s must be at least 2s"},
		{"duration", "reconcile_interval: often\n      actions: [{secondary_ip: {}}]", "c.yaml:7: instances[0].cloud.reconcile_interval: \"often\" is not a duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "instances:\n  - name: VI_1\n    interface: eth0\n    vrid: 1\n    vips: [198.51.100.10]\n    cloud:\n      " + tc.cloud + "\n"
			_, err := config.ParseYAML("c.yaml", []byte(doc), config.LoadOptions{Hostname: "n1"})
			if err == nil {
				t.Fatalf("no error for:\n%s", doc)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want %q in:\n%v\n--- doc:\n%s", tc.want, err, doc)
			}
		})
	}
}

func TestCloudDefaultAddressesNeedIPv4VIP(t *testing.T) {
	doc := "instances:\n  - name: VI_1\n    interface: eth0\n    vrid: 1\n    vips: [\"2001:db8::1/64\"]\n    cloud:\n      actions: [{secondary_ip: {}}]\n"
	_, err := config.ParseYAML("c.yaml", []byte(doc), config.LoadOptions{Hostname: "n1"})
	if err == nil || !strings.Contains(err.Error(), "c.yaml:7: instances[0].cloud.actions[0].secondary_ip.addresses: is required: the instance has no IPv4 VIP") {
		t.Fatalf("got %v", err)
	}
}

// A section built in code is held to the same rules.
func TestCloudValidateCode(t *testing.T) {
	cfg := config.DefaultConfig()
	inst := configtest.Instance("VI_1", "eth0", 1)
	inst.VIPs = []config.VIP{configtest.VIP("198.51.100.10/32", "eth0")}
	inst.Cloud = config.DefaultCloud()
	inst.Cloud.Actions = []*cloudmove.ActionConfig{{Kind: cloudmove.KindRoute, Route: &cloudmove.RouteConfig{Destination: netip.MustParsePrefix("203.0.113.1/32")}},
		{Kind: cloudmove.KindEBS, SecondaryIP: &cloudmove.SecondaryIPConfig{}}}
	cfg.Instances = []*config.Instance{inst}
	ds := cfg.Validate(nil)
	configtest.RequireDiag(t, ds, config.SeverityError, "instances[0].cloud.actions[0].route.route_tables: is required")
	configtest.RequireDiag(t, ds, config.SeverityError, "instances[0].cloud.actions[1]: a ebs action needs its ebs settings")
}
