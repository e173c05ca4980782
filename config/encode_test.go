package config

import (
	"strings"
	"testing"
)

// Encoding a loaded configuration and loading the result must give the
// same instances.
func TestEncodeYAMLRoundTrip(t *testing.T) {
	for _, path := range []string{
		"testdata/good.yaml",
		"testdata/cluster.yaml",
		"testdata/gossip.yaml",
		"testdata/cluster.conf",
		"testdata/golden/vrrp-v2-unicast-pass.keepalived.conf",
		"testdata/golden/vrrp-v3-unicast.keepalived.conf",
		"testdata/golden/vrrp-v3-ipv6-unicast.keepalived.conf",
	} {
		t.Run(path, func(t *testing.T) {
			cfg, err := Load(path, LoadOptions{Hostname: "h", sys: rootSys()})
			if err != nil {
				t.Fatal(err)
			}
			out, err := EncodeYAML(cfg)
			if err != nil {
				t.Fatal(err)
			}
			again, err := ParseYAML("converted.yaml", out, LoadOptions{Hostname: "other", sys: rootSys()})
			if err != nil {
				t.Fatalf("encoded YAML does not load: %v\n%s", err, out)
			}
			if again.Node != cfg.Node {
				t.Errorf("node %+v, want %+v", again.Node, cfg.Node)
			}
			sameConfig(t, again, cfg)
		})
	}
}

func TestEncodeYAMLShape(t *testing.T) {
	cfg, err := Load("testdata/golden/vrrp-v2-unicast-pass.keepalived.conf", LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := EncodeYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"node:\n  name: h1\n",
		"    vrid: 51\n",
		"    advert_interval: 1s\n",
		"    state: backup\n",
		"      source: 192.0.2.1\n",
		"      password: s3cret\n",
		"      - 192.0.2.100/24\n",
		"      master_delay: 5s\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
