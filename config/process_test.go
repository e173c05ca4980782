package config_test

import (
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

func TestProcessYAML(t *testing.T) {
	tests := []struct {
		name string
		text string
		want config.Node
	}{
		{"defaults", "node: {name: a}\n", config.Node{Name: "a"}},
		{"rr", "node:\n  name: a\n  scheduling: {policy: rr, priority: 50}\n  lock_memory: true\n",
			config.Node{Name: "a", Scheduling: config.Scheduling{Policy: config.SchedRR, Priority: 50}, LockMemory: true}},
		{"fifo upper case", "node:\n  name: a\n  scheduling: {policy: FIFO, priority: 99}\n",
			config.Node{Name: "a", Scheduling: config.Scheduling{Policy: config.SchedFIFO, Priority: 99}}},
		{"nice", "node:\n  name: a\n  scheduling: {nice: -20}\n",
			config.Node{Name: "a", Scheduling: config.Scheduling{Nice: -20}}},
		{"other spelled out", "node:\n  name: a\n  scheduling: {policy: other, nice: 19}\n  lock_memory: false\n",
			config.Node{Name: "a", Scheduling: config.Scheduling{Nice: 19}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.ParseYAML("p.yaml", []byte(tt.text), config.LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatalf("ParseYAML: %v", err)
			}
			if cfg.Node != tt.want {
				t.Errorf("node = %+v, want %+v", cfg.Node, tt.want)
			}
			// config print writes what loads back the same.
			out, err := config.EncodeYAML(cfg)
			if err != nil {
				t.Fatal(err)
			}
			again, err := config.ParseYAML("again.yaml", out, config.LoadOptions{Hostname: "h"})
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
		cfg, err := config.ParseYAML("p.yaml", []byte(tt.text), config.LoadOptions{Hostname: "h"})
		if err == nil {
			t.Errorf("%q: loaded (%+v), want an error", tt.text, cfg.Node)
			continue
		}
		ds := configtest.DiagnosticsOf(t, cfg, err)
		if len(ds) != 1 || !strings.HasPrefix(ds[0].String(), tt.want) {
			t.Errorf("%q: got\n%swant one error starting %q", tt.text, configtest.Render(ds), tt.want)
		}
	}
}

// TestProcessValidate: a configuration built in code is held to the same
// rules, with the file named.
func TestProcessValidate(t *testing.T) {
	for _, s := range []config.Scheduling{
		{Policy: config.SchedRR}, {Policy: config.SchedFIFO, Priority: 100}, {Policy: "batch"},
		{Priority: 3}, {Nice: 20}, {Policy: config.SchedRR, Priority: 1, Nice: 1},
	} {
		c := config.DefaultConfig()
		c.Path = "built.yaml"
		c.Node.Scheduling = s
		ds := c.Validate(nil)
		if len(ds) != 1 || !strings.HasPrefix(ds[0].String(), "built.yaml: node.scheduling.") {
			t.Errorf("%+v: got\n%swant one error on node.scheduling", s, configtest.Render(ds))
		}
	}
	for _, s := range []config.Scheduling{{}, {Policy: config.SchedOther, Nice: -20}, {Policy: config.SchedRR, Priority: 99}, {Policy: config.SchedFIFO, Priority: 1}} {
		c := config.DefaultConfig()
		c.Node.Scheduling = s
		if ds := c.Validate(nil); len(ds) != 0 {
			t.Errorf("%+v: unexpected\n%s", s, configtest.Render(ds))
		}
	}
}
