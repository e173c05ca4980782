package config_test

import (
	"os"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/config/internal/machine"
)

// The parser must never panic, whatever the input, and must either return
// a Config or a non-empty error list (the keepalived.conf parser's fuzzer
// is in config/keepalived).
func FuzzParseYAML(f *testing.F) {
	for _, name := range []string{"testdata/good.yaml", "testdata/cluster.yaml", "testdata/gossip.yaml"} {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("instances:\n- {name: a, vrid: 99999999999999999999999, advert_interval: 9999999999h, vips: [{address: x}]}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("vrrp: {garp: {master_repeat: -1}}\ninstances: [~, [], {unicast: {peers: {}}}]\n"))
	f.Add([]byte("checks: [{name: c, dns: {server: \"[::1]:53\", name: x., type: txt}, exec: {command: []}}, {name: d, http: {url: \"http://h/\", body_regexp: \"(\"}}]\n" +
		"instances: [{name: a, track: [c, {check: d, weight: 999}], order: {nodes: [a, a], file: o, priorities: [3, 5]}, notify: {master: \"'\", timeout: 0s}}]\n" +
		"sync_groups: [{name: g, instances: [a, a, b], notify: {master_rx_lower_pri: x}}]\nscripts: {user: nobody, group: nope}\n"))
	f.Add([]byte("gossip: {cluster_name: \"a\\tb\", bind: {port: 0}, join: [\"[::1]\", \"h:\", x, x], keys: [\"MDEyMzQ1Njc4OWFiY2RlZg==\", \"MDEyMzQ1Njc4OWFiY2RlZg==\", \"!\"],\n" +
		"  key_file: k, profile: WAN, timings: {probe_interval: 1s, probe_timeout: 0s}, state_file: k}\n" +
		"instances: [{name: a, interface: e, vrid: 1, peers: gossip, unicast: {source: \"::1\"}, vips: [192.0.2.1]}]\n"))
	f.Add([]byte("gossip: [x]\ninstances: [{name: a, interface: e, vrid: 1, peers: Gossip, vips: [192.0.2.1]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.ParseYAML("f.yaml", data, config.LoadOptions{Hostname: "h", System: machine.Root()})
		configtest.CheckResult(t, cfg, err)
	})
}
