package config_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

func TestDiagnosticString(t *testing.T) {
	tests := []struct {
		name string
		d    config.Diagnostic
		want string
	}{
		{"error with field", config.Diagnostic{config.Pos{"/etc/vipd.yaml", 12}, "instances[0].vrid", config.SeverityError, "300 is out of range 1-255"},
			"/etc/vipd.yaml:12: instances[0].vrid: 300 is out of range 1-255"},
		{"warning", config.Diagnostic{config.Pos{"k.conf", 3}, "vrrp_instance[A].x", config.SeverityWarning, "ignored"},
			"k.conf:3: warning: vrrp_instance[A].x: ignored"},
		{"no field", config.Diagnostic{config.Pos{"k.conf", 1}, "", config.SeverityWarning, "extra '}'"},
			"k.conf:1: warning: extra '}'"},
		{"whole file", config.Diagnostic{config.Pos{"missing.yaml", 0}, "", config.SeverityError, "no such file or directory"},
			"missing.yaml: no such file or directory"},
	}
	for _, tc := range tests {
		if got := tc.d.String(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestDiagnosticsAsError(t *testing.T) {
	ds := config.Diagnostics{
		{config.Pos{"a", 1}, "f", config.SeverityWarning, "w1"},
		{config.Pos{"a", 2}, "g", config.SeverityError, "e1"},
		{config.Pos{"a", 3}, "h", config.SeverityError, "e2"},
	}
	var err error = ds
	if got, want := err.Error(), "a:2: g: e1\na:3: h: e2"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var back config.Diagnostics
	if !errors.As(err, &back) || len(back) != 3 {
		t.Errorf("errors.As lost diagnostics: %v", back)
	}
	if len(ds.Errors()) != 2 || len(ds.Warnings()) != 1 || !ds.HasErrors() || ds.Warnings().HasErrors() {
		t.Errorf("Errors/Warnings split wrong: %v / %v", ds.Errors(), ds.Warnings())
	}
}

func TestValidateCodeBuilt(t *testing.T) {
	good := func() *config.Config {
		i := config.DefaultInstance()
		i.Name, i.Interface, i.VRID = "a", "eth0", 9
		i.VIPs = []config.VIP{{Prefix: mustPrefix("192.0.2.1/32")}}
		return &config.Config{Instances: []*config.Instance{i}}
	}
	if ds := good().Validate(nil); len(ds) != 0 {
		t.Fatalf("DefaultInstance with the required fields is invalid:\n%s", configtest.Render(ds))
	}
	tests := []struct {
		name   string
		change func(*config.Instance)
		want   string
	}{
		{"no name", func(i *config.Instance) { i.Name = "" }, "instances[0].name: is required"},
		{"no vrid", func(i *config.Instance) { i.VRID = 0 }, "instances[0].vrid: is required"},
		{"version 4", func(i *config.Instance) { i.Version = 4 }, "instances[0].version: 4 is not 2 or 3"},
		{"bad family", func(i *config.Instance) { i.Family = 5 }, "instances[0].family: Family(5) is not IPv4 or IPv6"},
		{"bad state", func(i *config.Instance) { i.InitialState = fsm.Fault }, `instances[0].state: "FAULT" is not MASTER or BACKUP`},
		{"zero advert", func(i *config.Instance) { i.AdvertInterval = 0 }, "instances[0].advert_interval: 0s is not whole seconds"},
		{"negative garp delay", func(i *config.Instance) { i.GARP.MasterDelay = -time.Second }, "instances[0].garp.master_delay: -1s is negative"},
		{"zero garp repeat", func(i *config.Instance) { i.GARP.MasterRefreshRepeat = 0 }, "instances[0].garp.master_refresh_repeat: must be at least 1"},
		{"invalid peer", func(i *config.Instance) { i.UnicastPeers = []netip.Addr{{}} }, "instances[0].unicast.peers[0]: invalid address"},
		{"peer is the source", func(i *config.Instance) {
			i.UnicastSource = mustAddr("192.0.2.5")
			i.UnicastPeers = []netip.Addr{mustAddr("192.0.2.5")}
		}, "instances[0].unicast.peers[0]: 192.0.2.5 is this node's own source address"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.change(c.Instances[0])
			configtest.RequireDiag(t, c.Validate(nil), config.SeverityError, tc.want)
		})
	}
}

func TestSameSettings(t *testing.T) {
	a := configtest.Instance("a", "eth0", 1)
	a.VIPs = []config.VIP{{Prefix: mustPrefix("192.0.2.1/32"), Pos: config.Pos{"x", 1}}}
	a.Pos = config.Pos{"x", 1}
	b := configtest.Instance("a", "eth0", 1)
	b.VIPs = []config.VIP{{Prefix: mustPrefix("192.0.2.1/32"), Pos: config.Pos{"y", 9}}}
	b.Pos = config.Pos{"y", 8}
	if !a.SameSettings(b) {
		t.Error("positions should not matter")
	}
	changes := map[string]func(*config.Instance){
		"priority": func(i *config.Instance) { i.Priority = 101 },
		"peers":    func(i *config.Instance) { i.UnicastPeers = []netip.Addr{mustAddr("192.0.2.2")} },
		"vip":      func(i *config.Instance) { i.VIPs[0].Label = "eth0:x" },
		"garp":     func(i *config.Instance) { i.GARP.MasterRepeat = 1 },
	}
	for name, change := range changes {
		c := configtest.Instance("a", "eth0", 1)
		c.VIPs = []config.VIP{{Prefix: mustPrefix("192.0.2.1/32")}}
		change(c)
		if a.SameSettings(c) {
			t.Errorf("a change of %s went unnoticed", name)
		}
	}
	if (*config.Instance)(nil).SameSettings(a) || !(*config.Instance)(nil).SameSettings(nil) {
		t.Error("nil handling")
	}
}

func TestMaxAdvertisedVIPs(t *testing.T) {
	// (1500 - 14 - 40 - 8) / 16 = 89 for IPv6; IPv4 hits the 8-bit count.
	if got := config.MaxAdvertisedVIPs(inet.IPv6, 3); got != 89 {
		t.Errorf("IPv6: %d", got)
	}
	if got := config.MaxAdvertisedVIPs(inet.IPv4, 2); got != 255 {
		t.Errorf("IPv4: %d", got)
	}
}

func TestStringers(t *testing.T) {
	for got, want := range map[string]string{
		config.FormatYAML.String(): "yaml", config.FormatKeepalived.String(): "keepalived", config.Format(9).String(): "Format(9)",
		inet.IPv4.String(): "IPv4", inet.IPv6.String(): "IPv6", config.SeverityWarning.String(): "warning", config.SeverityError.String(): "error",
	} {
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	i := configtest.Instance("VI_1", "eth0", 51)
	if s := i.String(); !strings.Contains(s, "VI_1 (eth0 vrid 51 IPv4 v2)") {
		t.Errorf("Instance.String() = %q", s)
	}
}

func TestValidateCodeBuiltTracking(t *testing.T) {
	good := func() *config.Config {
		i := config.DefaultInstance()
		i.Name, i.Interface, i.VRID = "a", "eth0", 9
		i.VIPs = []config.VIP{{Prefix: mustPrefix("192.0.2.1/32")}}
		i.Track = []config.Track{{Track: priority.Track{Check: "c"}}}
		c := &config.Check{Config: checks.Config{Name: "c", Kind: checks.KindTCP, Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1, TCP: &checks.TCPConfig{Address: "h:1"}}}
		return &config.Config{Instances: []*config.Instance{i}, Checks: []*config.Check{c}, SyncGroups: []*config.SyncGroup{{Name: "g", Instances: []string{"a"}}}}
	}
	if ds := good().Validate(nil); len(ds) != 0 {
		t.Fatalf("valid code-built tracking is refused:\n%s", configtest.Render(ds))
	}
	tests := []struct {
		name   string
		change func(*config.Config)
		want   string
	}{
		{"unknown kind", func(c *config.Config) { c.Checks[0].Kind = "ping" }, `checks[0].kind: "ping" is not a check kind`},
		{"kind without its settings", func(c *config.Config) { c.Checks[0].Kind = checks.KindDNS }, "checks[0].dns: a dns check needs its dns settings and no other kind's"},
		{"two kinds' settings", func(c *config.Config) { c.Checks[0].File = &checks.FileConfig{Path: "/p"} }, "checks[0].tcp: a tcp check needs its tcp settings and no other kind's"},
		{"zero fall", func(c *config.Config) { c.Checks[0].Fall = 0 }, "checks[0].fall: 0 must be at least 1"},
		{"zero rise", func(c *config.Config) { c.Checks[0].Rise = 0 }, "checks[0].rise: 0 must be at least 1"},
		{"track of nothing", func(c *config.Config) { c.Instances[0].Track[0].Check = "" }, "instances[0].track[0]: names no check"},
		{"order priorities", func(c *config.Config) {
			c.Instances[0].Order = &priority.OrderConfig{Nodes: []string{"n"}, Priorities: []uint8{100, 100}, Unhealthy: priority.UnhealthyFault}
		}, "instances[0].order.priorities: must decrease from first to last, but 100 follows 100"},
		{"order without priorities", func(c *config.Config) {
			c.Instances[0].Order = &priority.OrderConfig{Nodes: []string{"n"}, Unhealthy: priority.UnhealthyLowest}
		}, "instances[0].order.priorities: must list at least one priority"},
		{"order without unhealthy", func(c *config.Config) {
			c.Instances[0].Order = &priority.OrderConfig{File: "/o", Priorities: priority.DefaultPriorities()}
		}, `instances[0].order.unhealthy: "" is not lowest or fault`},
		{"notify empty argv", func(c *config.Config) { c.Instances[0].Notify.Fault = []string{""} }, "instances[0].notify.fault: is empty"},
		{"notify negative timeout", func(c *config.Config) { c.Instances[0].Notify.Timeout = -time.Second }, "instances[0].notify.timeout: -1s must be greater than 0"},
		{"user of an unset script", func(c *config.Config) {
			c.Instances[0].Notify.RunAs = map[notify.Script]notify.User{notify.ScriptStop: {User: "bob"}}
		}, "instances[0].notify.stop.user: a user for a script that is not set"},
		{"group without name", func(c *config.Config) { c.SyncGroups[0].Name = "" }, "sync_groups[0].name: is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.change(c)
			configtest.RequireDiag(t, c.Validate(nil), config.SeverityError, tc.want)
		})
	}
}
