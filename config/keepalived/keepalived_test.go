package keepalived

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
)

const kc = "/etc/keepalived/keepalived.conf"

func TestLoadGoldenKeepalived(t *testing.T) {
	v2 := configtest.Instance("VI_1", "eth0", 51)
	v2.Priority = 150
	v2.UnicastSource = mustAddr("192.0.2.1")
	v2.UnicastPeers = []netip.Addr{mustAddr("192.0.2.2")}
	v2.AuthPass = "s3cret"
	v2.VIPs = []config.VIP{configtest.VIP("192.0.2.100/24", "eth0")}

	v3 := configtest.Instance("VI_6", "eth0", 52)
	v3.Version, v3.Priority, v3.AdvertInterval = 3, 150, 500*time.Millisecond
	v3.UnicastSource = mustAddr("192.0.2.1")
	v3.UnicastPeers = []netip.Addr{mustAddr("192.0.2.2")}
	v3.VIPs = []config.VIP{configtest.VIP("192.0.2.101/24", "eth0")}

	v6 := configtest.Instance("VI_V6", "eth0", 53)
	v6.Family, v6.Version, v6.Priority = inet.IPv6, 3, 150
	v6.UnicastSource = mustAddr("2001:db8::1")
	v6.UnicastPeers = []netip.Addr{mustAddr("2001:db8::2")}
	v6.VIPs = []config.VIP{configtest.VIP("2001:db8::100/64", "eth0")}

	tests := []struct {
		file string
		want *config.Instance
	}{
		{"vrrp-v2-unicast-pass.keepalived.conf", v2},
		{"vrrp-v3-unicast.keepalived.conf", v3},
		{"vrrp-v3-ipv6-unicast.keepalived.conf", v6},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := "../testdata/golden/" + tc.file
			cfg, err := loadFile(path, config.LoadOptions{Hostname: "unused"})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Format != config.FormatKeepalived || cfg.Node.Name != "h1" {
				t.Errorf("format %v node %q, want keepalived h1", cfg.Format, cfg.Node.Name)
			}
			if len(cfg.Warnings) != 0 {
				t.Errorf("unexpected warnings:\n%s", configtest.Render(cfg.Warnings))
			}
			configtest.SameInstances(t, cfg.Instances, []*config.Instance{tc.want})
			if got := cfg.Instances[0].Pos; got.File != path || got.Line < 5 {
				t.Errorf("instance position %v", got)
			}
		})
	}
}

// instanceConf wraps body lines (which start at line 4) in an instance with
// interface eth0 and VRID 51.
func instanceConf(body ...string) string {
	return "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n" + strings.Join(body, "\n") + "\n}\n"
}

