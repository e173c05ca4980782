package footprint

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/load"
)

const (
	iface      = "eth0"
	masterPrio = 150
	backupPrio = 100
)

var (
	masterAddr = netip.MustParseAddr("198.51.100.1")
	backupAddr = netip.MustParseAddr("198.51.100.2")
	vipNet     = netip.MustParsePrefix("203.0.113.0/24")
)

// cell is one configuration measured: n instances at one advert interval.
type cell struct {
	name      string
	instances int
	advert    string // as keepalived.conf writes it
	interval  time.Duration
}

var cells = []cell{
	{"1x1s", 1, "1", time.Second},
	{"100x100ms", 100, "0.1", 100 * time.Millisecond},
	{"100x10ms", 100, "0.01", 10 * time.Millisecond},
}

// vip is instance i's one VIP (i from 1): 203.0.113.i/32. Its VRID is i.
func vip(i int) netip.Prefix {
	b := vipNet.Addr().As4()
	b[3] = byte(i)
	return netip.PrefixFrom(netip.AddrFrom4(b), 32)
}

// keepalivedConf is the keepalived.conf of one node: n VRRPv3 instances,
// unicast to the peer, VRIDs 1..n, state BACKUP and preemption (the
// defaults), one /32 VIP each.
func keepalivedConf(c cell, router string, prio int, self, peer netip.Addr) string {
	var s strings.Builder
	fmt.Fprintf(&s, "global_defs {\n  router_id %s\n  vrrp_version 3\n}\n", router)
	for i := 1; i <= c.instances; i++ {
		fmt.Fprintf(&s, `vrrp_instance VI_%d {
  state BACKUP
  interface %s
  virtual_router_id %d
  priority %d
  advert_int %s
  unicast_src_ip %s
  unicast_peer {
    %s
  }
  virtual_ipaddress {
    %s dev %s
  }
}
`, i, iface, i, prio, c.advert, self, peer, vip(i), iface)
	}
	return s.String()
}

// yamlConf is the same configuration in vipd's native format, which is
// what vipd runs in the benchmark.
func yamlConf(c cell, router string, prio int, self, peer netip.Addr) string {
	var s strings.Builder
	fmt.Fprintf(&s, "node: { name: %s }\nvrrp: { version: 3 }\ninstances:\n", router)
	for i := 1; i <= c.instances; i++ {
		fmt.Fprintf(&s, `  - name: VI_%d
    interface: %s
    vrid: %d
    priority: %d
    advert_interval: %s
    state: backup
    preempt: true
    unicast: { source: %s, peers: [%s] }
    vips: [ %s ]
`, i, iface, i, prio, c.interval, self, peer, vip(i))
	}
	return s.String()
}

// TestConfigsAgree proves that the native YAML vipd runs and the
// keepalived.conf keepalived runs describe the same instances, as vipd's
// own loader reads both.
func TestConfigsAgree(t *testing.T) {
	dir := t.TempDir()
	for _, c := range cells {
		for _, side := range []struct {
			router     string
			prio       int
			self, peer netip.Addr
		}{{"m", masterPrio, masterAddr, backupAddr}, {"k", backupPrio, backupAddr, masterAddr}} {
			load := func(name, text string) *config.Config {
				t.Helper()
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				cfg, err := load.File(p, config.LoadOptions{})
				if err != nil {
					t.Fatalf("%s %s: %v", c.name, name, err)
				}
				if len(cfg.Warnings) != 0 {
					t.Fatalf("%s %s: warnings: %v", c.name, name, cfg.Warnings)
				}
				return cfg
			}
			y := load(c.name+side.router+".yaml", yamlConf(c, side.router, side.prio, side.self, side.peer))
			k := load(c.name+side.router+".conf", keepalivedConf(c, side.router, side.prio, side.self, side.peer))
			if len(y.Instances) != c.instances || len(k.Instances) != c.instances {
				t.Fatalf("%s: %d YAML and %d keepalived instances, want %d", c.name, len(y.Instances), len(k.Instances), c.instances)
			}
			for i := range y.Instances {
				a, b := *y.Instances[i], *k.Instances[i]
				clearPos(&a)
				clearPos(&b)
				if f := differ(a, b); f != "" {
					t.Errorf("%s instance %d: %s differs:\nYAML       %+v\nkeepalived %+v", c.name, i+1, f, a, b)
				}
				if a.Version != 3 || a.Priority != uint8(side.prio) || a.AdvertInterval != c.interval || a.VRID != uint8(i+1) {
					t.Errorf("%s instance %d: version %d priority %d interval %v vrid %d", c.name, i+1, a.Version, a.Priority, a.AdvertInterval, a.VRID)
				}
			}
			if y.FastTakeover != k.FastTakeover {
				t.Errorf("%s: fast takeover %v in YAML, %v in keepalived.conf", c.name, y.FastTakeover, k.FastTakeover)
			}
		}
	}
}

// differ names the first exported field in which two instances differ, or
// returns "". Unexported fields (where each setting was written) are not
// part of what the instance does.
func differ(a, b config.Instance) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		f := va.Type().Field(i)
		if f.IsExported() && !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return f.Name
		}
	}
	return ""
}

// clearPos removes where each setting was written, which differs between
// the files by nature.
func clearPos(in *config.Instance) {
	in.Pos = config.Pos{}
	vips := make([]config.VIP, len(in.VIPs))
	for i, v := range in.VIPs {
		v.Pos = config.Pos{}
		vips[i] = v
	}
	in.VIPs = vips
}
