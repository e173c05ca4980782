package config_test

import (
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

func TestOrderPriority(t *testing.T) {
	tests := []struct {
		name  string
		prios []uint8
		pos   int
		want  uint8
	}{
		{"first of the defaults", nil, 0, 250},
		{"last of the defaults", nil, 4, 50},
		{"past the defaults", nil, 6, 48},
		{"given list", []uint8{200, 100}, 1, 100},
		{"past a given list", []uint8{200, 100}, 3, 98},
		{"never below 2, which is above unhealthy nodes' 1", []uint8{3}, 10, 2},
		{"negative position is the first", []uint8{9}, -1, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &priority.OrderConfig{Priorities: tc.prios}
			if got := o.Priority(tc.pos); got != tc.want {
				t.Errorf("Priority(%d) = %d, want %d", tc.pos, got, tc.want)
			}
		})
	}
}

func TestTrackEffective(t *testing.T) {
	c := &config.Check{Config: checks.Config{Name: "c", Weight: -20, WeightReverse: true}}
	tests := []struct {
		name    string
		track   config.Track
		check   *config.Check
		weight  int
		reverse bool
	}{
		{"the check's weight and reverse", config.Track{Track: priority.Track{Check: "c"}}, c, -20, true},
		{"own weight, own reverse", config.Track{Track: priority.Track{Check: "c", Weight: ptr(5)}}, c, 5, false},
		{"own weight 0 means FAULT", config.Track{Track: priority.Track{Check: "c", Weight: ptr(0), WeightReverse: true}}, c, 0, true},
		{"unknown check", config.Track{Track: priority.Track{Check: "x"}}, nil, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, r := tc.track.Effective(tc.check)
			if w != tc.weight || r != tc.reverse {
				t.Errorf("Effective = %d, %v; want %d, %v", w, r, tc.weight, tc.reverse)
			}
		})
	}
}

func TestNotifyAccessors(t *testing.T) {
	n := notify.Config{Master: []string{"/m"}, Stop: []string{"/s", "x"}, RunAs: map[notify.Script]notify.User{notify.ScriptStop: {User: "bob"}}, Timeout: time.Second}
	if got := n.Command(notify.ScriptMaster); len(got) != 1 || got[0] != "/m" {
		t.Errorf("Command(master) = %q", got)
	}
	if n.Command(notify.ScriptAny) != nil || n.Command("bogus") != nil {
		t.Error("unset or unknown events have commands")
	}
	if n.User(notify.ScriptStop).User != "bob" || n.User(notify.ScriptMaster) != (notify.User{}) {
		t.Errorf("users: %+v", n.RunAs)
	}
	if notify.ScriptAny.KeepalivedKeyword() != "notify" || notify.ScriptMasterRxLowerPri.KeepalivedKeyword() != "notify_master_rx_lower_pri" {
		t.Error("keepalived keywords")
	}
	if n.Empty() || (notify.Config{}).Empty() != true {
		t.Error("Empty")
	}
}

// SameSettings decides what a reload restarts: every setting must count.
func TestSameSettingsTracking(t *testing.T) {
	base := func() *config.Instance {
		i := configtest.Instance("a", "eth0", 1)
		i.Track = []config.Track{{Track: priority.Track{Check: "c", Weight: ptr(-5)}, Pos: config.Pos{"x", 1}}}
		i.Order = &priority.OrderConfig{Nodes: []string{"n1", "n2"}, Priorities: priority.DefaultPriorities(), Unhealthy: priority.UnhealthyLowest}
		i.Notify.Master = []string{"/m"}
		return i
	}
	tests := []struct {
		name   string
		change func(*config.Instance)
		same   bool
	}{
		{"positions do not count", func(i *config.Instance) { i.Track[0].Pos = config.Pos{"y", 9}; i.Pos = config.Pos{"y", 2} }, true},
		{"track weight", func(i *config.Instance) { i.Track[0].Weight = ptr(-6) }, false},
		{"track weight unset", func(i *config.Instance) { i.Track[0].Weight = nil }, false},
		{"track reverse", func(i *config.Instance) { i.Track[0].WeightReverse = true }, false},
		{"another check", func(i *config.Instance) { i.Track[0].Check = "d" }, false},
		{"order nodes", func(i *config.Instance) { i.Order.Nodes = []string{"n2", "n1"} }, false},
		{"order reverse", func(i *config.Instance) { i.Order.Reverse = true }, false},
		{"order unhealthy", func(i *config.Instance) { i.Order.Unhealthy = priority.UnhealthyFault }, false},
		{"no order", func(i *config.Instance) { i.Order = nil }, false},
		{"notify script", func(i *config.Instance) { i.Notify.Master = []string{"/m", "x"} }, false},
		{"notify user", func(i *config.Instance) {
			i.Notify.RunAs = map[notify.Script]notify.User{notify.ScriptMaster: {User: "bob"}}
		}, false},
		{"notify timeout", func(i *config.Instance) { i.Notify.Timeout = time.Minute }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.change(b)
			if got := a.SameSettings(b); got != tc.same {
				t.Errorf("SameSettings = %v, want %v", got, tc.same)
			}
		})
	}
}

func TestCheckSameSettings(t *testing.T) {
	base := func() *config.Check {
		return &config.Check{Config: checks.Config{Name: "c", Kind: checks.KindFile, Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1,
			File: &checks.FileConfig{Path: "/p", InitValue: ptr(0)}}}
	}
	tests := []struct {
		name   string
		change func(*config.Check)
		same   bool
	}{
		{"position", func(c *config.Check) { c.Pos = config.Pos{"z", 3} }, true},
		{"interval", func(c *config.Check) { c.Interval = 2 * time.Second }, false},
		{"init value", func(c *config.Check) { c.File.InitValue = ptr(1) }, false},
		{"init value unset", func(c *config.Check) { c.File.InitValue = nil }, false},
		{"other kind", func(c *config.Check) { c.Kind, c.File, c.TCP = checks.KindTCP, nil, &checks.TCPConfig{Address: "h:1"} }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := base()
			tc.change(b)
			if got := base().SameSettings(b); got != tc.same {
				t.Errorf("SameSettings = %v, want %v", got, tc.same)
			}
		})
	}
}