func TestKeepalivedLeniency(t *testing.T) {
	v4 := []string{"  virtual_ipaddress {", "    192.0.2.1", "  }"}
	withVIP := func(body ...string) string { return instanceConf(append(body, v4...)...) }
	tests := []struct {
		name  string
		conf  string
		opts  config.LoadOptions
		warns []string
		check func(t *testing.T, c *config.Config)
	}{
		{
			name:  "unknown keyword is ignored",
			conf:  withVIP("  frobnicate 3", "  priority 120"),
			warns: []string{kc + `:4: warning: vrrp_instance[VI_1].frobnicate: unknown keyword "frobnicate"; line ignored`},
			check: func(t *testing.T, c *config.Config) { wantPriority(t, c, 120) },
		},
		{
			name: "unknown keyword with a block is read like keepalived",
			// keepalived ignores the '{', reads "priority 50" in the
			// instance, and the '}' ends the instance: "priority 60" is
			// then an unknown top-level keyword.
			conf: "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n virtual_ipaddress {\n 192.0.2.1\n }\n foo {\n priority 50\n }\n priority 60\n}\n",
			warns: []string{
				kc + `:7: warning: vrrp_instance[VI_1].foo: unknown keyword "foo"`,
				kc + `:7: warning: vrrp_instance[VI_1]: unexpected '{'; ignored`,
				kc + `:10: warning: priority: unknown keyword "priority"`,
				kc + `:11: warning: extra '}'`,
			},
			check: func(t *testing.T, c *config.Config) { wantPriority(t, c, 50) },
		},
		{
			name:  "auth_pass longer than 8 is truncated",
			conf:  withVIP("  authentication {", "    auth_type PASS", "    auth_pass 0123456789", "  }"),
			warns: []string{kc + ":6: warning: vrrp_instance[VI_1].authentication.auth_pass: auth_pass is 10 characters; truncated to 8"},
			check: func(t *testing.T, c *config.Config) {
				if got := c.Instances[0].AuthPass; got != "01234567" {
					t.Errorf("AuthPass = %q", got)
				}
			},
		},
		{
			name: "nopreempt and preempt_delay with state MASTER are cleared",
			conf: withVIP("  state MASTER", "  priority 100", "  nopreempt", "  preempt_delay 5"),
			warns: []string{
				kc + ":6: warning: vrrp_instance[VI_1].nopreempt: nopreempt does not work with initial state MASTER; cleared",
				kc + ":7: warning: vrrp_instance[VI_1].preempt_delay: preempt_delay does not work with initial state MASTER; cleared",
			},
			check: func(t *testing.T, c *config.Config) {
				i := c.Instances[0]
				if !i.Preempt || i.PreemptDelay != 0 || i.InitialState != fsm.Master || i.Priority != 100 {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name:  "nopreempt with priority 255 is cleared",
			conf:  withVIP("  state BACKUP", "  priority 255", "  nopreempt"),
			warns: []string{kc + ":6: warning: vrrp_instance[VI_1].nopreempt: nopreempt is incompatible with priority 255; cleared"},
			check: func(t *testing.T, c *config.Config) {
				i := c.Instances[0]
				if !i.Preempt || i.InitialState != fsm.Backup {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name:  "nopreempt with BACKUP is kept and preempt_delay reset",
			conf:  withVIP("  nopreempt", "  preempt_delay 3"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].preempt_delay: preempt_delay is incompatible with nopreempt; reset to 0"},
			check: func(t *testing.T, c *config.Config) {
				if i := c.Instances[0]; i.Preempt || i.PreemptDelay != 0 {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name:  "preempt_delay with decimals",
			conf:  withVIP("  preempt_delay 2.5"),
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].PreemptDelay, sec(2.5)) },
		},
		{
			name:  "v2 advert_int not whole seconds is rounded",
			conf:  withVIP("  advert_int 2.5"),
			warns: []string{kc + ":4: warning: vrrp_instance[VI_1].advert_int: VRRPv2 advertisement interval 2.5s must be whole seconds; rounded to 3s"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].AdvertInterval, 3*time.Second) },
		},
		{
			name:  "v2 advert_int below a second becomes 1s",
			conf:  withVIP("  advert_int 0.3"),
			warns: []string{"rounded to 1s"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].AdvertInterval, time.Second) },
		},
		{
			name:  "v3 advert_int is rounded to 10ms",
			conf:  withVIP("  version 3", "  advert_int 0.015"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].advert_int: VRRPv3 advertisement interval 15ms must be in units of 10ms; rounded to 20ms"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].AdvertInterval, 20*time.Millisecond) },
		},
		{
			name:  "v3 advert_int above 40.95s is capped",
			conf:  withVIP("  version 3", "  advert_int 41"),
			warns: []string{"VRRPv3 advertisement interval 41s is out of range; 40.95s used"},
			check: func(t *testing.T, c *config.Config) {
				wantField(t, c.Instances[0].AdvertInterval, 40950*time.Millisecond)
			},
		},
		{
			name:  "advert_int with too many decimals",
			conf:  withVIP("  version 3", "  advert_int 0.0500001"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].advert_int: number '0.0500001' has too many decimal places; used anyway"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].AdvertInterval, 50*time.Millisecond) },
		},
		{
			name:  "advert_int invalid keeps the default",
			conf:  withVIP("  advert_int fast"),
			warns: []string{kc + ":4: warning: vrrp_instance[VI_1].advert_int: invalid number 'fast': not valid; ignored"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].AdvertInterval, time.Second) },
		},
		{
			name:  "a rejected vrid followed by a valid one",
			conf:  "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 0\n  virtual_router_id 9\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n",
			warns: []string{kc + ":3: warning: vrrp_instance[VI_1].virtual_router_id: 0 is out of range 1-255; ignored"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].VRID, uint8(9)) },
		},
		{
			name:  "priority 255 without owning the VIP is kept",
			conf:  withVIP("  priority 255"),
			opts:  config.LoadOptions{Host: configtest.FakeHost{"eth0": {mustPrefix("192.0.2.9/24")}}},
			warns: []string{kc + ":4: warning: vrrp_instance[VI_1].priority: 255 is reserved for the address owner, but 192.0.2.1 is not an address of eth0; keepalived does not check this and runs with 255"},
			check: func(t *testing.T, c *config.Config) {
				if i := c.Instances[0]; i.Priority != 255 || i.InitialState != fsm.Master {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name:  "priority out of range means 100",
			conf:  withVIP("  state MASTER", "  priority 0"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].priority: 0 is out of range 1-255; default 100 used"},
			check: func(t *testing.T, c *config.Config) { wantPriority(t, c, 100) },
		},
		{
			name:  "priority with junk means 100",
			conf:  withVIP("  priority 99x"),
			warns: []string{"invalid number '99x'; default 100 used"},
			check: func(t *testing.T, c *config.Config) { wantPriority(t, c, 100) },
		},
		{
			name:  "state MASTER without priority means 255",
			conf:  withVIP("  state MASTER"),
			check: func(t *testing.T, c *config.Config) { wantPriority(t, c, 255) },
		},
		{
			name:  "BACKUP after MASTER is ignored",
			conf:  withVIP("  state MASTER", "  state BACKUP", "  priority 100"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].state: state previously set as MASTER; BACKUP ignored"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].InitialState, fsm.Master) },
		},
		{
			name:  "unknown state means BACKUP",
			conf:  withVIP("  state master"),
			warns: []string{`unknown state "master"; BACKUP used`},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].InitialState, fsm.Backup) },
		},
		{
			name:  "VIP of the other family is kept with a warning",
			conf:  instanceConf("  virtual_ipaddress {", "    192.0.2.1/24", "    2001:db8::1/64", "  }"),
			warns: []string{kc + ":6: warning: vrrp_instance[VI_1].virtual_ipaddress: 2001:db8::1 is not IPv4 like the instance: keepalived would drop it; vipd keeps it"},
			check: func(t *testing.T, c *config.Config) {
				i := c.Instances[0]
				if i.Family != inet.IPv4 || len(i.VIPs) != 2 || len(i.AdvertisedVIPs()) != 1 {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name:  "family comes from the first address, here the source",
			conf:  instanceConf("  unicast_src_ip 2001:db8::1", "  unicast_peer {", "    2001:db8::2", "    192.0.2.2", "  }", "  virtual_ipaddress {", "    192.0.2.1", "    2001:db8::5", "  }"),
			warns: []string{kc + ":7: warning: vrrp_instance[VI_1].unicast_peer: peer 192.0.2.2 is not IPv6 like the instance; skipped", "192.0.2.1 is not IPv6 like the instance: keepalived would drop it"},
			check: func(t *testing.T, c *config.Config) {
				i := c.Instances[0]
				if i.Family != inet.IPv6 || i.Version != 3 || len(i.UnicastPeers) != 1 || len(i.VIPs) != 2 {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name:  "source of the other family is skipped",
			conf:  instanceConf("  virtual_ipaddress {", "    192.0.2.1", "  }", "  mcast_src_ip 2001:db8::1"),
			warns: []string{kc + ":7: warning: vrrp_instance[VI_1].mcast_src_ip: 2001:db8::1 is not IPv4 like the instance; skipped"},
			check: func(t *testing.T, c *config.Config) {
				if c.Instances[0].UnicastSource.IsValid() {
					t.Errorf("source kept: %s", configtest.Dump(c.Instances[0]))
				}
			},
		},
		{
			name:  "unicast_src_ip without peers means multicast",
			conf:  withVIP("  unicast_src_ip 192.0.2.5"),
			warns: []string{kc + ":1: warning: vrrp_instance[VI_1].unicast_peer: a unicast keyword without any unicast peers: multicast is used"},
			check: func(t *testing.T, c *config.Config) {
				if i := c.Instances[0]; !i.Multicast() || i.UnicastSource != mustAddr("192.0.2.5") {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name: "mcast_src_ip sets the multicast source",
			conf: withVIP("  mcast_src_ip 192.0.2.5/24"),
			check: func(t *testing.T, c *config.Config) {
				wantField(t, c.Instances[0].UnicastSource, mustAddr("192.0.2.5"))
			},
		},
		{
			name:  "authentication with v3 is ignored",
			conf:  withVIP("  version 3", "  authentication {", "    auth_type PASS", "    auth_pass x", "  }"),
			warns: []string{kc + ":6: warning: vrrp_instance[VI_1].authentication: VRRP version 3 does not support authentication; ignored"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].AuthPass, "") },
		},
		{
			name:  "auth_pass without auth_type is ignored",
			conf:  withVIP("  authentication {", "    auth_pass x", "  }"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].authentication: auth_pass without auth_type; ignored"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].AuthPass, "") },
		},
		{
			name: "later-feature keywords are skipped with their blocks",
			conf: "vrrp_track_process chk {\n  process haproxy\n  weight -5\n}\n" + withVIP("  track_process {", "    chk", "  }", "  notify_deleted /bin/true", "  priority 110"),
			warns: []string{
				kc + ":1: warning: vrrp_track_process: vrrp_track_process is not supported yet; skipped",
				kc + ":8: warning: vrrp_instance[VI_1].track_process: track_process is not supported yet; skipped",
				kc + ":11: warning: vrrp_instance[VI_1].notify_deleted: notify_deleted is not supported yet; skipped",
			},
			check: func(t *testing.T, c *config.Config) { wantPriority(t, c, 110) },
		},
		{
			name:  "virtual_server with nested blocks is skipped",
			conf:  "virtual_server 192.0.2.1 80 {\n  real_server 192.0.2.2 80 {\n    TCP_CHECK {\n    }\n  }\n}\n" + withVIP(),
			warns: []string{kc + ":1: warning: virtual_server: virtual_server is not supported yet; skipped"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Instances), 1) },
		},
		{
			name:  "garp_master_repeat 0 becomes 1",
			conf:  withVIP("  garp_master_repeat 0"),
			warns: []string{kc + ":4: warning: vrrp_instance[VI_1].garp_master_repeat: must be greater than 0; set to 1"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].GARP.MasterRepeat, uint32(1)) },
		},
		{
			name:  "version 2 before IPv6 addresses: keepalived runs v2 over IPv6",
			conf:  instanceConf("  version 2", "  virtual_ipaddress {", "    fe80::1", "  }"),
			warns: []string{kc + ":4: warning: vrrp_instance[VI_1].version: VRRPv2 is IPv4-only (RFC 3768) but the instance is IPv6; keepalived runs VRRPv2 over IPv6"},
			check: func(t *testing.T, c *config.Config) {
				if i := c.Instances[0]; i.Version != 2 || i.Family != inet.IPv6 {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name:  "version 2 after IPv6 addresses is ignored",
			conf:  instanceConf("  virtual_ipaddress {", "    fe80::1", "  }", "  version 2"),
			warns: []string{kc + ":7: warning: vrrp_instance[VI_1].version: version 2 conflicts with the IPv6 addresses before it; ignored"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].Version, uint8(3)) },
		},
		{
			name:  "label not starting with the interface",
			conf:  instanceConf("  virtual_ipaddress {", "    192.0.2.1/24 dev eth0 label eth1:x", "  }"),
			warns: []string{kc + `:5: warning: vrrp_instance[VI_1].virtual_ipaddress: label "eth1:x" must start with the interface name "eth0"; keepalived passes it to the kernel unchecked`},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].VIPs[0].Label, "eth1:x") },
		},
		{
			name:  "label on IPv6 is ignored",
			conf:  instanceConf("  virtual_ipaddress {", "    fe80::1 label eth0:x", "  }"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].virtual_ipaddress: IPv6 addresses have no label (fe80::1); label ignored"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].VIPs[0].Label, "") },
		},
		{
			name:  "label too long drops the address",
			conf:  instanceConf("  virtual_ipaddress {", "    192.0.2.1", "    192.0.2.2 label eth0:01234567890", "  }"),
			warns: []string{kc + ":6: warning: vrrp_instance[VI_1].virtual_ipaddress: label eth0:01234567890 is longer than 15 characters; address skipped"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Instances[0].VIPs), 1) },
		},
		{
			name:  "VIP options vipd does not have are reported",
			conf:  instanceConf("  virtual_ipaddress {", "    192.0.2.1/24 brd 192.0.2.255 dev eth1 scope link noprefixroute", "  }"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].virtual_ipaddress: address options not supported yet, ignored: brd 192.0.2.255, scope link, noprefixroute"},
			check: func(t *testing.T, c *config.Config) {
				wantField(t, c.Instances[0].VIPs[0], config.VIP{Prefix: mustPrefix("192.0.2.1/24"), Interface: "eth1", Pos: config.Pos{File: kc, Line: 5}})
			},
		},
		{
			name:  "invalid VIP is skipped",
			conf:  instanceConf("  virtual_ipaddress {", "    192.0.2.1", "    192.0.2.256", "    192.0.2.3/33", "  }"),
			warns: []string{kc + ":6: warning: vrrp_instance[VI_1].virtual_ipaddress: invalid IP 192.0.2.256; skipped", kc + ":7: warning: vrrp_instance[VI_1].virtual_ipaddress: invalid address prefix length 33 for 192.0.2.3/33; /32 used"},
			check: func(t *testing.T, c *config.Config) {
				if vs := c.Instances[0].VIPs; len(vs) != 2 || vs[1].Prefix != mustPrefix("192.0.2.3/32") {
					t.Errorf("got %s", configtest.Dump(c.Instances[0]))
				}
			},
		},
		{
			name: "virtual_ipaddress_excluded",
			conf: withVIP("  virtual_ipaddress_excluded {", "    192.0.2.9", "    2001:db8::9", "  }"),
			check: func(t *testing.T, c *config.Config) {
				i := c.Instances[0]
				if len(i.VIPs) != 3 || !i.VIPs[0].Excluded || !i.VIPs[1].Excluded || i.VIPs[2].Excluded || len(i.AdvertisedVIPs()) != 1 {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name:  "VIPs beyond an advert's room are excluded",
			conf:  instanceConf(append(append([]string{"  virtual_ipaddress {", "    fe80::1"}, manyV6Lines(89)...), "  }")...),
			warns: []string{kc + ":4: warning: vrrp_instance[VI_1].virtual_ipaddress: 90 VIPs exceed the 89 that fit in an advert; the excess is held but not advertised"},
			check: func(t *testing.T, c *config.Config) {
				i := c.Instances[0]
				if len(i.VIPs) != 90 || len(i.AdvertisedVIPs()) != 89 || !i.VIPs[89].Excluded {
					t.Errorf("%d VIPs, %d advertised", len(i.VIPs), len(i.AdvertisedVIPs()))
				}
			},
		},
		{
			name:  "no VIP with v2 is a warning",
			conf:  instanceConf("  priority 5"),
			warns: []string{kc + ":1: warning: vrrp_instance[VI_1].virtual_ipaddress: no VIP of the instance's family specified; at least one is sensible"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Instances[0].VIPs), 0) },
		},
		{
			name: "syntax: braces on one line, quotes, comments",
			conf: "global_defs { router_id \"my router\" } # comment\n" +
				"vrrp_instance VI_1 { interface eth0 ! another\n" +
				"  virtual_router_id 51 extra words are ignored\n" +
				"  priority \"77\" # \"quoted # in comment\n" +
				"  virtual_ipaddress { 192.0.2.1/24 } }\n",
			check: func(t *testing.T, c *config.Config) {
				wantField(t, c.Node.Name, "my router")
				wantPriority(t, c, 77)
				wantField(t, c.Instances[0].VIPs[0].Prefix, mustPrefix("192.0.2.1/24"))
			},
		},
		{
			name: "definitions and conditional lines",
			conf: "$IF=eth1\n$VR=61\n$MULTI=priority 90 \\\n  advert_int 2\n" +
				"vrrp_instance VI_1 {\n  interface $IF\n  virtual_router_id ${VR}\n" +
				"  @h1 state MASTER\n  @^h1 state BACKUP\n  @other nopreempt\n  $MULTI\n" +
				"  virtual_ipaddress {\n    192.0.2.1 dev ${IF}\n  }\n}\n",
			opts: config.LoadOptions{ConfigID: "h1"},
			check: func(t *testing.T, c *config.Config) {
				i := c.Instances[0]
				if i.Interface != "eth1" || i.VRID != 61 || i.InitialState != fsm.Master || !i.Preempt ||
					i.Priority != 90 || i.AdvertInterval != 2*time.Second || i.VIPs[0].Interface != "eth1" {
					t.Errorf("got %s", configtest.Dump(i))
				}
			},
		},
		{
			name: "global settings apply to later instances only, as alloc_vrrp copies them",
			conf: withVIP() +
				"global_defs {\n  vrrp_version 3\n  vrrp_garp_master_delay 1\n  vrrp_garp_master_repeat 2\n" +
				"  vrrp_garp_master_refresh 30\n  vrrp_garp_master_refresh_repeat 3\n  vrrp_garp_interval 0.001\n  vrrp_gna_interval 0.002\n}\n" +
				"vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 52\n  garp_master_delay 7\n  virtual_ipaddress {\n    192.0.2.2\n  }\n}\n",
			check: func(t *testing.T, c *config.Config) {
				a, b := c.Instances[0], c.Instances[1]
				wantGARP := config.GARP{MasterDelay: 5 * time.Second, MasterRepeat: 5, MasterRefreshRepeat: 1, Interval: time.Millisecond, NAInterval: 2 * time.Millisecond}
				if a.GARP != wantGARP || a.Version != 3 {
					t.Errorf("VI_1 %s", configtest.Dump(a))
				}
				wantGARP = config.GARP{MasterDelay: 7 * time.Second, MasterRepeat: 2, MasterRefresh: 30 * time.Second, MasterRefreshRepeat: 3, Interval: time.Millisecond, NAInterval: 2 * time.Millisecond}
				if b.GARP != wantGARP || b.Version != 3 {
					t.Errorf("VI_2 %s", configtest.Dump(b))
				}
			},
		},
		{
			name: "vrrp_min_garp",
			conf: "global_defs {\n  vrrp_min_garp\n}\n" + withVIP(),
			check: func(t *testing.T, c *config.Config) {
				wantField(t, c.Instances[0].GARP, config.GARP{MasterRepeat: 1, MasterRefreshRepeat: 1})
			},
		},
		{
			name:  "duplicate instance name is skipped",
			conf:  withVIP() + "vrrp_instance VI_1 {\n  interface eth1\n  virtual_router_id 9\n}\n",
			warns: []string{kc + ":8: warning: vrrp_instance: vrrp_instance VI_1 is already defined at " + kc + ":1; block skipped"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Instances), 1) },
		},
		{
			name:  "unicast instances sharing a VRID with different peers",
			conf:  unicastPair("192.0.2.2", "192.0.2.3"),
			warns: []string{kc + ":15: warning: vrrp_instance[VI_2].virtual_router_id: VI_1 and VI_2 both use VRID 51 with IPv4 on interface eth0 with different unicast peers; keepalived accepts this"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Instances), 2) },
		},
		{
			name:  "strict mode makes state follow priority",
			conf:  "global_defs {\n  vrrp_strict\n}\n" + withVIP("  state MASTER", "  priority 100"),
			warns: []string{kc + ":7: warning: vrrp_instance[VI_1].state: state MASTER must match being address owner (priority 255) in strict mode; BACKUP used"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].InitialState, fsm.Backup) },
		},
		{
			name:  "missing closing brace",
			conf:  "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.1\n  }\n",
			warns: []string{kc + ":1: warning: vrrp_instance[VI_1]: block is missing its closing '}'"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Instances[0].VIPs), 1) },
		},
		{
			name:  "missing router_id falls back to the host name",
			conf:  withVIP(),
			opts:  config.LoadOptions{Hostname: "node7.example.org"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Node.Name, "node7.example.org") },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Hostname == "" {
				tc.opts.Hostname = "h1.example.org"
			}
			cfg, err := Parse(kc, []byte(tc.conf), tc.opts)
			if err != nil {
				t.Fatalf("Parse: %v\nwarnings:\n%s", err, configtest.Render(configtest.DiagnosticsOf(t, cfg, err).Warnings()))
			}
			for _, w := range tc.warns {
				configtest.RequireDiag(t, cfg.Warnings, config.SeverityWarning, w)
			}
			if len(tc.warns) == 0 && len(cfg.Warnings) != 0 {
				t.Errorf("unexpected warnings:\n%s", configtest.Render(cfg.Warnings))
			}
			tc.check(t, cfg)
		})
	}
}

