package config_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/config"
)

// fullAPICloudYAML sets every key of the api section and of cloud sections
// (on an instance and on a sync group), none to its default, so that an
// encoder dropping any of them fails the round trip. CERT, KEY, CA and
// TOKEN are replaced by files from writeAPIFiles.
const fullAPICloudYAML = `node: {name: n1}
api:
  socket: /run/vipd-test/api.sock
  listen: ["127.0.0.1:9800", "198.51.100.1:9746", "[2001:db8::1]:9746"]
  advertise: lb1.example.org:9746
  tls: {cert: CERT, key: KEY, client_ca: CA}
  token_file: TOKEN
  read_token_file: READTOKEN
  public_read: true
instances:
  - name: VI_1
    interface: eth0
    vrid: 51
    vips: [198.51.100.10/24, 198.51.100.11/24]
    cloud:
      region: eu-west-1
      endpoint: http://127.0.0.1:5000
      on_failure: fault
      reconcile_interval: 10s
      refresh_interval: 2m
      call_timeout: 2s
      retry_budget: 45s
      fault_hold: 0s
      actions:
        - secondary_ip: {interface: eth1, eni: eni-0123456789abcdef0, addresses: [198.51.100.10, 198.51.100.12]}
        - elastic_ip: {allocation_id: eipalloc-0123456789abcdef0, private_ip: 198.51.100.5, interface: eth2, eni: eni-0123456789abcdef1}
        - elastic_ip: {public_ip: 203.0.113.99}
        - route: {destination: 203.0.113.10/32, subnet_tags: {Network: private, "true": "123"}, include_main: true, interface: eth1, eni: eni-0123456789abcdef2}
        - route: {destination: 203.0.113.0/28, route_tables: [rtb-01234567, rtb-0123456789abcdef0]}
        - ebs: {volume_id: vol-0123456789abcdef0, device: /dev/xvdf, mount: /srv/data, fstype: ext4, force_detach_after: 0s}
        - ebs: {volume_id: vol-0123456789abcdef1, device: /dev/sdg}
  - name: VI_2
    interface: eth0
    vrid: 52
    vips: [198.51.100.20/24]
  - name: VI_3
    interface: eth1
    vrid: 53
    vips: [198.51.100.30/24]
sync_groups:
  - name: G
    instances: [VI_2, VI_3]
    cloud:
      on_failure: stay
      actions:
        - secondary_ip: {}
        - route: {destination: 203.0.113.32/28, route_tables: [rtb-89abcdef]}
`

func loadFullAPICloud(t *testing.T) *config.Config {
	t.Helper()
	f := writeAPIFiles(t)
	text := strings.NewReplacer("CERT", f.cert, "KEY", f.key, "CA", f.ca, "READTOKEN", f.readToken, "TOKEN", f.token).Replace(fullAPICloudYAML)
	cfg, err := config.ParseYAML("full.yaml", []byte(text), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatalf("ParseYAML: %v", err)
	}
	return cfg
}

