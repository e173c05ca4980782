package config_test

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/inet"
)

const (
	key16 = "MDEyMzQ1Njc4OWFiY2RlZg=="                     // "0123456789abcdef"
	key24 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3"             // 24 bytes
	key32 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
)

func TestLoadGossipYAML(t *testing.T) {
	cfg, err := loadYAML("testdata/gossip.yaml", config.LoadOptions{Hostname: "unused"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("unexpected warnings:\n%s", configtest.Render(cfg.Warnings))
	}
	want := &config.Gossip{
		ClusterName:   "prod-dns",
		BindAddr:      mustAddr("198.51.100.1"),
		BindPort:      7947,
		AdvertiseAddr: mustAddr("203.0.113.1"),
		AdvertisePort: 17947,
		Join:          []string{"lb2.example.org", "198.51.100.3:7947", "[2001:db8::4]:7947"},
		Keys:          []string{key32, key16},
		KeyFile:       "/etc/vipd/gossip.keys",
		Profile:       config.GossipProfileWAN,
		Timings: config.GossipTimings{ProbeInterval: 2 * time.Second, ProbeTimeout: time.Second, SuspicionMult: 5,
			GossipInterval: 300 * time.Millisecond, PushPullInterval: 45 * time.Second, RetransmitMult: 3},
		AZ:        "eu-west-1a",
		StateFile: "/var/lib/vipd/cluster.json",

		ReconnectInterval: 20 * time.Second, ReconnectTimeout: 72 * time.Hour,
		RequireJoin: false, RequireJoinTimeout: 5 * time.Minute,
	}
	if !cfg.Gossip.SameSettings(want) {
		t.Errorf("gossip:\n got %+v\nwant %+v", *cfg.Gossip, *want)
	}
	if got := cfg.Gossip.Pos; got != (config.Pos{File: "testdata/gossip.yaml", Line: 4}) {
		t.Errorf("gossip at %v, want testdata/gossip.yaml:4", got)
	}

	dns := configtest.Instance("VI_DNS", "eth0", 51)
	dns.Priority = 150
	dns.UnicastSource = mustAddr("198.51.100.1")
	dns.UnicastPeers = []netip.Addr{mustAddr("198.51.100.2")}
	dns.PeersFromGossip = true
	dns.VIPs = []config.VIP{configtest.VIP("198.51.100.100/24", "eth0")}
	v6 := configtest.Instance("VI_V6", "eth0", 52)
	v6.Family, v6.Version = inet.IPv6, 3
	v6.UnicastSource = mustAddr("2001:db8::1")
	v6.PeersFromGossip = true
	v6.VIPs = []config.VIP{configtest.VIP("2001:db8::52/64", "eth0")}
	configtest.SameInstances(t, cfg.Instances, []*config.Instance{dns, v6})
	for _, inst := range cfg.Instances {
		if inst.Multicast() {
			t.Errorf("%s: Multicast() with peers: gossip", inst.Name)
		}
	}
}

func TestGossipYAMLDefaults(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		want     func(g *config.Gossip)
		wantWarn string // exact, "" for none
	}{
		{
			name: "keys only: every default filled in",
			yaml: "gossip:\n  cluster_name: c\n  keys: [" + key16 + "]\n",
			want: func(g *config.Gossip) { g.Keys = []string{key16} },
		},
		{
			name: "key file only is encrypted",
			yaml: "gossip: {cluster_name: c, key_file: /etc/vipd/keys}\n",
			want: func(g *config.Gossip) { g.KeyFile = "/etc/vipd/keys" },
		},
		{
			name:     "no key at all warns",
			yaml:     "node: {name: n}\ngossip:\n  cluster_name: c\n",
			want:     func(g *config.Gossip) {},
			wantWarn: "/etc/vipd.yaml:2: warning: gossip: gossip is not encrypted",
		},
		{
			name:     "an empty key list is no key",
			yaml:     "gossip: {cluster_name: c, keys: []}\n",
			want:     func(g *config.Gossip) { g.Keys = nil },
			wantWarn: "/etc/vipd.yaml:1: warning: gossip: gossip is not encrypted",
		},
		{
			name: "bind port alone keeps the address; advertise port alone is just the port",
			yaml: "gossip: {cluster_name: c, keys: [" + key24 + "], bind: {port: 8000}, advertise: {port: 9000}}\n",
			want: func(g *config.Gossip) { g.Keys, g.BindPort, g.AdvertisePort = []string{key24}, 8000, 9000 },
		},
		{
			name: "profile is case-insensitive, single timing overrides",
			yaml: "gossip: {cluster_name: c, keys: [" + key16 + "], profile: LOCAL, timings: {probe_interval: 3s}}\n",
			want: func(g *config.Gossip) {
				g.Keys, g.Profile, g.Timings.ProbeInterval = []string{key16}, config.GossipProfileLocal, 3*time.Second
			},
		},
		{
			name: "a join list makes require_join the default",
			yaml: "gossip: {cluster_name: c, keys: [" + key16 + "], join: [198.51.100.2]}\n",
			want: func(g *config.Gossip) {
				g.Keys, g.Join, g.RequireJoin = []string{key16}, []string{"198.51.100.2"}, true
			},
		},
		{
			name: "require_join may be turned off",
			yaml: "gossip: {cluster_name: c, keys: [" + key16 + "], join: [198.51.100.2], require_join: false}\n",
			want: func(g *config.Gossip) { g.Keys, g.Join = []string{key16}, []string{"198.51.100.2"} },
		},
		{
			name: "require_join with a timeout, reconnect settings",
			yaml: "gossip: {cluster_name: c, keys: [" + key16 + "], require_join: true, require_join_timeout: 2m, reconnect_interval: 3s, reconnect_timeout: 1h}\n",
			want: func(g *config.Gossip) {
				g.Keys, g.RequireJoin, g.RequireJoinTimeout = []string{key16}, true, 2*time.Minute
				g.ReconnectInterval, g.ReconnectTimeout = 3*time.Second, time.Hour
			},
		},
		{
			name: "a join list naming only this node warns at the join key",
			yaml: "gossip:\n  cluster_name: c\n  keys: [" + key16 + "]\n  bind: {address: 198.51.100.1}\n  join: [198.51.100.1, \"198.51.100.1:7946\"]\n",
			want: func(g *config.Gossip) {
				g.Keys, g.BindAddr, g.Join, g.RequireJoin = []string{key16}, mustAddr("198.51.100.1"), []string{"198.51.100.1", "198.51.100.1:7946"}, true
			},
			wantWarn: "/etc/vipd.yaml:5: warning: gossip.join: names only this node",
		},
		{
			name: "this node and another in the join list: no warning",
			yaml: "gossip:\n  cluster_name: c\n  keys: [" + key16 + "]\n  bind: {address: 198.51.100.1}\n  join: [198.51.100.1, 198.51.100.2]\n",
			want: func(g *config.Gossip) {
				g.Keys, g.BindAddr, g.Join, g.RequireJoin = []string{key16}, mustAddr("198.51.100.1"), []string{"198.51.100.1", "198.51.100.2"}, true
			},
		},
		{
			name: "IPv6 bind",
			yaml: "gossip: {cluster_name: c, keys: [" + key16 + "], bind: {address: \"::\"}}\n",
			want: func(g *config.Gossip) { g.Keys, g.BindAddr = []string{key16}, netip.IPv6Unspecified() },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML("/etc/vipd.yaml", []byte(tc.yaml), config.LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatalf("ParseYAML: %v", err)
			}
			want := config.DefaultGossip()
			want.ClusterName = "c"
			tc.want(want)
			if !cfg.Gossip.SameSettings(want) {
				t.Errorf("gossip:\n got %+v\nwant %+v", *cfg.Gossip, *want)
			}
			switch {
			case tc.wantWarn == "" && len(cfg.Warnings) != 0:
				t.Errorf("unexpected warnings:\n%s", configtest.Render(cfg.Warnings))
			case tc.wantWarn != "":
				if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0].String(), tc.wantWarn) {
					t.Errorf("warnings:\n%swant one starting %q", configtest.Render(cfg.Warnings), tc.wantWarn)
				}
			}
		})
	}
	cfg, err := config.ParseYAML("x.yaml", []byte("node: {name: n}\n"), config.LoadOptions{})
	if err != nil || cfg.Gossip != nil {
		t.Errorf("no gossip section: Gossip = %+v, err %v", cfg.Gossip, err)
	}
}