func wantPriority(t *testing.T, c *config.Config, p uint8) {
	t.Helper()
	if got := c.Instances[0].Priority; got != p {
		t.Errorf("priority = %d, want %d", got, p)
	}
}

func wantField[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func manyV6Lines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("    2001:db8::%x", i+1)
	}
	return out
}

// unicastPair is two unicast instances with VRID 51 on eth0 and the same
// source, differing by peer; the second's VRID is on line 15.
func unicastPair(peer1, peer2 string) string {
	one := func(name, peer string) string {
		return "vrrp_instance " + name + " {\n  interface eth0\n  unicast_src_ip 192.0.2.1\n  virtual_router_id 51\n" +
			"  unicast_peer {\n    " + peer + "\n  }\n  virtual_ipaddress {\n    192.0.2.100\n  }\n}\n"
	}
	return one("VI_1", peer1) + one("VI_2", peer2)
}

func TestKeepalivedErrors(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{"vrid out of range", "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 300\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n",
			[]string{kc + ":3: vrrp_instance[VI_1].virtual_router_id: 300 is out of range 1-255"}},
		{"vrid not set", "vrrp_instance VI_1 {\n  interface eth0\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n",
			[]string{kc + ":1: vrrp_instance[VI_1].virtual_router_id: is not set (1-255)"}},
		{"interface not set", "vrrp_instance VI_1 {\n  virtual_router_id 5\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n",
			[]string{kc + ":1: vrrp_instance[VI_1].interface: is not set"}},
		{"missing parameter", instanceConf("  priority", "  virtual_ipaddress {", "    192.0.2.1", "  }"),
			[]string{kc + ":4: vrrp_instance[VI_1].priority: priority is missing its parameter"}},
		{"v3 without VIP", instanceConf("  version 3"),
			[]string{kc + ":1: vrrp_instance[VI_1].virtual_ipaddress: no VIP of the instance's family specified; at least one is required"}},
		{"v3 with only other-family VIPs", instanceConf("  version 3", "  unicast_src_ip 192.0.2.1", "  unicast_peer {", "    192.0.2.2", "  }", "  virtual_ipaddress {", "    2001:db8::1", "  }"),
			[]string{kc + ":9: vrrp_instance[VI_1].virtual_ipaddress: no VIP of the instance's family specified"}},
		{"same VRID multicast on one interface", instanceConf("  virtual_ipaddress {", "    192.0.2.1", "  }") +
			strings.Replace(instanceConf("  virtual_ipaddress {", "    192.0.2.2", "  }"), "VI_1", "VI_2", 1),
			[]string{kc + ":10: vrrp_instance[VI_2].virtual_router_id: VI_1 and VI_2 both use VRID 51 with IPv4 on interface eth0 (keepalived refuses to start)"}},
		{"same VRID unicast with a common peer", unicastPair("192.0.2.2", "192.0.2.2"),
			[]string{kc + ":15: vrrp_instance[VI_2].virtual_router_id: VI_1 and VI_2 both use VRID 51 with IPv4 on interface eth0 with a common unicast peer"}},
		{"strict mode with unicast", "global_defs {\n vrrp_strict\n}\n" + instanceConf("  unicast_peer {", "    192.0.2.2", "  }", "  virtual_ipaddress {", "    192.0.2.1", "  }"),
			[]string{kc + ":7: vrrp_instance[VI_1].unicast_peer: unicast peers are not supported in strict mode"}},
		{"AH authentication", instanceConf("  authentication {", "    auth_type AH", "    auth_pass x", "  }", "  virtual_ipaddress {", "    192.0.2.1", "  }"),
			[]string{kc + ":5: vrrp_instance[VI_1].authentication: AH authentication is not supported by vipd"}},
		{"self-referencing definition", "$A=x$A\n" + instanceConf("  priority $A"),
			[]string{kc + ":5: parameter substitution does not terminate"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(kc, []byte(tc.conf), config.LoadOptions{Hostname: "h"})
			if err == nil {
				t.Fatalf("no error; warnings:\n%s", configtest.Render(cfg.Warnings))
			}
			ds := configtest.DiagnosticsOf(t, cfg, err)
			for _, w := range tc.want {
				configtest.RequireDiag(t, ds, config.SeverityError, w)
			}
		})
	}
}
