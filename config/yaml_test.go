package config_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
)

func TestLoadGoodYAML(t *testing.T) {
	cfg, err := loadYAML("testdata/good.yaml", config.LoadOptions{Hostname: "unused"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Format != config.FormatYAML || cfg.Path != "testdata/good.yaml" || cfg.Node.Name != "n1" {
		t.Errorf("got format %v path %q node %q", cfg.Format, cfg.Path, cfg.Node.Name)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("unexpected warnings:\n%s", configtest.Render(cfg.Warnings))
	}
	global := config.GARP{MasterDelay: 2 * time.Second, MasterRepeat: 3, MasterRefresh: time.Minute,
		MasterRefreshRepeat: 2, Interval: 10 * time.Millisecond, NAInterval: 20 * time.Millisecond}

	vi1 := configtest.Instance("VI_1", "veth0", 51)
	vi1.Version, vi1.Priority, vi1.PreemptDelay = 2, 150, 30*time.Second
	vi1.UnicastSource = mustAddr("198.51.100.1")
	vi1.UnicastPeers = []netip.Addr{mustAddr("198.51.100.2"), mustAddr("198.51.100.3")}
	vi1.AuthPass = "s3cret"
	vi1.VIPs = []config.VIP{
		configtest.VIP("198.51.100.100/24", "veth0"),
		{Prefix: mustPrefix("198.51.100.101/24"), Interface: "veth0", Label: "veth0:vip"},
		configtest.VIP("203.0.113.7/32", "veth1"),
		{Prefix: mustPrefix("198.51.100.200/32"), Interface: "veth0", Excluded: true},
		configtest.VIP("2001:db8::100/64", "veth0"),
	}
	vi1.GARP = global
	vi1.GARP.MasterDelay = time.Second

	vi6 := configtest.Instance("VI_6", "veth1", 52)
	vi6.Family, vi6.Version, vi6.Priority, vi6.InitialState = inet.IPv6, 3, 255, fsm.Master
	vi6.AdvertInterval = 500 * time.Millisecond
	vi6.VIPs = []config.VIP{configtest.VIP("fe80::52/128", "veth1"), configtest.VIP("2001:db8:1::52/64", "veth1")}
	vi6.GARP = global

	vi7 := configtest.Instance("VI_7", "veth1", 52)
	vi7.Version, vi7.Preempt = 2, false
	vi7.VIPs = []config.VIP{configtest.VIP("203.0.113.52/32", "veth1")}
	vi7.GARP = global

	configtest.SameInstances(t, cfg.Instances, []*config.Instance{vi1, vi6, vi7})

	if got := cfg.Instances[0].VIPs[1].Pos; got != (config.Pos{File: "testdata/good.yaml", Line: 30}) {
		t.Errorf("VIP position = %v, want testdata/good.yaml:30", got)
	}
	if got := cfg.Instances[2].Pos.Line; got != 43 {
		t.Errorf("VI_7 defined at line %d, want 43", got)
	}
	if got, want := cfg.Instances[0].AdvertisedVIPs(), []netip.Addr{mustAddr("198.51.100.100"), mustAddr("198.51.100.101"), mustAddr("203.0.113.7")}; !equalAddrs(got, want) {
		t.Errorf("AdvertisedVIPs = %v, want %v", got, want)
	}
}

func equalAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestYAMLDefaults(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want func() *config.Instance
	}{
		{
			name: "minimal IPv4 instance gets keepalived's defaults",
			yaml: "instances:\n- {name: a, interface: eth0, vrid: 1, vips: [192.0.2.1]}\n",
			want: func() *config.Instance {
				i := configtest.Instance("a", "eth0", 1)
				i.VIPs = []config.VIP{configtest.VIP("192.0.2.1/32", "eth0")}
				return i
			},
		},
		{
			name: "IPv6 defaults to version 3 even when vrrp.version is 2",
			yaml: "vrrp: {version: 2}\ninstances:\n- {name: a, interface: eth0, vrid: 1, vips: [\"fe80::1\"]}\n",
			want: func() *config.Instance {
				i := configtest.Instance("a", "eth0", 1)
				i.Family, i.Version = inet.IPv6, 3
				i.VIPs = []config.VIP{configtest.VIP("fe80::1/128", "eth0")}
				return i
			},
		},
		{
			name: "state master without priority means priority 255",
			yaml: "instances:\n- {name: a, interface: eth0, vrid: 1, state: MASTER, vips: [192.0.2.1]}\n",
			want: func() *config.Instance {
				i := configtest.Instance("a", "eth0", 1)
				i.Priority, i.InitialState = 255, fsm.Master
				i.VIPs = []config.VIP{configtest.VIP("192.0.2.1/32", "eth0")}
				return i
			},
		},
		{
			name: "priority 255 without state means MASTER",
			yaml: "instances:\n- {name: a, interface: eth0, vrid: 1, priority: 255, vips: [192.0.2.1]}\n",
			want: func() *config.Instance {
				i := configtest.Instance("a", "eth0", 1)
				i.Priority, i.InitialState = 255, fsm.Master
				i.VIPs = []config.VIP{configtest.VIP("192.0.2.1/32", "eth0")}
				return i
			},
		},
		{
			name: "family comes from the unicast source before the VIPs",
			yaml: "instances:\n- {name: a, interface: eth0, vrid: 1, unicast: {source: \"2001:db8::1\", peers: [\"2001:db8::2\"]}, vips: [192.0.2.1, \"2001:db8::9\"]}\n",
			want: func() *config.Instance {
				i := configtest.Instance("a", "eth0", 1)
				i.Family, i.Version = inet.IPv6, 3
				i.UnicastSource = mustAddr("2001:db8::1")
				i.UnicastPeers = []netip.Addr{mustAddr("2001:db8::2")}
				i.VIPs = []config.VIP{configtest.VIP("192.0.2.1/32", "eth0"), configtest.VIP("2001:db8::9/128", "eth0")}
				return i
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML("/etc/vipd.yaml", []byte(tc.yaml), config.LoadOptions{Hostname: "h.example.org"})
			if err != nil {
				t.Fatalf("ParseYAML: %v", err)
			}
			if cfg.Node.Name != "h.example.org" {
				t.Errorf("node name %q, want the host name", cfg.Node.Name)
			}
			configtest.SameInstances(t, cfg.Instances, []*config.Instance{tc.want()})
		})
	}
}

func TestYAMLErrors(t *testing.T) {
	const head = "instances:\n- name: VI_1\n  interface: veth0\n" // lines 1-3
	host := configtest.FakeHost{"veth0": {mustPrefix("198.51.100.1/24")}}
	tests := []struct {
		name string
		yaml string
		host config.Host
		want []string // each must appear in some error
	}{
		{"vrid out of range", head + "  vrid: 300\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:4: instances[0].vrid: 300 is out of range 1-255"}},
		{"vrid not an integer", head + "  vrid: abc\n  vips: [198.51.100.100]\n", nil,
			[]string{`/etc/vipd.yaml:4: instances[0].vrid: "abc" is not an integer`}},
		{"vrid huge", head + "  vrid: 99999999999999999999999\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:4: instances[0].vrid: 99999999999999999999999 is out of range 1-255"}},
		{"vrid missing", head + "  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:2: instances[0].vrid: is required (1-255)"}},
		{"priority zero", head + "  vrid: 1\n  priority: 0\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].priority: 0 is out of range 1-255"}},
		{"priority 255 without owning the VIP", head + "  vrid: 1\n  priority: 255\n  vips: [198.51.100.100]\n", host,
			[]string{"/etc/vipd.yaml:5: instances[0].priority: 255 is reserved for the address owner, but 198.51.100.100 is not an address of veth0"}},
		{"v2 advert not whole seconds", head + "  vrid: 1\n  advert_interval: 1500ms\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].advert_interval: 1.5s is not whole seconds in 1s-255s (VRRPv2)"}},
		{"v2 advert too long", head + "  vrid: 1\n  advert_interval: 256s\n  vips: [198.51.100.100]\n", nil,
			[]string{"instances[0].advert_interval: 4m16s is not whole seconds in 1s-255s"}},
		{"v3 advert not centiseconds", head + "  vrid: 1\n  version: 3\n  advert_interval: 15ms\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:6: instances[0].advert_interval: 15ms is not a multiple of 10ms in 10ms-40.95s (VRRPv3)"}},
		{"v3 advert too long", head + "  vrid: 1\n  version: 3\n  advert_interval: 41s\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:6: instances[0].advert_interval: 41s is not a multiple of 10ms in 10ms-40.95s"}},
		{"advert without unit", head + "  vrid: 1\n  advert_interval: 1\n  vips: [198.51.100.100]\n", nil,
			[]string{`/etc/vipd.yaml:5: instances[0].advert_interval: "1" is not a duration`}},
		{"PASS auth with v3", head + "  vrid: 1\n  version: 3\n  auth: {type: pass, password: x}\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:6: instances[0].auth: PASS authentication exists only in VRRPv2, not v3"}},
		{"password too long", head + "  vrid: 1\n  auth: {type: pass, password: 123456789}\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].auth: password is 9 bytes, at most 8"}},
		{"AH auth", head + "  vrid: 1\n  auth: {type: ah, password: x}\n  vips: [198.51.100.100]\n", nil,
			[]string{`/etc/vipd.yaml:5: instances[0].auth.type: "ah" is not supported`}},
		{"same vrid and family on one interface", head + "  vrid: 7\n  vips: [198.51.100.100]\n- {name: VI_2, interface: veth0, vrid: 7, vips: [198.51.100.101]}\n", nil,
			[]string{`/etc/vipd.yaml:6: instances[1].vrid: 7 is already used by instance "VI_1" for IPv4 on veth0`}},
		{"VRRPv2 over IPv6", head + "  vrid: 1\n  version: 2\n  vips: [\"fe80::1\"]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].version: VRRPv2 is IPv4-only (RFC 3768) but the instance is IPv6"}},
		{"unicast source of the other family", head + "  vrid: 1\n  family: ipv4\n  unicast: {source: \"2001:db8::1\", peers: [198.51.100.2]}\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:6: instances[0].unicast.source: 2001:db8::1 is not IPv4, the instance's family"}},
		{"peer of the other family", head + "  vrid: 1\n  unicast:\n    source: 198.51.100.1\n    peers:\n    - 198.51.100.2\n    - \"2001:db8::2\"\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:9: instances[0].unicast.peers[1]: 2001:db8::2 is not IPv4, the instance's family"}},
		{"label not starting with the interface", head + "  vrid: 1\n  vips:\n  - {address: 198.51.100.100/24, label: \"eth9:x\"}\n", nil,
			[]string{`/etc/vipd.yaml:6: instances[0].vips[0]: label "eth9:x" must start with the interface name "veth0"`}},
		{"label on IPv6", head + "  vrid: 1\n  vips:\n  - 198.51.100.100\n  - {address: \"2001:db8::1\", label: \"veth0:x\"}\n", nil,
			[]string{`/etc/vipd.yaml:7: instances[0].vips[1]: label "veth0:x": IPv6 addresses have no labels`}},
		{"label too long", head + "  vrid: 1\n  vips:\n  - {address: 198.51.100.100, label: \"veth0:0123456789\"}\n", nil,
			[]string{`/etc/vipd.yaml:6: instances[0].vips[0]: label "veth0:0123456789" is longer than 15 characters`}},
		{"bad VIP", head + "  vrid: 1\n  vips: [198.51.100.300]\n", nil,
			[]string{`/etc/vipd.yaml:5: instances[0].vips[0]: "198.51.100.300" is not an IP address`}},
		{"duplicate VIP", head + "  vrid: 1\n  vips: [198.51.100.1, 198.51.100.1/24]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].vips[1]: 198.51.100.1 is already listed (entry 0)"}},
		{"too many IPv6 VIPs for one advert", head + "  vrid: 1\n  vips: [\"fe80::1\", " + manyV6(89) + "]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].vips: 90 addresses to advertise, at most 89 fit in an advert"}},
		{"nopreempt with MASTER", head + "  vrid: 1\n  state: master\n  priority: 100\n  preempt: false\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:7: instances[0].preempt: preempt must be on with initial state MASTER"}},
		{"preempt delay too long", head + "  vrid: 1\n  preempt_delay: 1001s\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].preempt_delay: 16m41s is out of range 0s-16m40s"}},
		{"preempt delay with nopreempt", head + "  vrid: 1\n  preempt: false\n  preempt_delay: 5s\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:6: instances[0].preempt_delay: a preempt delay needs preempt on and initial state BACKUP"}},
		{"missing interface", "instances:\n- {name: a, vrid: 1, vips: [198.51.100.100]}\n", nil,
			[]string{"/etc/vipd.yaml:2: instances[0].interface: is required"}},
		{"bad interface name", "instances:\n- {name: a, interface: \"eth0:1\", vrid: 1, vips: [198.51.100.100]}\n", nil,
			[]string{`/etc/vipd.yaml:2: instances[0].interface: "eth0:1" contains a character interface names cannot have`}},
		{"duplicate instance name", head + "  vrid: 1\n  vips: [198.51.100.100]\n- {name: VI_1, interface: veth1, vrid: 2, vips: [198.51.100.101]}\n", nil,
			[]string{`/etc/vipd.yaml:6: instances[1].name: instance name "VI_1" is already used by instances[0]`}},
		{"garp repeat zero", head + "  vrid: 1\n  garp: {master_repeat: 0}\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].garp.master_repeat: 0 is out of range 1-4294967295"}},
		{"unknown top-level key", "instance: []\n", nil,
			[]string{"/etc/vipd.yaml:1: instance: unknown key (allowed: api, checks, gossip, history, instances, node, scripts, sync_groups, vrrp)"}},
		{"unknown instance key", head + "  vrid: 1\n  vrrid: 2\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].vrrid: unknown key"}},
		{"unknown key in a VIP", head + "  vrid: 1\n  vips:\n  - {address: 198.51.100.100, dev: veth0}\n", nil,
			[]string{"/etc/vipd.yaml:6: instances[0].vips[0].dev: unknown key (allowed: address, excluded, interface, label)"}},
		{"unknown garp key", "vrrp:\n  garp:\n    delay: 1s\n", nil,
			[]string{"/etc/vipd.yaml:3: vrrp.garp.delay: unknown key"}},
		{"key set twice", head + "  vrid: 1\n  vrid: 2\n  vips: [198.51.100.100]\n", nil,
			[]string{"/etc/vipd.yaml:5: instances[0].vrid: is set twice"}},
		{"bool as yes", head + "  vrid: 1\n  preempt: yes\n  vips: [198.51.100.100]\n", nil,
			[]string{`/etc/vipd.yaml:5: instances[0].preempt: "yes" is not true or false`}},
		{"state unknown", head + "  vrid: 1\n  state: primary\n  vips: [198.51.100.100]\n", nil,
			[]string{`/etc/vipd.yaml:5: instances[0].state: "primary" is not master or backup`}},
		{"version 4", "vrrp: {version: 4}\n", nil,
			[]string{`/etc/vipd.yaml:1: vrrp.version: "4" is not 2 or 3`}},
		{"instances not a list", "instances: {a: 1}\n", nil,
			[]string{"/etc/vipd.yaml:1: instances: must be a list, not a mapping"}},
		{"not a mapping", "- 1\n", nil,
			[]string{"/etc/vipd.yaml:1: the file must be a mapping"}},
		{"aliases", "node: &n {name: a}\nvrrp: *n\n", nil,
			[]string{"/etc/vipd.yaml:2: vrrp: YAML aliases are not supported"}},
		{"two documents", "node: {name: a}\n---\nnode: {name: b}\n", nil,
			[]string{"/etc/vipd.yaml:2: only one YAML document is allowed"}},
		{"syntax error", "node:\n  name: a\n name: b\n", nil,
			[]string{"/etc/vipd.yaml:2: YAML syntax: did not find expected key"}},
		{"several errors reported at once", head + "  vrid: 0\n  priority: 256\n  vips: [x]\n", nil,
			[]string{"instances[0].vrid: 0 is out of range", "instances[0].priority: 256 is out of range", `instances[0].vips[0]: "x" is not an IP address`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML("/etc/vipd.yaml", []byte(tc.yaml), config.LoadOptions{Host: tc.host, Hostname: "h"})
			if err == nil {
				t.Fatalf("no error; instances %v", cfg.Instances)
			}
			if cfg != nil {
				t.Error("a failed load returned a Config")
			}
			ds := configtest.DiagnosticsOf(t, cfg, err)
			for _, w := range tc.want {
				configtest.RequireDiag(t, ds, config.SeverityError, w)
			}
			if len(ds.Warnings()) != 0 {
				t.Errorf("the native format should give errors only, got warnings:\n%s", configtest.Render(ds.Warnings()))
			}
			if !strings.Contains(err.Error(), tc.want[0]) {
				t.Errorf("Error() = %q does not mention %q", err.Error(), tc.want[0])
			}
		})
	}
}