func TestGossipYAMLErrors(t *testing.T) {
	const head = "gossip:\n  cluster_name: c\n  keys: [" + key16 + "]\n" // lines 1-3
	const inst = "instances:\n- name: VI_1\n  interface: eth0\n  vrid: 1\n  vips: [198.51.100.100]\n"
	tests := []struct {
		name string
		yaml string
		want string // the one error expected, exactly
	}{
		{"cluster name missing", "gossip:\n  keys: [" + key16 + "]\n",
			"/etc/vipd.yaml:1: gossip.cluster_name: is required (it keeps clusters from merging)"},
		{"cluster name empty", "gossip:\n  cluster_name: \"\"\n  keys: [" + key16 + "]\n",
			"/etc/vipd.yaml:2: gossip.cluster_name: is required (it keeps clusters from merging)"},
		{"cluster name too long", "gossip:\n  cluster_name: " + strings.Repeat("x", 256) + "\n  keys: [" + key16 + "]\n",
			"/etc/vipd.yaml:2: gossip.cluster_name: is 256 bytes, at most 255"},
		{"cluster name not printable", "gossip:\n  cluster_name: \"a\\tb\"\n  keys: [" + key16 + "]\n",
			`/etc/vipd.yaml:2: gossip.cluster_name: "a\tb" must be printable UTF-8 text`},
		{"cluster name a list", "gossip:\n  cluster_name: [a]\n  keys: [" + key16 + "]\n",
			`/etc/vipd.yaml:2: gossip.cluster_name: must be a single value, not a list`},
		{"bind address not an address", head + "  bind: {address: eth0}\n",
			`/etc/vipd.yaml:4: gossip.bind.address: "eth0" is not an IP address`},
		{"bind address multicast", head + "  bind:\n    address: 224.0.0.18\n",
			"/etc/vipd.yaml:5: gossip.bind.address: 224.0.0.18 is a multicast address"},
		{"bind port zero", head + "  bind:\n    port: 0\n",
			"/etc/vipd.yaml:5: gossip.bind.port: 0 is out of range 1-65535"},
		{"bind port too large", head + "  bind: {port: 65536}\n",
			"/etc/vipd.yaml:4: gossip.bind.port: 65536 is out of range 1-65535"},
		{"bind unknown key", head + "  bind: {addr: 198.51.100.1}\n",
			"/etc/vipd.yaml:4: gossip.bind.addr: unknown key (allowed: address, port)"},
		{"advertise unspecified", head + "  advertise:\n    address: 0.0.0.0\n",
			"/etc/vipd.yaml:5: gossip.advertise.address: 0.0.0.0 is not an address other members can reach"},
		{"advertise port negative", head + "  advertise: {port: -1}\n",
			"/etc/vipd.yaml:4: gossip.advertise.port: -1 is out of range 1-65535"},
		{"join not a list", head + "  join: lb2\n",
			`/etc/vipd.yaml:4: gossip.join: must be a list, not "lb2"`},
		{"join bad name", head + "  join:\n  - lb2\n  - \"lb 3\"\n",
			`/etc/vipd.yaml:6: gossip.join[1]: "lb 3": "lb 3" is not an IP address or DNS name`},
		{"join bad IPv4", head + "  join: [198.51.100.300]\n",
			`/etc/vipd.yaml:4: gossip.join[0]: "198.51.100.300": "198.51.100.300" is not an IP address or DNS name`},
		{"join bad port", head + "  join:\n  - \"lb2:http\"\n",
			`/etc/vipd.yaml:5: gossip.join[0]: "lb2:http": port "http" is not a number in 1-65535`},
		{"join port out of range", head + "  join: [\"lb2:70000\"]\n",
			`/etc/vipd.yaml:4: gossip.join[0]: "lb2:70000": port "70000" is not a number in 1-65535`},
		{"join IPv6 with port unbracketed", head + "  join: [\"2001:db8::1:7946:x\"]\n",
			`/etc/vipd.yaml:4: gossip.join[0]: "2001:db8::1:7946:x" is not host, host:port or [IPv6]:port`},
		{"join brackets around IPv4", head + "  join: [\"[198.51.100.1]:7946\"]\n",
			`/etc/vipd.yaml:4: gossip.join[0]: "[198.51.100.1]:7946" is not host, host:port or [IPv6]:port: brackets hold an IPv6 address`},
		{"join empty", head + "  join: [\"\"]\n",
			`/etc/vipd.yaml:4: gossip.join[0]: is empty`},
		{"join listed twice", head + "  join:\n  - lb2:7946\n  - lb3\n  - lb2:7946\n",
			`/etc/vipd.yaml:7: gossip.join[2]: "lb2:7946" is already listed (entry 0)`},
		{"key not base64", "gossip:\n  cluster_name: c\n  keys:\n  - \"not base64!\"\n",
			"/etc/vipd.yaml:4: gossip.keys[0]: invalid gossip key: not standard base64 (11 characters)"},
		{"key of 15 bytes", "gossip:\n  cluster_name: c\n  keys:\n  - " + key16 + "\n  - MDEyMzQ1Njc4OWFiY2Rl\n",
			"/etc/vipd.yaml:5: gossip.keys[1]: invalid gossip key: decodes to 15 bytes, not 16, 24 or 32 (AES-128, -192, -256)"},
		{"key twice", "gossip:\n  cluster_name: c\n  keys:\n  - " + key32 + "\n  - " + key16 + "\n  - " + key32 + "\n",
			"/etc/vipd.yaml:6: gossip.keys[2]: is the same key as keys[0]"},
		{"key file relative", "gossip:\n  cluster_name: c\n  key_file: keys.txt\n",
			`/etc/vipd.yaml:3: gossip.key_file: "keys.txt" must be an absolute path`},
		{"profile unknown", head + "  profile: fast\n",
			`/etc/vipd.yaml:4: gossip.profile: "fast" is not lan, wan, local`},
		{"timing zero", head + "  timings:\n    gossip_interval: 0s\n",
			"/etc/vipd.yaml:5: gossip.timings.gossip_interval: must be greater than 0 (leave it out for the profile's value)"},
		{"timing negative", head + "  timings: {push_pull_interval: -1s}\n",
			"/etc/vipd.yaml:4: gossip.timings.push_pull_interval: -1s is negative"},
		{"timing without unit", head + "  timings: {probe_interval: 1}\n",
			`/etc/vipd.yaml:4: gossip.timings.probe_interval: "1" is not a duration such as 1s or 100ms`},
		{"multiplier zero", head + "  timings:\n    suspicion_mult: 0\n",
			"/etc/vipd.yaml:5: gossip.timings.suspicion_mult: 0 is out of range 1-2147483647"},
		{"retransmit not an integer", head + "  timings: {retransmit_mult: many}\n",
			`/etc/vipd.yaml:4: gossip.timings.retransmit_mult: "many" is not an integer`},
		{"probe timeout not below interval", head + "  timings:\n    probe_interval: 1s\n    probe_timeout: 1s\n",
			"/etc/vipd.yaml:6: gossip.timings.probe_timeout: probe_timeout 1s must be less than probe_interval 1s"},
		{"probe interval below the profile's timeout", head + "  profile: wan\n  timings:\n    probe_interval: 2s\n",
			"/etc/vipd.yaml:6: gossip.timings.probe_interval: probe_timeout 3s (the wan profile's) must be less than probe_interval 2s"},
		{"probe timeout above the profile's interval", head + "  timings: {probe_timeout: 1500ms}\n",
			"/etc/vipd.yaml:4: gossip.timings.probe_timeout: probe_timeout 1.5s must be less than probe_interval 1s (the lan profile's)"},
		{"timings unknown key", head + "  timings: {probe: 1s}\n",
			"/etc/vipd.yaml:4: gossip.timings.probe: unknown key (allowed: gossip_interval, probe_interval, probe_timeout, push_pull_interval, retransmit_mult, suspicion_mult)"},
		{"az too long", head + "  az: " + strings.Repeat("a", 65) + "\n",
			"/etc/vipd.yaml:4: gossip.az: is 65 bytes, at most 64"},
		{"az not printable", head + "  az: \"a\\x00\"\n",
			`/etc/vipd.yaml:4: gossip.az: "a\x00" must be printable UTF-8 text`},
		{"state file relative", head + "  state_file: state.json\n",
			`/etc/vipd.yaml:4: gossip.state_file: "state.json" must be an absolute path`},
		{"state file empty", head + "  state_file: \"\"\n",
			"/etc/vipd.yaml:4: gossip.state_file: is required (default /var/lib/vipd/state.json)"},
		{"state file is the key file", "gossip:\n  cluster_name: c\n  key_file: /etc/vipd/k\n  state_file: /etc/vipd//k\n",
			"/etc/vipd.yaml:4: gossip.state_file: must not be the key_file (saving state would overwrite the keys)"},
		{"unknown gossip key", head + "  encrypt: true\n",
			"/etc/vipd.yaml:4: gossip.encrypt: unknown key (allowed: advertise, az, bind, cluster_name, join, key_file, keys, profile, reconnect_interval, reconnect_timeout, require_join, require_join_timeout, state_file, timings)"},
		{"reconnect interval zero", head + "  reconnect_interval: 0s\n",
			"/etc/vipd.yaml:4: gossip.reconnect_interval: must be greater than 0 (leave it out for the default)"},
		{"reconnect timeout shorter than the interval", head + "  reconnect_interval: 1m\n  reconnect_timeout: 30s\n",
			"/etc/vipd.yaml:5: gossip.reconnect_timeout: 30s is shorter than reconnect_interval 1m0s: a failed member would never be tried"},
		{"require_join not a boolean", head + "  require_join: maybe\n",
			`/etc/vipd.yaml:4: gossip.require_join: "maybe" is not true or false`},
		{"require_join_timeout negative", head + "  require_join_timeout: -1s\n",
			"/etc/vipd.yaml:4: gossip.require_join_timeout: -1s is negative"},
		{"gossip not a mapping", "gossip: [a]\n",
			"/etc/vipd.yaml:1: gossip: it must be a mapping of keys to values, not a list"},
		{"peers gossip without a gossip section", inst + "  peers: gossip\n",
			"/etc/vipd.yaml:6: instances[0].peers: peers: gossip needs a top-level gossip section"},
		{"peers not gossip", head + inst + "  peers: static\n",
			`/etc/vipd.yaml:9: instances[0].peers: "static" is not gossip (static peers go in unicast.peers)`},
		{"peers empty", head + inst + "  peers:\n",
			"/etc/vipd.yaml:9: instances[0].peers: needs a value"},
		{"gossip peers with a source of the other family", head + inst + "  family: ipv4\n  unicast: {source: \"2001:db8::1\"}\n  peers: gossip\n",
			"/etc/vipd.yaml:10: instances[0].unicast.source: 2001:db8::1 is not IPv4, the instance's family"},
		{"gossip and static peers of the other family", head + inst + "  family: ipv4\n  unicast:\n    peers: [\"2001:db8::2\"]\n  peers: gossip\n",
			"/etc/vipd.yaml:11: instances[0].unicast.peers[0]: 2001:db8::2 is not IPv4, the instance's family"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML("/etc/vipd.yaml", []byte(tc.yaml), config.LoadOptions{Hostname: "h"})
			if err == nil {
				t.Fatalf("no error; gossip %+v", cfg.Gossip)
			}
			ds := configtest.DiagnosticsOf(t, cfg, err).Errors()
			if len(ds) != 1 || ds[0].String() != tc.want {
				t.Errorf("errors:\n%swant exactly:\n  %s", configtest.Render(ds), tc.want)
			}
		})
	}
}

