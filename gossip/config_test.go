package gossip

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/config"
)

func TestMemberlistConfig(t *testing.T) {
	base := config.Gossip{ClusterName: "prod"}
	tests := []struct {
		name   string
		mutate func(*config.Gossip)
		check  func(*testing.T, *memberlist.Config)
	}{
		{"lan by default", func(*config.Gossip) {}, func(t *testing.T, mc *memberlist.Config) {
			want := memberlist.DefaultLANConfig()
			if mc.ProbeInterval != want.ProbeInterval || mc.SuspicionMult != want.SuspicionMult || mc.PushPullInterval != want.PushPullInterval {
				t.Errorf("not the LAN profile: %v %d %v", mc.ProbeInterval, mc.SuspicionMult, mc.PushPullInterval)
			}
			if mc.BindAddr != "0.0.0.0" || mc.BindPort != config.DefaultGossipPort || mc.AdvertisePort != config.DefaultGossipPort || mc.AdvertiseAddr != "" {
				t.Errorf("addresses %s:%d adv %q:%d", mc.BindAddr, mc.BindPort, mc.AdvertiseAddr, mc.AdvertisePort)
			}
			if mc.Label != "prod" || mc.Name != "node-a" {
				t.Errorf("label %q name %q", mc.Label, mc.Name)
			}
		}},
		{"wan", func(g *config.Gossip) { g.Profile = ProfileWAN }, func(t *testing.T, mc *memberlist.Config) {
			if want := memberlist.DefaultWANConfig(); mc.ProbeInterval != want.ProbeInterval || mc.ProbeTimeout != want.ProbeTimeout || mc.SuspicionMult != want.SuspicionMult {
				t.Errorf("not the WAN profile: %v %v %d", mc.ProbeInterval, mc.ProbeTimeout, mc.SuspicionMult)
			}
		}},
		{"local", func(g *config.Gossip) { g.Profile = ProfileLocal }, func(t *testing.T, mc *memberlist.Config) {
			if want := memberlist.DefaultLocalConfig(); mc.ProbeTimeout != want.ProbeTimeout || mc.SuspicionMult != want.SuspicionMult || mc.GossipInterval != want.GossipInterval {
				t.Errorf("not the local profile: %v %d %v", mc.ProbeTimeout, mc.SuspicionMult, mc.GossipInterval)
			}
		}},
		{"overrides", func(g *config.Gossip) {
			g.Timings = config.GossipTimings{ProbeInterval: 2 * time.Second, ProbeTimeout: time.Second, SuspicionMult: 7,
				GossipInterval: 300 * time.Millisecond, PushPullInterval: 90 * time.Second, RetransmitMult: 5}
		}, func(t *testing.T, mc *memberlist.Config) {
			if mc.ProbeInterval != 2*time.Second || mc.ProbeTimeout != time.Second || mc.SuspicionMult != 7 ||
				mc.GossipInterval != 300*time.Millisecond || mc.PushPullInterval != 90*time.Second || mc.RetransmitMult != 5 {
				t.Errorf("overrides not applied: %+v", mc)
			}
			if mc.GossipToTheDeadTime < mc.PushPullInterval {
				t.Errorf("gossip-to-the-dead %v shorter than push/pull %v", mc.GossipToTheDeadTime, mc.PushPullInterval)
			}
		}},
		{"addresses", func(g *config.Gossip) {
			g.BindAddr = netip.MustParseAddr("198.51.100.7")
			g.BindPort = 8301
			g.AdvertiseAddr = netip.MustParseAddr("203.0.113.7")
			g.AdvertisePort = 18301
		}, func(t *testing.T, mc *memberlist.Config) {
			if mc.BindAddr != "198.51.100.7" || mc.BindPort != 8301 || mc.AdvertiseAddr != "203.0.113.7" || mc.AdvertisePort != 18301 {
				t.Errorf("addresses %s:%d adv %s:%d", mc.BindAddr, mc.BindPort, mc.AdvertiseAddr, mc.AdvertisePort)
			}
		}},
		{"advertise port follows bind port", func(g *config.Gossip) { g.BindPort = 8301 }, func(t *testing.T, mc *memberlist.Config) {
			if mc.AdvertisePort != 8301 {
				t.Errorf("advertise port %d", mc.AdvertisePort)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := base
			tt.mutate(&g)
			mc, err := memberlistConfig(&g, "node-a")
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, mc)
		})
	}
}

func TestMemberlistConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		node   string
		mutate func(*config.Gossip)
		field  string
	}{
		{"unknown profile", "a", func(g *config.Gossip) { g.Profile = "fast" }, "profile"},
		{"no cluster name", "a", func(g *config.Gossip) { g.ClusterName = "" }, "cluster_name"},
		{"cluster name too long", "a", func(g *config.Gossip) { g.ClusterName = string(make([]byte, 256)) }, "cluster_name"},
		{"no node name", "", func(*config.Gossip) {}, "node name"},
		{"bind port out of range", "a", func(g *config.Gossip) { g.BindPort = 70000 }, "bind_port"},
		{"zoned bind address", "a", func(g *config.Gossip) { g.BindAddr = netip.MustParseAddr("fe80::1%eth0") }, "bind_addr"},
		{"unspecified advertise address", "a", func(g *config.Gossip) { g.AdvertiseAddr = netip.IPv4Unspecified() }, "advertise_addr"},
		{"negative interval", "a", func(g *config.Gossip) { g.Timings.ProbeInterval = -time.Second }, "timings.probe_interval"},
		{"negative multiplier", "a", func(g *config.Gossip) { g.Timings.SuspicionMult = -1 }, "timings.suspicion_mult"},
		{"probe timeout not shorter than interval", "a", func(g *config.Gossip) { g.Timings.ProbeTimeout = 2 * time.Second }, "timings.probe_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := config.Gossip{ClusterName: "prod"}
			tt.mutate(&g)
			_, err := memberlistConfig(&g, tt.node)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want *ConfigError", err)
			}
			if ce.Field != tt.field {
				t.Errorf("field %q, want %q (%v)", ce.Field, tt.field, err)
			}
		})
	}
}

func TestDetectionTime(t *testing.T) {
	lan := memberlist.DefaultLANConfig()
	local := memberlist.DefaultLocalConfig()
	tests := []struct {
		name string
		mc   *memberlist.Config
		n    int
		want time.Duration
	}{
		// 2×2×1 s + 4×1×1 s + 4×1×200 ms
		{"lan, 3 nodes", lan, 3, 8800 * time.Millisecond},
		// suspicion ×6 once n ≥ suspicion mult (4): 6 s + 24 s + 0.8 s
		{"lan, 4 nodes", lan, 4, 30800 * time.Millisecond},
		// 2×19×1 s + 4×1.301×6 s + ceil(log10 21) = 2: 4×2×200 ms
		{"lan, 20 nodes", lan, 20, 38*time.Second + time.Duration(4*1.301*6*1000)*time.Millisecond + 1600*time.Millisecond},
		// nobody else to probe: still counted as one round of two
		{"lan, alone", lan, 1, 6800 * time.Millisecond},
		{"lan, zero counts as one", lan, 0, 6800 * time.Millisecond},
		// local: 2×2×1 s + 3×1 s ×6 (k = 1, n−2 = 1) + 2×1×100 ms
		{"local, 3 nodes", local, 3, 4*time.Second + 18*time.Second + 200*time.Millisecond},
		// 2 nodes: no confirmations possible, so no stretch
		{"local, 2 nodes", local, 2, 2*time.Second + 3*time.Second + 200*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := detectionTime(tt.mc, tt.n)
			if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("detectionTime = %v, want %v", got, tt.want)
			}
		})
	}
}
