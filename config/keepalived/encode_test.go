package keepalived

import (
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

// Encoding a loaded configuration and loading the result must give the
// same instances.
func TestEncodeYAMLRoundTrip(t *testing.T) {
	for _, path := range []string{
		"../testdata/good.yaml",
		"../testdata/cluster.yaml",
		"../testdata/gossip.yaml",
		"../testdata/cluster.conf",
		"../testdata/golden/vrrp-v2-unicast-pass.keepalived.conf",
		"../testdata/golden/vrrp-v3-unicast.keepalived.conf",
		"../testdata/golden/vrrp-v3-ipv6-unicast.keepalived.conf",
	} {
		t.Run(path, func(t *testing.T) {
			cfg, err := loadFile(path, config.LoadOptions{Hostname: "h", System: rootSys()})
			if err != nil {
				t.Fatal(err)
			}
			out, err := config.EncodeYAML(cfg)
			if err != nil {
				t.Fatal(err)
			}
			again, err := config.ParseYAML("converted.yaml", out, config.LoadOptions{Hostname: "other", System: rootSys()})
			if err != nil {
				t.Fatalf("encoded YAML does not load: %v\n%s", err, out)
			}
			if again.Node != cfg.Node {
				t.Errorf("node %+v, want %+v", again.Node, cfg.Node)
			}
			configtest.SameConfig(t, again, cfg)
			// A keepalived.conf has DefaultAPI; its conversion writes the
			// section out and loads to the same.
			if d := cfg.Differences(again); len(d) > 0 {
				t.Errorf("differences after the round trip:\n%s\n%s", strings.Join(d, "\n"), out)
			}
			if !strings.Contains(string(out), "\napi:\n  socket: /run/vipd/vipd.sock\n  listen:\n    - 127.0.0.1:9746\n  public_read: true\n") {
				t.Errorf("the default api section is not written in full:\n%s", out)
			}
		})
	}
}

// Differences names what differs, and SameSettings ignores positions.
func TestConfigDifferences(t *testing.T) {
	load := func() *config.Config {
		cfg, err := loadFile("../testdata/cluster.conf", config.LoadOptions{Hostname: "h", System: rootSys()})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a, b := load(), load()
	b.Instances[0].Pos = config.Pos{File: "elsewhere", Line: 9}
	if d := a.Differences(b); len(d) != 0 || !a.SameSettings(b) {
		t.Fatalf("equal configurations differ: %v", d)
	}
	b.Instances[1].Priority--
	b.Checks = b.Checks[:1]
	b.FastTakeover = !b.FastTakeover
	b.API.Socket = ""
	d := strings.Join(a.Differences(b), "\n")
	for _, want := range []string{"instances[1] (VI_V6)", "checks: 4 vs 1 entries", "vrrp.fast_takeover", "api: {socket \"/run/vipd/vipd.sock\" listen [127.0.0.1:9746] advertise \"\" tls none token_file \"\" read_token_file \"\" public_read true} vs"} {
		if !strings.Contains(d, want) {
			t.Errorf("differences lack %q:\n%s", want, d)
		}
	}
	if a.SameSettings(b) || a.SameSettings(nil) {
		t.Error("different configurations reported the same")
	}
}

func TestEncodeYAMLShape(t *testing.T) {
	cfg, err := loadFile("../testdata/golden/vrrp-v2-unicast-pass.keepalived.conf", config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := config.EncodeYAML(cfg)
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

// Unused lists the settings the load accepts without a word
// because they mean nothing to vipd, each at its line; warned-about ones
// are not repeated there.
func TestKeepalivedUnused(t *testing.T) {
	src := "global_defs {\n  router_id a\n  enable_snmp_vrrp\n  lvs_flush\n  use_vmac_whatever\n}\n" +
		"vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  debug 3\n  use_vmac\n" +
		"  virtual_ipaddress {\n    198.51.100.100/24\n  }\n}\n"
	got := Unused("k.conf", []byte(src), config.LoadOptions{Hostname: "h", System: rootSys()})
	var lines []string
	for _, d := range got {
		lines = append(lines, d.String())
	}
	want := []string{
		"k.conf:3: warning: global_defs.enable_snmp_vrrp: enable_snmp_vrrp is a setting of keepalived itself with no effect in vipd; not converted",
		"k.conf:4: warning: global_defs.lvs_flush: lvs_flush is a setting of keepalived itself with no effect in vipd; not converted",
		"k.conf:10: warning: vrrp_instance[VI_1].debug: debug is a setting of keepalived itself with no effect in vipd; not converted",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