// Keys must never appear in diagnostics: they are logged.
func TestGossipKeyNotInDiagnostics(t *testing.T) {
	const secret = "c2VjcmV0LXRvby1zaHJ0" // 15 bytes
	in := "gossip:\n  cluster_name: c\n  keys: [" + secret + ", \"" + secret + "!\"]\n"
	_, err := config.ParseYAML("k.yaml", []byte(in), config.LoadOptions{Hostname: "h"})
	ds := configtest.DiagnosticsOf(t, nil, err)
	if len(ds.Errors()) != 2 {
		t.Fatalf("want two errors, got:\n%s", configtest.Render(ds))
	}
	for _, d := range ds {
		if strings.Contains(d.String(), secret[:8]) {
			t.Errorf("diagnostic quotes the key: %s", d)
		}
	}
}

func TestDecodeGossipKey(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantLen int
		wantErr string
	}{
		{"AES-128", key16, 16, ""},
		{"AES-192", key24, 24, ""},
		{"AES-256", key32, 32, ""},
		{"empty", "", 0, "invalid gossip key: empty"},
		{"unpadded", strings.TrimRight(key16, "="), 0, "invalid gossip key: not standard base64 (22 characters)"},
		{"URL alphabet", "-_-_" + key16[4:], 0, "not standard base64"},
		{"8 bytes", "MDEyMzQ1Njc=", 0, "invalid gossip key: decodes to 8 bytes, not 16, 24 or 32"},
		{"64 bytes", strings.Repeat("MDEy", 21) + "MA==", 0, "decodes to 64 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := config.DecodeGossipKey(tc.in)
			if tc.wantErr == "" {
				if err != nil || len(k) != tc.wantLen {
					t.Fatalf("got %d bytes, %v; want %d bytes", len(k), err, tc.wantLen)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, config.ErrGossipKey) {
				t.Fatalf("error %v, want one wrapping ErrGossipKey containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckJoin(t *testing.T) {
	good := []string{
		"lb2", "lb2.example.org", "lb2.example.org.", "lb-2:7946", "_gossip.example.org",
		"198.51.100.3", "198.51.100.3:1", "2001:db8::4", "[2001:db8::4]", "[2001:db8::4]:65535", "host.local:07946",
	}
	for _, s := range good {
		if msg := config.CheckJoin(s); msg != "" {
			t.Errorf("checkJoin(%q) = %q, want fine", s, msg)
		}
	}
	bad := map[string]string{
		"":                                "is empty",
		"lb2:":                            `port "" is not a number`,
		":7946":                           `"" is not an IP address or DNS name`,
		"-lb2":                            "is not an IP address or DNS name",
		"lb2-.example":                    "is not an IP address or DNS name",
		"a..b":                            "is not an IP address or DNS name",
		"1.2.3":                           "is not an IP address or DNS name",
		"0.0.0.0":                         "is not an address a member can have",
		"[ff02::1]:7946":                  "is not an address a member can have",
		"fe80::1%eth0":                    "zones are not supported",
		"[2001:db8::4]:+1":                "is not a number",
		"[2001:db8::4":                    "is not host, host:port or [IPv6]:port",
		"lb2/198.51.100.3":                "is not an IP address or DNS name",
		strings.Repeat("a", 64) + ".org":  "is not an IP address or DNS name",
		strings.Repeat("a.", 127) + "org": "is not an IP address or DNS name",
	}
	for s, want := range bad {
		if msg := config.CheckJoin(s); !strings.Contains(msg, want) {
			t.Errorf("checkJoin(%q) = %q, want it to say %q", s, msg, want)
		}
	}
}

// The profiles must be memberlist's own.
func TestGossipProfileTimingsMatchMemberlist(t *testing.T) {
	for _, tc := range []struct {
		profile string
		ml      *memberlist.Config
	}{
		{config.GossipProfileLAN, memberlist.DefaultLANConfig()},
		{config.GossipProfileWAN, memberlist.DefaultWANConfig()},
		{config.GossipProfileLocal, memberlist.DefaultLocalConfig()},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			got, ok := config.GossipProfileTimings(tc.profile)
			want := config.GossipTimings{
				ProbeInterval: tc.ml.ProbeInterval, ProbeTimeout: tc.ml.ProbeTimeout, SuspicionMult: tc.ml.SuspicionMult,
				GossipInterval: tc.ml.GossipInterval, PushPullInterval: tc.ml.PushPullInterval, RetransmitMult: tc.ml.RetransmitMult,
			}
			if !ok || got != want {
				t.Errorf("got %+v (%v), want %+v", got, ok, want)
			}
		})
	}
	if _, ok := config.GossipProfileTimings("LAN"); ok {
		t.Error("profile names are lower case in the model")
	}
	if config.GossipProfiles()[0] != config.DefaultGossipProfile {
		t.Error("GossipProfiles does not list the default first")
	}
}

func TestGossipEffectiveTimings(t *testing.T) {
	lan, _ := config.GossipProfileTimings(config.GossipProfileLAN)
	wan, _ := config.GossipProfileTimings(config.GossipProfileWAN)
	tests := []struct {
		name string
		g    config.Gossip
		want config.GossipTimings
	}{
		{"profile alone", config.Gossip{Profile: config.GossipProfileWAN}, wan},
		{"unknown profile falls back to the default", config.Gossip{Profile: "x"}, lan},
		{"overrides win field by field", config.Gossip{Profile: config.GossipProfileWAN, Timings: config.GossipTimings{ProbeTimeout: time.Second, RetransmitMult: 9}},
			config.GossipTimings{ProbeInterval: wan.ProbeInterval, ProbeTimeout: time.Second, SuspicionMult: wan.SuspicionMult,
				GossipInterval: wan.GossipInterval, PushPullInterval: wan.PushPullInterval, RetransmitMult: 9}},
		{"every field overridden", config.Gossip{Profile: config.GossipProfileLAN, Timings: config.GossipTimings{1, 2, 3, 4, 5, 6}}, config.GossipTimings{1, 2, 3, 4, 5, 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.g.EffectiveTimings(); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestGossipSameSettings(t *testing.T) {
	base := func() *config.Gossip {
		g := config.DefaultGossip()
		g.ClusterName, g.Keys, g.Join = "c", []string{key16}, []string{"lb2"}
		return g
	}
	tests := []struct {
		name   string
		change func(g *config.Gossip)
		same   bool
	}{
		{"identical", func(g *config.Gossip) {}, true},
		{"position only", func(g *config.Gossip) { g.Pos = config.Pos{File: "x", Line: 9} }, true},
		{"cluster name", func(g *config.Gossip) { g.ClusterName = "d" }, false},
		{"bind address", func(g *config.Gossip) { g.BindAddr = mustAddr("198.51.100.1") }, false},
		{"bind port", func(g *config.Gossip) { g.BindPort++ }, false},
		{"advertise address", func(g *config.Gossip) { g.AdvertiseAddr = mustAddr("198.51.100.1") }, false},
		{"advertise port", func(g *config.Gossip) { g.AdvertisePort = 1 }, false},
		{"join", func(g *config.Gossip) { g.Join = append(g.Join, "lb3") }, false},
		{"key order", func(g *config.Gossip) { g.Keys = []string{key32, key16} }, false},
		{"key file", func(g *config.Gossip) { g.KeyFile = "/k" }, false},
		{"profile", func(g *config.Gossip) { g.Profile = config.GossipProfileWAN }, false},
		{"timing", func(g *config.Gossip) { g.Timings.RetransmitMult = 2 }, false},
		{"az", func(g *config.Gossip) { g.AZ = "a" }, false},
		{"state file", func(g *config.Gossip) { g.StateFile = "/s" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.change(b)
			if got := a.SameSettings(b); got != tc.same {
				t.Errorf("SameSettings = %v, want %v", got, tc.same)
			}
			if got := b.SameSettings(a); got != tc.same {
				t.Errorf("reversed SameSettings = %v, want %v", got, tc.same)
			}
		})
	}
	var none *config.Gossip
	if !none.SameSettings(nil) || none.SameSettings(base()) || base().SameSettings(nil) {
		t.Error("nil handling")
	}
}

func TestInstancePeersFromGossip(t *testing.T) {
	tests := []struct {
		name      string
		peers     []netip.Addr
		gossip    bool
		multicast bool
	}{
		{"no peers", nil, false, true},
		{"static peers", []netip.Addr{mustAddr("198.51.100.2")}, false, false},
		{"gossip peers only", nil, true, false},
		{"static and gossip peers", []netip.Addr{mustAddr("198.51.100.2")}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := configtest.Instance("a", "eth0", 1)
			i.UnicastPeers, i.PeersFromGossip = tc.peers, tc.gossip
			if got := i.Multicast(); got != tc.multicast {
				t.Errorf("Multicast() = %v, want %v", got, tc.multicast)
			}
			o := configtest.Instance("a", "eth0", 1)
			o.UnicastPeers, o.PeersFromGossip = tc.peers, !tc.gossip
			if i.SameSettings(o) {
				t.Error("SameSettings ignores PeersFromGossip")
			}
			o.PeersFromGossip = tc.gossip
			if !i.SameSettings(o) {
				t.Error("SameSettings differs for equal instances")
			}
		})
	}
}

// An IPv6 instance with gossip peers is unicast, so its first VIP need not
// be link-local.
func TestGossipPeersSkipMulticastRules(t *testing.T) {
	in := "gossip: {cluster_name: c, keys: [" + key16 + "]}\n" +
		"instances:\n- {name: a, interface: eth0, vrid: 1, peers: gossip, vips: [\"2001:db8::1\"]}\n"
	cfg, err := config.ParseYAML("g.yaml", []byte(in), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("unexpected warnings:\n%s", configtest.Render(cfg.Warnings))
	}
	multicast := strings.Replace(in, "peers: gossip, ", "", 1)
	mcfg, err := config.ParseYAML("g.yaml", []byte(multicast), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	configtest.RequireDiag(t, mcfg.Warnings, config.SeverityWarning, "should be link-local")
}

// Sections built in code are held to the same rules, pointing at the
// section's position with the native field names.
func TestGossipValidateBuiltInCode(t *testing.T) {
	pos := config.Pos{File: "code", Line: 7}
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   []string // every diagnostic, rendered
	}{
		{"defaults with a name and key are fine", func(c *config.Config) {}, nil},
		{"zero value section", func(c *config.Config) { c.Gossip = &config.Gossip{Pos: pos} }, []string{
			"code:7: gossip.cluster_name: is required (it keeps clusters from merging)",
			"code:7: gossip.bind.address: is required (0.0.0.0 for every address)",
			"code:7: gossip.bind.port: 0 is out of range 1-65535",
			`code:7: gossip.profile: "" is not lan, wan, local`,
			"code:7: gossip.state_file: is required (default /var/lib/vipd/state.json)",
			"code:7: warning: gossip: gossip is not encrypted: no keys and no key_file, so anyone who reaches the gossip port can read the cluster's state and join it",
		}},
		{"negative timings and ports", func(c *config.Config) {
			c.Gossip.Timings = config.GossipTimings{ProbeInterval: -1, SuspicionMult: -2}
			c.Gossip.AdvertisePort = 70000
		}, []string{
			"code:7: gossip.advertise.port: 70000 is out of range 1-65535",
			"code:7: gossip.timings.probe_interval: must be greater than 0",
			"code:7: gossip.timings.suspicion_mult: must be greater than 0",
		}},
		{"zoned addresses", func(c *config.Config) {
			c.Gossip.BindAddr = mustAddr("fe80::1%eth0")
			c.Gossip.AdvertiseAddr = mustAddr("fe80::2%eth0")
		}, []string{
			"code:7: gossip.bind.address: fe80::1%eth0: zones are not supported",
			"code:7: gossip.advertise.address: fe80::2%eth0: zones are not supported",
		}},
		{"peers from gossip without gossip", func(c *config.Config) {
			c.Gossip = nil
			i := configtest.Instance("a", "eth0", 1)
			i.Pos, i.PeersFromGossip = config.Pos{File: "code", Line: 3}, true
			i.VIPs = []config.VIP{configtest.VIP("198.51.100.1/32", "eth0")}
			c.Instances = []*config.Instance{i}
		}, []string{"code:3: instances[0].peers: peers: gossip needs a top-level gossip section"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.DefaultConfig()
			c.Gossip = config.DefaultGossip()
			c.Gossip.Pos, c.Gossip.ClusterName, c.Gossip.Keys = pos, "c", []string{key16}
			tc.change(c)
			var got []string
			for _, d := range c.Validate(nil) {
				got = append(got, d.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("diagnostics:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

func TestEncodeYAMLGossip(t *testing.T) {
	tests := []struct {
		name    string
		gossip  func() *config.Gossip
		peers   bool
		want    []string
		wantNot []string
	}{
		{
			name:   "defaults: no advertise, no timings",
			gossip: func() *config.Gossip { g := config.DefaultGossip(); g.ClusterName = "c"; return g },
			want: []string{"gossip:\n  cluster_name: c\n  bind:\n    address: 0.0.0.0\n    port: 7946\n  profile: lan\n  state_file: /var/lib/vipd/state.json\n",
				"  reconnect_interval: 10s\n  reconnect_timeout: 24h0m0s\n  require_join: false\n"},
			wantNot: []string{"advertise", "timings", "  join", "keys", "key_file", "az:", "peers:", "require_join_timeout"},
		},
		{
			name: "overrides only in timings, gossip peers",
			gossip: func() *config.Gossip {
				g := config.DefaultGossip()
				g.ClusterName, g.AdvertisePort, g.Timings.SuspicionMult = "c", 9000, 7
				return g
			},
			peers:   true,
			want:    []string{"  advertise:\n    port: 9000\n", "  timings:\n    suspicion_mult: 7\n  state_file", "    peers: gossip\n"},
			wantNot: []string{"probe_interval"},
		},
		{name: "no gossip section", wantNot: []string{"gossip"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := config.DefaultConfig()
			if tc.gossip != nil {
				c.Gossip = tc.gossip()
			}
			i := configtest.Instance("a", "eth0", 1)
			i.PeersFromGossip = tc.peers
			i.VIPs = []config.VIP{configtest.VIP("198.51.100.1/32", "eth0")}
			c.Instances = []*config.Instance{i}
			out, err := config.EncodeYAML(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(string(out), w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			again, err := config.ParseYAML("e.yaml", out, config.LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatalf("output does not load: %v\n%s", err, out)
			}
			configtest.SameConfig(t, again, c)
		})
	}
}
