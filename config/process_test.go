package config

import (
	"strings"
	"testing"
)

func TestProcessYAML(t *testing.T) {
	tests := []struct {
		name string
		text string
		want Node
	}{
		{"defaults", "node: {name: a}\n", Node{Name: "a"}},
		{"rr", "node:\n  name: a\n  scheduling: {policy: rr, priority: 50}\n  lock_memory: true\n",
			Node{Name: "a", Scheduling: Scheduling{Policy: SchedRR, Priority: 50}, LockMemory: true}},
		{"fifo upper case", "node:\n  name: a\n  scheduling: {policy: FIFO, priority: 99}\n",
			Node{Name: "a", Scheduling: Scheduling{Policy: SchedFIFO, Priority: 99}}},
		{"nice", "node:\n  name: a\n  scheduling: {nice: -20}\n",
			Node{Name: "a", Scheduling: Scheduling{Nice: -20}}},
		{"other spelled out", "node:\n  name: a\n  scheduling: {policy: other, nice: 19}\n  lock_memory: false\n",
			Node{Name: "a", Scheduling: Scheduling{Nice: 19}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseYAML("p.yaml", []byte(tt.text), LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatalf("ParseYAML: %v", err)
			}
			if cfg.Node != tt.want {
				t.Errorf("node = %+v, want %+v", cfg.Node, tt.want)
			}
			// config print writes what loads back the same.
			out, err := EncodeYAML(cfg)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseYAML("again.yaml", out, LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatalf("encoded output does not load: %v\n%s", err, out)
			}
			if d := cfg.Differences(again); len(d) != 0 {
				t.Errorf("round trip differs: %v\n%s", d, out)
			}
		})
	}
}

func TestProcessYAMLErrors(t *testing.T) {
	tests := []struct {
		text string
		want string // one error, rendered PATH:LINE: ...
	}{
		{"node:\n  scheduling: {policy: rr, priority: 100}\n", "p.yaml:2: node.scheduling.priority:"},
		{"node:\n  scheduling: {policy: rr, priority: 0}\n", "p.yaml:2: node.scheduling.priority:"},
		{"node:\n  scheduling:\n    policy: rr\n", "p.yaml:3: node.scheduling.priority: policy rr needs a priority 1-99"},
		{"node:\n  scheduling:\n    policy: deadline\n", `p.yaml:3: node.scheduling.policy: "deadline" is not one of other, rr, fifo`},
		{"node:\n  scheduling:\n    nice: -21\n", "p.yaml:3: node.scheduling.nice:"},
		{"node:\n  scheduling:\n    nice: x\n", "p.yaml:3: node.scheduling.nice:"},
		{"node:\n  scheduling:\n    priority: 10\n", "p.yaml:3: node.scheduling.priority: 10: a priority needs policy rr or fifo"},
		{"node:\n  scheduling:\n    policy: fifo\n    priority: 10\n    nice: -5\n", "p.yaml:5: node.scheduling.nice: -5: a nice value applies to policy other only"},
		{"node:\n  scheduling: rr\n", "p.yaml:2: node.scheduling:"},
		{"node:\n  scheduling: {policy: rr, priority: 5, weight: 3}\n", "p.yaml:2: node.scheduling.weight: unknown key"},
		{"node:\n  lock_memory: maybe\n", "p.yaml:2: node.lock_memory:"},
	}
	for _, tt := range tests {
		cfg, err := ParseYAML("p.yaml", []byte(tt.text), LoadOptions{Hostname: "h"})
		if err == nil {
			t.Errorf("%q: loaded (%+v), want an error", tt.text, cfg.Node)
			continue
		}
		ds := diagnosticsOf(t, cfg, err)
		if len(ds) != 1 || !strings.HasPrefix(ds[0].String(), tt.want) {
			t.Errorf("%q: got\n%swant one error starting %q", tt.text, render(ds), tt.want)
		}
	}
}

// TestProcessValidate: a configuration built in code is held to the same
// rules, with the file named.
func TestProcessValidate(t *testing.T) {
	for _, s := range []Scheduling{
		{Policy: SchedRR}, {Policy: SchedFIFO, Priority: 100}, {Policy: "batch"},
		{Priority: 3}, {Nice: 20}, {Policy: SchedRR, Priority: 1, Nice: 1},
	} {
		c := DefaultConfig()
		c.Path = "built.yaml"
		c.Node.Scheduling = s
		ds := c.Validate(nil)
		if len(ds) != 1 || !strings.HasPrefix(ds[0].String(), "built.yaml: node.scheduling.") {
			t.Errorf("%+v: got\n%swant one error on node.scheduling", s, render(ds))
		}
	}
	for _, s := range []Scheduling{{}, {Policy: SchedOther, Nice: -20}, {Policy: SchedRR, Priority: 99}, {Policy: SchedFIFO, Priority: 1}} {
		c := DefaultConfig()
		c.Node.Scheduling = s
		if ds := c.Validate(nil); len(ds) != 0 {
			t.Errorf("%+v: unexpected\n%s", s, render(ds))
		}
	}
}