// Every api and cloud key survives EncodeYAML and a load of its output.
func TestEncodeYAMLAPIAndCloud(t *testing.T) {
	cfg := loadFullAPICloud(t)
	// The input really sets what the test claims: none of it is a default.
	if cfg.API.SameSettings(ptr(config.DefaultAPI())) || cfg.API.TLS == nil || cfg.API.TLS.ClientCA == "" || !cfg.API.PublicRead {
		t.Fatalf("api not loaded as written: %+v", cfg.API)
	}
	c := cfg.Instances[0].Cloud
	if c == nil || len(c.Actions) != 7 || c.FaultHold != 0 || c.Actions[5].EBS.ForceDetachAfter != 0 ||
		c.Actions[6].EBS.ForceDetachAfter != cloudmove.DefaultForceDetachAfter || cfg.SyncGroups[0].Cloud == nil {
		t.Fatalf("cloud not loaded as written: %+v", c)
	}
	out, err := config.EncodeYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := config.ParseYAML("encoded.yaml", out, config.LoadOptions{Hostname: "other"})
	if err != nil {
		t.Fatalf("encoded YAML does not load: %v\n%s", err, out)
	}
	if d := cfg.Differences(again); len(d) > 0 {
		t.Fatalf("differences after the round trip:\n%s\n--- encoded:\n%s", strings.Join(d, "\n"), out)
	}
	for _, want := range []string{
		"\napi:\n  socket: /run/vipd-test/api.sock\n",
		"    - '[2001:db8::1]:9746'\n",
		"  advertise: lb1.example.org:9746\n",
		"  read_token_file: " + cfg.API.ReadTokenFile + "\n",
		"  public_read: true\n",
		"      fault_hold: 0s\n",
		"            force_detach_after: 0s\n",
		"            force_detach_after: 30s\n",
		"      on_failure: stay\n      reconcile_interval: 30s\n",
		"        - secondary_ip: {}\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Encoding is stable: the encoding of the reloaded configuration is the
	// same text.
	if out2, err := config.EncodeYAML(again); err != nil || string(out2) != string(out) {
		t.Errorf("second encoding differs (%v):\n%s\n--- first:\n%s", err, out2, out)
	}
}

// An instance with an order is written without a priority (the native
// format rejects one next to an order) and loads to the same settings.
func TestEncodeYAMLOrder(t *testing.T) {
	src := "node: {name: n2}\ninstances:\n  - name: VI_1\n    interface: eth0\n    vrid: 1\n" +
		"    order: {nodes: [n1, n2, n3], reverse: true, priorities: [200, 100, 50], unhealthy: fault}\n" +
		"    vips: [198.51.100.10/24]\n  - name: VI_2\n    interface: eth0\n    vrid: 2\n    priority: 120\n" +
		"    vips: [198.51.100.20/24]\n"
	cfg, err := config.ParseYAML("order.yaml", []byte(src), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := config.EncodeYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := config.ParseYAML("encoded.yaml", out, config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatalf("encoded YAML does not load: %v\n%s", err, out)
	}
	if d := cfg.Differences(again); len(d) > 0 {
		t.Errorf("differences after the round trip:\n%s", strings.Join(d, "\n"))
	}
	if n := strings.Count(string(out), "priority: "); n != 1 || !strings.Contains(string(out), "    priority: 120\n") {
		t.Errorf("want only VI_2's priority written:\n%s", out)
	}
}

// An api section that turns everything off ("" socket, no TCP) stays off.
func TestEncodeYAMLAPIOff(t *testing.T) {
	cfg, err := config.ParseYAML("off.yaml", []byte("node: {name: a}\napi: {socket: \"\", listen: []}\n"), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := config.EncodeYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "api:\n  socket: \"\"\n  listen: []\n") {
		t.Errorf("api off not written as such:\n%s", out)
	}
	again, err := config.ParseYAML("encoded.yaml", out, config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if again.API.Socket != "" || len(again.API.Listen) != 0 || !cfg.SameSettings(again) {
		t.Errorf("api off reloaded as %+v: %v", again.API, cfg.Differences(again))
	}
}

// A reload restarts an instance (and re-plans a sync group) whose only
// change is its cloud section: SameSettings must see every cloud setting,
// and nothing but positions may make two equal sections differ.
func TestSameSettingsCloud(t *testing.T) {
	a := loadFullAPICloud(t)
	mutations := map[string]func(c *config.Config){
		"section removed":    func(c *config.Config) { c.Instances[0].Cloud = nil },
		"section added":      func(c *config.Config) { c.Instances[1].Cloud = config.DefaultCloud() },
		"region":             func(c *config.Config) { c.Instances[0].Cloud.Region = "eu-west-2" },
		"endpoint":           func(c *config.Config) { c.Instances[0].Cloud.Endpoint = "" },
		"on_failure":         func(c *config.Config) { c.Instances[0].Cloud.OnFailure = cloudmove.Stay },
		"reconcile_interval": func(c *config.Config) { c.Instances[0].Cloud.ReconcileInterval = time.Minute },
		"refresh_interval":   func(c *config.Config) { c.Instances[0].Cloud.RefreshInterval = time.Minute },
		"call_timeout":       func(c *config.Config) { c.Instances[0].Cloud.CallTimeout = time.Second },
		"retry_budget":       func(c *config.Config) { c.Instances[0].Cloud.RetryBudget = time.Minute },
		"fault_hold":         func(c *config.Config) { c.Instances[0].Cloud.FaultHold = time.Second },
		"action removed":     func(c *config.Config) { c.Instances[0].Cloud.Actions = c.Instances[0].Cloud.Actions[1:] },
		"secondary_ip.interface": func(c *config.Config) {
			c.Instances[0].Cloud.Actions[0].SecondaryIP.Interface = "eth0"
		},
		"secondary_ip.eni": func(c *config.Config) { c.Instances[0].Cloud.Actions[0].SecondaryIP.ENI = "" },
		"secondary_ip.addresses": func(c *config.Config) {
			c.Instances[0].Cloud.Actions[0].SecondaryIP.Addresses[1] = netip.MustParseAddr("198.51.100.13")
		},
		"elastic_ip.allocation_id": func(c *config.Config) {
			c.Instances[0].Cloud.Actions[1].ElasticIP.AllocationID = "eipalloc-0123456789abcdef9"
		},
		"elastic_ip.private_ip": func(c *config.Config) { c.Instances[0].Cloud.Actions[1].ElasticIP.PrivateIP = netip.Addr{} },
		"elastic_ip.interface":  func(c *config.Config) { c.Instances[0].Cloud.Actions[1].ElasticIP.Interface = "" },
		"elastic_ip.eni":        func(c *config.Config) { c.Instances[0].Cloud.Actions[1].ElasticIP.ENI = "" },
		"elastic_ip.public_ip": func(c *config.Config) {
			c.Instances[0].Cloud.Actions[2].ElasticIP.PublicIP = netip.MustParseAddr("203.0.113.98")
		},
		"route.destination": func(c *config.Config) {
			c.Instances[0].Cloud.Actions[3].Route.Destination = netip.MustParsePrefix("203.0.113.11/32")
		},
		"route.subnet_tags":  func(c *config.Config) { c.Instances[0].Cloud.Actions[3].Route.SubnetTags["Network"] = "public" },
		"route.include_main": func(c *config.Config) { c.Instances[0].Cloud.Actions[3].Route.IncludeMain = false },
		"route.interface":    func(c *config.Config) { c.Instances[0].Cloud.Actions[3].Route.Interface = "eth0" },
		"route.eni":          func(c *config.Config) { c.Instances[0].Cloud.Actions[3].Route.ENI = "" },
		"route.route_tables": func(c *config.Config) { c.Instances[0].Cloud.Actions[4].Route.RouteTables[1] = "rtb-76543210" },
		"ebs.volume_id":      func(c *config.Config) { c.Instances[0].Cloud.Actions[5].EBS.VolumeID = "vol-01234567" },
		"ebs.device":         func(c *config.Config) { c.Instances[0].Cloud.Actions[5].EBS.Device = "/dev/xvdg" },
		"ebs.mount":          func(c *config.Config) { c.Instances[0].Cloud.Actions[5].EBS.Mount = "/srv/other" },
		"ebs.fstype":         func(c *config.Config) { c.Instances[0].Cloud.Actions[5].EBS.FSType = "xfs" },
		"ebs.force_detach_after": func(c *config.Config) {
			c.Instances[0].Cloud.Actions[5].EBS.ForceDetachAfter = time.Minute
		},
		"action kind": func(c *config.Config) {
			c.Instances[0].Cloud.Actions[6] = &cloudmove.ActionConfig{Kind: cloudmove.KindSecondaryIP, SecondaryIP: &cloudmove.SecondaryIPConfig{}}
		},
	}
	for name, mutate := range mutations {
		t.Run("instance "+name, func(t *testing.T) {
			b := loadFullAPICloud(t)
			mutate(b)
			i := 0
			if name == "section added" {
				i = 1
			}
			if a.Instances[i].SameSettings(b.Instances[i]) || b.Instances[i].SameSettings(a.Instances[i]) {
				t.Fatal("instances whose cloud sections differ have the same settings")
			}
			d := strings.Join(a.Differences(b), "\n")
			if want := "instances[" + string(rune('0'+i)) + "] (" + a.Instances[i].Name + ").cloud: "; !strings.Contains(d, want) {
				t.Errorf("differences lack %q:\n%s", want, d)
			}
		})
	}
	for name, mutate := range map[string]func(g *config.SyncGroup){
		"removed":     func(g *config.SyncGroup) { g.Cloud = nil },
		"on_failure":  func(g *config.SyncGroup) { g.Cloud.OnFailure = cloudmove.Fault },
		"action":      func(g *config.SyncGroup) { g.Cloud.Actions[1].Route.RouteTables = []string{"rtb-89abcdee"} },
		"action kind": func(g *config.SyncGroup) { g.Cloud.Actions = g.Cloud.Actions[:1] },
	} {
		t.Run("sync group "+name, func(t *testing.T) {
			b := loadFullAPICloud(t)
			mutate(b.SyncGroups[0])
			if a.SyncGroups[0].SameSettings(b.SyncGroups[0]) || b.SyncGroups[0].SameSettings(a.SyncGroups[0]) {
				t.Fatal("sync groups whose cloud sections differ have the same settings")
			}
			if d := strings.Join(a.Differences(b), "\n"); !strings.Contains(d, "sync_groups[0] (G).cloud: ") {
				t.Errorf("differences name no cloud section:\n%s", d)
			}
		})
	}
	// Positions aside, two loads are the same.
	b := loadFullAPICloud(t)
	b.Instances[0].Cloud.Pos = config.Pos{File: "elsewhere", Line: 99}
	config.SetCloudSource(b.Instances[0].Cloud, "actions[0]", config.Pos{File: "elsewhere", Line: 100}) // an action's position
	b.SyncGroups[0].Cloud.Pos = config.Pos{}
	if !a.Instances[0].SameSettings(b.Instances[0]) || !a.SyncGroups[0].SameSettings(b.SyncGroups[0]) {
		t.Errorf("equal cloud sections differ: %v", a.Differences(b))
	}
}
