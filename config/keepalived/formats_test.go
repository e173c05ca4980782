package keepalived

import (
	"errors"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

// keepalived.conf has no gossip: a gossip block there is an unknown
// keyword, as keepalived itself would say, and nothing is set.
func TestKeepalivedHasNoGossip(t *testing.T) {
	in := "gossip {\n cluster_name c\n}\nvrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n peers gossip\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n"
	cfg, err := Parse("k.conf", []byte(in), config.LoadOptions{Hostname: "h", FS: noFS{}, System: rootSys()})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gossip != nil || cfg.Instances[0].PeersFromGossip || !cfg.Instances[0].Multicast() {
		t.Errorf("keepalived input set gossip: %+v, peers from gossip %v", cfg.Gossip, cfg.Instances[0].PeersFromGossip)
	}
	configtest.RequireDiag(t, cfg.Warnings, config.SeverityWarning, `k.conf:1: warning: gossip: unknown keyword "gossip"`)
	configtest.RequireDiag(t, cfg.Warnings, config.SeverityWarning, `k.conf:7: warning: vrrp_instance[VI_1].peers: unknown keyword "peers"`)
}

func TestProcessKeepalived(t *testing.T) {
	inst := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n"
	tests := []struct {
		name  string
		defs  string
		want  config.Node
		warns []string
	}{
		{"none", "", config.Node{Name: "h"}, nil},
		{"rt priority and no swap", " vrrp_rt_priority 50\n vrrp_no_swap\n",
			config.Node{Name: "h", Scheduling: config.Scheduling{Policy: config.SchedRR, Priority: 50}, LockMemory: true}, nil},
		{"nice", " vrrp_priority -10\n", config.Node{Name: "h", Scheduling: config.Scheduling{Nice: -10}}, nil},
		{"rt wins over nice", " vrrp_priority -10\n vrrp_rt_priority 20\n",
			config.Node{Name: "h", Scheduling: config.Scheduling{Policy: config.SchedRR, Priority: 20}},
			[]string{"k.conf:2: warning: global_defs.vrrp_priority: ignored with vrrp_rt_priority"}},
		{"rt clamped high", " vrrp_rt_priority 150\n", config.Node{Name: "h", Scheduling: config.Scheduling{Policy: config.SchedRR, Priority: 99}},
			[]string{"k.conf:2: warning: global_defs.vrrp_rt_priority: real-time priority 150 greater than maximum 99; set to 99"}},
		{"rt clamped low", " vrrp_rt_priority -3\n", config.Node{Name: "h", Scheduling: config.Scheduling{Policy: config.SchedRR, Priority: 1}},
			[]string{"k.conf:2: warning: global_defs.vrrp_rt_priority: real-time priority -3 less than minimum 1; set to 1"}},
		{"rt junk reads as 0, as in keepalived", " vrrp_rt_priority high\n", config.Node{Name: "h", Scheduling: config.Scheduling{Policy: config.SchedRR, Priority: 1}},
			[]string{"k.conf:2: warning: global_defs.vrrp_rt_priority: invalid number 'high'; used anyway",
				"k.conf:2: warning: global_defs.vrrp_rt_priority: real-time priority 0 less than minimum 1; set to 1"}},
		{"rt out of int range", " vrrp_rt_priority 99999999999\n", config.Node{Name: "h"},
			[]string{`k.conf:2: warning: global_defs.vrrp_rt_priority: real-time priority "99999999999" invalid`}},
		{"rt missing", " vrrp_rt_priority\n", config.Node{Name: "h"},
			[]string{"k.conf:2: warning: global_defs.vrrp_rt_priority: no real-time priority given; ignored"}},
		{"nice out of range resets", " vrrp_priority -5\n vrrp_priority -21\n", config.Node{Name: "h"},
			[]string{`k.conf:3: warning: global_defs.vrrp_priority: invalid process priority "-21"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "global_defs {\n" + tt.defs + "}\n" + inst
			cfg, err := Parse("k.conf", []byte(in), config.LoadOptions{Hostname: "h", FS: noFS{}, System: rootSys()})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if cfg.Node != tt.want {
				t.Errorf("node = %+v, want %+v", cfg.Node, tt.want)
			}
			if len(cfg.Warnings) != len(tt.warns) {
				t.Errorf("warnings:\n%swant %d", configtest.Render(cfg.Warnings), len(tt.warns))
			}
			for _, w := range tt.warns {
				configtest.RequireDiag(t, cfg.Warnings, config.SeverityWarning, w)
			}
			// vipd convert carries the settings over.
			out, err := config.EncodeYAML(cfg)
			if err != nil {
				t.Fatal(err)
			}
			y, err := config.ParseYAML("c.yaml", out, config.LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatalf("converted output does not load: %v\n%s", err, out)
			}
			if y.Node != cfg.Node {
				t.Errorf("converted node = %+v, want %+v\n%s", y.Node, cfg.Node, out)
			}
		})
	}
	// The keywords are no longer among those "with no effect in vipd".
	in := "global_defs {\n vrrp_rt_priority 50\n vrrp_no_swap\n vrrp_priority 1\n vrrp_rlimit_rttime 100\n}\n" + inst
	unused := Unused("k.conf", []byte(in), config.LoadOptions{Hostname: "h", FS: noFS{}, System: rootSys()})
	if len(unused) != 1 || unused[0].Field != "global_defs.vrrp_rlimit_rttime" {
		t.Errorf("unused settings:\n%swant only vrrp_rlimit_rttime", configtest.Render(unused))
	}
}

// TestVRIDSharingOncePerInstance: instances sharing a VRID, family and
// interface are each reported once, against the first earlier one they
// clash with, an error before a warning.
func TestVRIDSharingOncePerInstance(t *testing.T) {
	inst := func(name string, lines ...string) string {
		return "vrrp_instance " + name + " {\n  interface eth0\n  virtual_router_id 51\n" + strings.Join(lines, "\n") + "\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n"
	}
	peer := func(src, p string) []string {
		out := []string{"  unicast_peer {", "    " + p, "  }"}
		if src != "" {
			out = append(out, "  unicast_src_ip "+src)
		}
		return out
	}
	cases := []struct {
		name string
		conf string
		want []string // every diagnostic, rendered without the path
	}{
		{"three multicast: each later one against the first",
			inst("A") + inst("B") + inst("C"),
			[]string{"vrrp_instance[B].virtual_router_id: A and B both use VRID 51 with IPv4 on interface eth0 (keepalived refuses to start)",
				"vrrp_instance[C].virtual_router_id: A and C both use VRID 51 with IPv4 on interface eth0 (keepalived refuses to start)"}},
		{"unicast after a multicast and a unicast with its peer: the error wins",
			inst("A") + inst("B", peer("192.0.2.10", "192.0.2.2")...) + inst("C", peer("192.0.2.10", "192.0.2.2")...),
			[]string{"warning: vrrp_instance[B].virtual_router_id: A and B both use VRID 51 with IPv4 on interface eth0, one unicast and one multicast; keepalived accepts this",
				"vrrp_instance[C].virtual_router_id: B and C both use VRID 51 with IPv4 on interface eth0 with a common unicast peer (keepalived refuses to start)"}},
		{"different sources are separate routers, one without a source meets both",
			inst("A", peer("192.0.2.10", "192.0.2.2")...) + inst("B", peer("192.0.2.11", "192.0.2.2")...) + inst("C", peer("", "192.0.2.2")...),
			[]string{"vrrp_instance[C].virtual_router_id: A and C both use VRID 51 with IPv4 on interface eth0 with a common unicast peer (keepalived refuses to start)"}},
		{"same source, different peers: one warning each",
			inst("A", peer("192.0.2.10", "192.0.2.2")...) + inst("B", peer("192.0.2.10", "192.0.2.3")...) + inst("C", peer("192.0.2.10", "192.0.2.4")...),
			[]string{"warning: vrrp_instance[B].virtual_router_id: A and B both use VRID 51 with IPv4 on interface eth0 with different unicast peers; keepalived accepts this",
				"warning: vrrp_instance[C].virtual_router_id: A and C both use VRID 51 with IPv4 on interface eth0 with different unicast peers; keepalived accepts this"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse(kc, []byte(c.conf), config.LoadOptions{Hostname: "h"})
			var got []string
			for _, d := range configtest.DiagnosticsOf(t, cfg, err) {
				if strings.Contains(d.Message, "VRID 51") {
					_, rest, _ := strings.Cut(d.String(), ": ")
					got = append(got, rest)
				}
			}
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
		})
	}
}

// TestDiagnosticsCapped: a file of many problems reports MaxDiagnostics of
// them, errors first, and one line counting the rest; it still fails.
func TestDiagnosticsCapped(t *testing.T) {
	var b strings.Builder
	for range 150 {
		b.WriteString("bogus_keyword\n") // a warning each
	}
	for range 120 {
		b.WriteString("vrrp_instance VI_1 {\n}\n") // the first an error, the rest duplicates (warnings)
	}
	b.WriteString("vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 300\n}\n")
	_, err := Parse(kc, []byte(b.String()), config.LoadOptions{Hostname: "h"})
	var ds config.Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error %v, want Diagnostics", err)
	}
	if len(ds) != config.MaxDiagnostics+1 {
		t.Fatalf("%d diagnostics, want %d", len(ds), config.MaxDiagnostics+1)
	}
	errs := ds.Errors()
	last := ds[len(ds)-1]
	if len(errs) < 3 || last.Severity != config.SeverityWarning || !strings.HasSuffix(last.String(), "more warnings not shown (at most 100 are)") ||
		!strings.Contains(last.String(), "0 more errors and ") {
		t.Errorf("errors %d, last %q", len(errs), last)
	}
	// Only warnings beyond the cap: the load still succeeds, capped.
	cfg, err := Parse(kc, []byte(strings.Repeat("bogus_keyword\n", 300)), config.LoadOptions{Hostname: "h"})
	if err != nil || len(cfg.Warnings) != config.MaxDiagnostics+1 || !strings.Contains(cfg.Warnings[config.MaxDiagnostics].String(), "0 more errors and 200 more warnings not shown") {
		t.Fatalf("err %v; %d warnings, last %v", err, len(cfg.Warnings), cfg.Warnings[len(cfg.Warnings)-1])
	}
}

// TestDiagnosticEscapesControlBytes: what a file says is printed with its
// control bytes escaped, so a diagnostic cannot drive a terminal.
func TestDiagnosticEscapesControlBytes(t *testing.T) {
	conf := "\x1b]0;owned\x07\x1b[2J\x9b1m\u009b2m\xff bogus\n" + "vrrp_instance VI_\x1b[31m {\n}\n"
	cfg, err := Parse(kc, []byte(conf), config.LoadOptions{Hostname: "h"})
	ds := configtest.DiagnosticsOf(t, cfg, err)
	if len(ds) == 0 {
		t.Fatal("no diagnostics")
	}
	all := configtest.Render(ds)
	for _, c := range all {
		if c < 0x20 && c != '\n' || c == 0x7f || c >= 0x80 && c < 0xa0 || c == 0xfffd {
			t.Fatalf("control character %U in:\n%s", c, all)
		}
	}
	for _, want := range []string{`\x1b]0;owned\x07\x1b[2J\x9b1m\xc2\x9b2m\xff`, `vrrp_instance[VI_\x1b[31m]`} {
		if !strings.Contains(all, want) {
			t.Errorf("%q not in:\n%s", want, all)
		}
	}
}

// TestAPIDefaults: keepalived.conf has no api section; its configuration
// gets the defaults, as the native format's does.
func TestAPIDefaults(t *testing.T) {
	want := config.DefaultAPI()
	in := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n"
	k, err := Parse("k.conf", []byte(in), config.LoadOptions{Hostname: "h", FS: noFS{}, System: rootSys()})
	if err != nil {
		t.Fatal(err)
	}
	if !k.API.SameSettings(&want) {
		t.Errorf("API %+v, want the defaults %+v", k.API, want)
	}
}