func TestProcessKeepalived(t *testing.T) {
	inst := "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  198.51.100.1\n }\n}\n"
	tests := []struct {
		name  string
		defs  string
		want  Node
		warns []string
	}{
		{"none", "", Node{Name: "h"}, nil},
		{"rt priority and no swap", " vrrp_rt_priority 50\n vrrp_no_swap\n",
			Node{Name: "h", Scheduling: Scheduling{Policy: SchedRR, Priority: 50}, LockMemory: true}, nil},
		{"nice", " vrrp_priority -10\n", Node{Name: "h", Scheduling: Scheduling{Nice: -10}}, nil},
		{"rt wins over nice", " vrrp_priority -10\n vrrp_rt_priority 20\n",
			Node{Name: "h", Scheduling: Scheduling{Policy: SchedRR, Priority: 20}},
			[]string{"k.conf:2: warning: global_defs.vrrp_priority: ignored with vrrp_rt_priority"}},
		{"rt clamped high", " vrrp_rt_priority 150\n", Node{Name: "h", Scheduling: Scheduling{Policy: SchedRR, Priority: 99}},
			[]string{"k.conf:2: warning: global_defs.vrrp_rt_priority: real-time priority 150 greater than maximum 99; set to 99"}},
		{"rt clamped low", " vrrp_rt_priority -3\n", Node{Name: "h", Scheduling: Scheduling{Policy: SchedRR, Priority: 1}},
			[]string{"k.conf:2: warning: global_defs.vrrp_rt_priority: real-time priority -3 less than minimum 1; set to 1"}},
		{"rt junk reads as 0, as in keepalived", " vrrp_rt_priority high\n", Node{Name: "h", Scheduling: Scheduling{Policy: SchedRR, Priority: 1}},
			[]string{"k.conf:2: warning: global_defs.vrrp_rt_priority: invalid number 'high'; used anyway",
				"k.conf:2: warning: global_defs.vrrp_rt_priority: real-time priority 0 less than minimum 1; set to 1"}},
		{"rt out of int range", " vrrp_rt_priority 99999999999\n", Node{Name: "h"},
			[]string{`k.conf:2: warning: global_defs.vrrp_rt_priority: real-time priority "99999999999" invalid`}},
		{"rt missing", " vrrp_rt_priority\n", Node{Name: "h"},
			[]string{"k.conf:2: warning: global_defs.vrrp_rt_priority: no real-time priority given; ignored"}},
		{"nice out of range resets", " vrrp_priority -5\n vrrp_priority -21\n", Node{Name: "h"},
			[]string{`k.conf:3: warning: global_defs.vrrp_priority: invalid process priority "-21"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "global_defs {\n" + tt.defs + "}\n" + inst
			cfg, err := ParseKeepalived("k.conf", []byte(in), LoadOptions{Hostname: "h", fs: noFS{}, sys: rootSys()})
			if err != nil {
				t.Fatalf("ParseKeepalived: %v", err)
			}
			if cfg.Node != tt.want {
				t.Errorf("node = %+v, want %+v", cfg.Node, tt.want)
			}
			if len(cfg.Warnings) != len(tt.warns) {
				t.Errorf("warnings:\n%swant %d", render(cfg.Warnings), len(tt.warns))
			}
			for _, w := range tt.warns {
				requireDiag(t, cfg.Warnings, SeverityWarning, w)
			}
			// vipd convert carries the settings over.
			out, err := EncodeYAML(cfg)
			if err != nil {
				t.Fatal(err)
			}
			y, err := ParseYAML("c.yaml", out, LoadOptions{Hostname: "h"})
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
	unused := KeepalivedUnused("k.conf", []byte(in), LoadOptions{Hostname: "h", fs: noFS{}, sys: rootSys()})
	if len(unused) != 1 || unused[0].Field != "global_defs.vrrp_rlimit_rttime" {
		t.Errorf("unused settings:\n%swant only vrrp_rlimit_rttime", render(unused))
	}
}
