package gossip

import (
	"errors"
	"reflect"
	"testing"

	"github.com/vipd/vipd/priority"
)

func TestMergeOrdersLWW(t *testing.T) {
	e := func(version uint64, origin string, nodes ...string) priority.Order {
		o := priority.Order{Instance: "vi", Version: version, Origin: origin}
		for _, n := range nodes {
			o.Nodes = append(o.Nodes, priority.OrderNode{Name: n})
		}
		return o
	}
	tests := []struct {
		name      string
		have      []priority.Order // stored first, in this order
		incoming  priority.Order
		want      priority.Order
		wantWon   bool
		wantClock uint64
	}{
		{"new instance", nil, e(3, "a", "a", "b"), e(3, "a", "a", "b"), true, 3},
		{"higher version wins", []priority.Order{e(2, "z", "z")}, e(3, "a", "a"), e(3, "a", "a"), true, 3},
		{"lower version loses", []priority.Order{e(5, "a", "a")}, e(4, "z", "z"), e(5, "a", "a"), false, 5},
		{"tie: higher origin wins", []priority.Order{e(4, "cnh", "cnh")}, e(4, "sby", "sby"), e(4, "sby", "sby"), true, 4},
		{"tie: lower origin loses", []priority.Order{e(4, "sby", "sby")}, e(4, "cnh", "cnh"), e(4, "sby", "sby"), false, 4},
		{"same entry again", []priority.Order{e(4, "a", "a")}, e(4, "a", "a"), e(4, "a", "a"), false, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders := map[string]priority.Order{}
			var clock uint64
			mergeOrders(orders, &clock, tt.have...)
			won := mergeOrders(orders, &clock, tt.incoming)
			if (len(won) == 1) != tt.wantWon {
				t.Errorf("won = %v, want %v", won, tt.wantWon)
			}
			if !reflect.DeepEqual(orders["vi"], tt.want) {
				t.Errorf("stored %+v, want %+v", orders["vi"], tt.want)
			}
			if clock != tt.wantClock {
				t.Errorf("clock = %d, want %d", clock, tt.wantClock)
			}
		})
	}
}

// Every node must end with the same winner whatever order the entries
// arrive in.
func TestMergeOrdersConverges(t *testing.T) {
	entries := []priority.Order{
		{Instance: "vi", Version: 2, Origin: "b", Nodes: []priority.OrderNode{{Name: "b"}}},
		{Instance: "vi", Version: 3, Origin: "a", Nodes: []priority.OrderNode{{Name: "a"}}},
		{Instance: "vi", Version: 3, Origin: "c", Nodes: []priority.OrderNode{{Name: "c"}}},
		{Instance: "vi", Version: 1, Origin: "z", Nodes: []priority.OrderNode{{Name: "z"}}},
	}
	want := entries[2]
	for _, perm := range permutations(len(entries)) {
		orders := map[string]priority.Order{}
		var clock uint64
		for _, i := range perm {
			mergeOrders(orders, &clock, entries[i])
		}
		if !reflect.DeepEqual(orders["vi"], want) || clock != 3 {
			t.Errorf("arrival order %v: got %+v clock %d, want %+v clock 3", perm, orders["vi"], clock, want)
		}
	}
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int(nil), p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestSetOrder(t *testing.T) {
	c, err := New(testConfig(t, "orders"), "b", Options{Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	// A peer's order at version 7 moves this node's clock.
	c.handleOrders(false, priority.Order{Instance: "other", Version: 7, Origin: "a", Nodes: []priority.OrderNode{{Name: "a"}}})

	tests := []struct {
		name        string
		instance    string
		nodes       []priority.OrderNode
		wantVersion uint64
		wantErr     error
	}{
		{"first write after seeing version 7", "vi", []priority.OrderNode{{Name: "a"}, {Name: "b", Disabled: true}}, 8, nil},
		{"second write", "vi", []priority.OrderNode{{Name: "b"}}, 9, nil},
		{"empty order is allowed", "vi2", nil, 10, nil},
		{"no instance", "", []priority.OrderNode{{Name: "a"}}, 0, ErrInvalid},
		{"duplicate node", "vi", []priority.OrderNode{{Name: "a"}, {Name: "a"}}, 0, ErrInvalid},
		{"unnamed node", "vi", []priority.OrderNode{{}}, 0, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := c.SetOrder(tt.instance, tt.nodes)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("SetOrder error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if e.Version != tt.wantVersion || e.Origin != "b" {
				t.Errorf("entry version %d origin %q, want %d %q", e.Version, e.Origin, tt.wantVersion, "b")
			}
			if got := c.Orders()[tt.instance]; !reflect.DeepEqual(got, e) {
				t.Errorf("Orders()[%q] = %+v, want %+v", tt.instance, got, e)
			}
		})
	}
	// Orders returns a copy.
	o := c.Orders()
	o["vi"].Nodes[0].Name = "mutated"
	if c.Orders()["vi"].Nodes[0].Name == "mutated" {
		t.Error("Orders shares its slices with the cluster")
	}
}
