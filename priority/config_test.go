package priority

import (
	"testing"

	"github.com/vipd/vipd/internal/fielderr/fielderrtest"
)

// TestOrderConfigValidate checks that Validate names each bad setting by
// its key below the order, with the message a front end prints.
func TestOrderConfigValidate(t *testing.T) {
	ok := OrderConfig{Nodes: []string{"a", "b"}, Priorities: DefaultPriorities(), Unhealthy: UnhealthyLowest}
	tests := []struct {
		name string
		mod  func(*OrderConfig)
		want []string
	}{
		{"valid", func(*OrderConfig) {}, nil},
		{"a file", func(o *OrderConfig) { o.Nodes, o.File = nil, "/o" }, nil},
		{"both", func(o *OrderConfig) { o.File = "/o" }, []string{"file: an order takes nodes or file, not both"}},
		{"neither", func(o *OrderConfig) { o.Nodes = nil }, []string{": needs nodes or file"}},
		{"no nodes", func(o *OrderConfig) { o.Nodes = []string{} }, []string{"nodes: must list at least one node"}},
		{"bad nodes", func(o *OrderConfig) { o.Nodes = []string{"a b", "#c", "a b"} }, []string{
			`nodes[0]: "a b" is not a node name`, `nodes[1]: "#c": '#' disables a node in an order file only`, `nodes[2]: "a b" is not a node name`}},
		{"twice", func(o *OrderConfig) { o.Nodes = []string{"a", "a"} }, []string{`nodes[1]: node "a" is listed twice`}},
		{"no priorities", func(o *OrderConfig) { o.Priorities = nil }, []string{"priorities: must list at least one priority"}},
		{"priorities", func(o *OrderConfig) { o.Priorities = []uint8{255, 100, 100, 1} }, []string{
			"priorities: 255 is out of range 2-254", "priorities: must decrease from first to last, but 100 follows 100", "priorities: 1 is out of range 2-254"}},
		{"unhealthy", func(o *OrderConfig) { o.Unhealthy = "" }, []string{`unhealthy: "" is not lowest or fault`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			o.Nodes = append([]string(nil), ok.Nodes...)
			tc.mod(&o)
			fielderrtest.Require(t, o.Validate(), tc.want...)
		})
	}
}

// TestOrderConfigPriority checks positions past the listed priorities and
// the default list.
func TestOrderConfigPriority(t *testing.T) {
	o := OrderConfig{Priorities: []uint8{200, 100}}
	for i, want := range []uint8{200, 100, 99, 98} {
		if got := o.Priority(i); got != want {
			t.Errorf("Priority(%d) = %d, want %d", i, got, want)
		}
	}
	if got := (&OrderConfig{}).Priority(0); got != 250 {
		t.Errorf("default first priority %d, want 250", got)
	}
	if !o.SameSettings(&OrderConfig{Priorities: []uint8{200, 100}}) || o.SameSettings(&OrderConfig{Priorities: []uint8{200}}) {
		t.Error("SameSettings")
	}
}

// TestTrackEffective checks which weight a track applies.
func TestTrackEffective(t *testing.T) {
	c := fixtureChecks()["minus20r"]
	if w, rev := (Track{Check: "minus20r"}).Effective(c); w != -20 || !rev {
		t.Errorf("the check's: %d %v", w, rev)
	}
	if w, rev := (Track{Check: "minus20r", Weight: weight(5)}).Effective(c); w != 5 || rev {
		t.Errorf("own: %d %v", w, rev)
	}
	if w, rev := (Track{Check: "x"}).Effective(nil); w != 0 || rev {
		t.Errorf("unknown check: %d %v", w, rev)
	}
}
