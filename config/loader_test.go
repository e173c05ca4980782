package config_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// TestCountYAMLInstances: the count made before parsing agrees with the
// parser on block and flow lists, quoted commas and brackets, comments
// and nested lists.
func TestCountYAMLInstances(t *testing.T) {
	inst := func(name string, vrid int) string {
		return "{name: " + name + ", interface: eth0, vrid: " + strconv.Itoa(vrid) + ", vips: [198.51.100.1, 198.51.100.2]}"
	}
	cases := []struct {
		name, text string
		want       int
	}{
		{"block list", "node: {name: a}\ninstances:\n  - name: a\n    interface: eth0\n    vrid: 1\n    vips: [198.51.100.1]\n  # - name: commented\n  - name: b\n    interface: eth0\n    vrid: 2\n    vips:\n      - 198.51.100.2\n", 2},
		{"block list at column 0", "instances:\n- name: a\n  interface: eth0\n  vrid: 1\n  vips: [198.51.100.1]\nnode: {name: a}\n", 1},
		{"flow list on one line", "instances: [" + inst("a", 1) + ", " + inst("b", 2) + "]\n", 2},
		{"flow list over lines with comments and quotes", "instances: [   # a list, of two\n  " + inst("\"a,[b]\"", 1) + ",\n  # , [ ] {\n  " + inst("'it''s, ]'", 2) + ",\n]\nnode: {name: a}\n", 2},
		{"empty flow list", "instances: []\n", 0},
		{"no instances", "node: {name: a}\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, _ := config.CountYAMLInstances([]byte(c.text))
			cfg, err := config.ParseYAML("c.yaml", []byte(c.text), config.LoadOptions{Hostname: "h"})
			if err != nil {
				t.Fatalf("the file does not load: %v", err)
			}
			if n != c.want || len(cfg.Instances) != c.want {
				t.Fatalf("counted %d, parsed %d, want %d", n, len(cfg.Instances), c.want)
			}
		})
	}
	// A flow list of 100 000 over many lines is refused before parsing,
	// at the line of item 10 001.
	var b strings.Builder
	b.WriteString("instances: [\n")
	for i := range 100000 {
		b.WriteString(inst("v"+strconv.Itoa(i), i%255+1) + ",\n")
	}
	b.WriteString("]\n")
	start := time.Now()
	_, err := config.ParseYAML("flow.yaml", []byte(b.String()), config.LoadOptions{Hostname: "h"})
	if took := time.Since(start); err == nil || err.Error() != "flow.yaml:10002: instances: the configuration has 100000 instances; vipd supports at most 10000 (MaxInstances)" || took > 5*time.Second {
		t.Fatalf("flow list of 100 000: %v after %v", err, took)
	}
}