func manyV6(n int) string {
	var parts []string
	for i := range n {
		parts = append(parts, `"2001:db8::`+strings.ToLower(strings.TrimLeft(hex4(i+1), "0"))+`"`)
	}
	return strings.Join(parts, ", ")
}

func hex4(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>12&15], digits[n>>8&15], digits[n>>4&15], digits[n&15]})
}

func TestYAMLBadValueReportedOnce(t *testing.T) {
	// A vrid that fails to parse must not also be reported as missing.
	_, err := config.ParseYAML("x.yaml", []byte("instances:\n- {name: a, interface: e, vrid: 0, vips: [192.0.2.1]}\n"), config.LoadOptions{Hostname: "h"})
	ds := configtest.DiagnosticsOf(t, nil, err)
	n := 0
	for _, d := range ds {
		if d.Field == "instances[0].vrid" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("vrid reported %d times, want once:\n%s", n, configtest.Render(ds))
	}
}

func TestYAMLEmpty(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "instances: []\n"} {
		cfg, err := config.ParseYAML("e.yaml", []byte(in), config.LoadOptions{Hostname: "h"})
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if len(cfg.Instances) != 0 || cfg.Node.Name != "h" {
			t.Errorf("%q: got %d instances, node %q", in, len(cfg.Instances), cfg.Node.Name)
		}
	}
}

func TestYAMLOwnerCheck(t *testing.T) {
	in := "instances:\n- {name: a, interface: veth0, vrid: 1, priority: 255, vips: [198.51.100.1]}\n"
	tests := []struct {
		name    string
		host    config.Host
		wantErr string
		wantWrn string
	}{
		{name: "no host: not checked", host: nil},
		{name: "owner", host: configtest.FakeHost{"veth0": {mustPrefix("198.51.100.1/24")}}},
		{name: "not owner", host: configtest.FakeHost{"veth0": {mustPrefix("198.51.100.2/24")}}, wantErr: "255 is reserved for the address owner"},
		{name: "interface unknown", host: configtest.FakeHost{}, wantWrn: "cannot check that this node owns the VIPs of priority 255: no interface veth0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML("o.yaml", []byte(in), config.LoadOptions{Host: tc.host, Hostname: "h"})
			switch {
			case tc.wantErr != "":
				configtest.RequireDiag(t, configtest.DiagnosticsOf(t, cfg, err), config.SeverityError, tc.wantErr)
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantWrn != "":
				configtest.RequireDiag(t, cfg.Warnings, config.SeverityWarning, tc.wantWrn)
			case len(cfg.Warnings) != 0:
				t.Errorf("unexpected warnings:\n%s", configtest.Render(cfg.Warnings))
			}
		})
	}
}
