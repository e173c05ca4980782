package gossip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/memberlist"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/priority"
)

// unstarted returns a Cluster named "self" that is never started: its
// delegates are driven directly.
func unstarted(t *testing.T) (*Cluster, *eventLog) {
	t.Helper()
	ev := &eventLog{}
	c, err := New(testConfig(t, "unit"), "self", Options{Log: discardLog(), OnChange: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	return c, ev
}

func join(c *Cluster, name string) {
	meta, _ := encodeMeta(NodeMeta{Name: name})
	(&events{c}).NotifyJoin(&memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, Meta: meta, State: memberlist.StateAlive})
}

func leave(c *Cluster, name string, state memberlist.NodeStateType) {
	(&events{c}).NotifyLeave(&memberlist.Node{Name: name, Addr: net.IPv4(127, 0, 0, 1), Port: 7946, State: state})
}

func TestSetLocal(t *testing.T) {
	c, _ := unstarted(t)
	base := NodeState{Instances: []InstanceState{
		{Name: "vi2", VRID: 2, Family: 4, State: fsm.Backup},
		{Name: "vi1", VRID: 1, Family: 4, State: fsm.Master},
	}}
	reordered := NodeState{Node: "ignored", Incarnation: 99, Instances: []InstanceState{base.Instances[1], base.Instances[0]}}
	changed := NodeState{Instances: []InstanceState{{Name: "vi1", VRID: 1, Family: 4, State: fsm.Fault}}}

	steps := []struct {
		name    string
		s       NodeState
		wantInc uint64
		wantErr error
	}{
		{"first state", base, 1, nil},
		{"same state again", base, 1, nil},
		{"same state in another order, other node and incarnation", reordered, 1, nil},
		{"a change", changed, 2, nil},
		{"invalid state leaves the old one", NodeState{Instances: []InstanceState{{Name: "vi", Family: 9}}}, 2, ErrInvalid},
		{"back to the first", base, 3, nil},
	}
	for _, st := range steps {
		err := c.SetLocal(st.s)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("%s: SetLocal error = %v, want %v", st.name, err, st.wantErr)
		}
		got := c.States()["self"]
		if got.Incarnation != st.wantInc || got.Node != "self" {
			t.Errorf("%s: node %q incarnation %d, want self %d", st.name, got.Node, got.Incarnation, st.wantInc)
		}
	}
	if got := c.States()["self"].Instances; got[0].Name != "vi1" || got[1].Name != "vi2" {
		t.Errorf("instances not sorted: %+v", got)
	}
	if n := c.queue.NumQueued(); n != 1 {
		t.Errorf("%d broadcasts queued, want 1 (newer deltas replace older)", n)
	}
}

func TestSetLocalBoundsOutput(t *testing.T) {
	tests := []struct {
		name   string
		output string
		want   string
	}{
		{"short", "ok", "ok"},
		{"exactly the limit", strings.Repeat("a", MaxCheckOutput), strings.Repeat("a", MaxCheckOutput)},
		{"the end is kept", "start" + strings.Repeat("a", MaxCheckOutput-3) + "end", strings.Repeat("a", MaxCheckOutput-3) + "end"},
		// A 3-byte rune then 511 ASCII bytes: the rune does not fit whole.
		{"cut after a split rune", "€" + strings.Repeat("a", MaxCheckOutput-1), strings.Repeat("a", MaxCheckOutput-1)},
		{"invalid UTF-8 replaced", "bad\xffbyte", "bad\uFFFDbyte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := unstarted(t)
			if err := c.SetLocal(NodeState{Checks: []CheckState{{Name: "c", Output: tt.output}}}); err != nil {
				t.Fatal(err)
			}
			got := c.States()["self"].Checks[0].Output
			if got != tt.want || !utf8.ValidString(got) {
				t.Errorf("output %q (%d bytes), want %q", got, len(got), tt.want)
			}
		})
	}
}

func TestHandleState(t *testing.T) {
	st := func(node string, inc uint64, state fsm.State) NodeState {
		return NodeState{Node: node, Incarnation: inc, Instances: []InstanceState{{Name: "vi", VRID: 1, Family: 4, State: state}}}
	}
	tests := []struct {
		name       string
		setup      func(c *Cluster)
		in         NodeState
		wantNew    bool
		wantState  string // state of b's instance in States(); "" = b absent
		wantEvents int    // StateUpdate events for b
	}{
		{"member's first state", func(c *Cluster) { join(c, "b") }, st("b", 1, fsm.Master), true, "MASTER", 1},
		{"newer incarnation", func(c *Cluster) { join(c, "b"); c.handleState(st("b", 1, fsm.Backup), false) }, st("b", 2, fsm.Master), true, "MASTER", 2},
		{"same incarnation ignored", func(c *Cluster) { join(c, "b"); c.handleState(st("b", 2, fsm.Backup), false) }, st("b", 2, fsm.Master), false, "BACKUP", 1},
		{"older incarnation ignored", func(c *Cluster) { join(c, "b"); c.handleState(st("b", 5, fsm.Backup), false) }, st("b", 4, fsm.Master), false, "BACKUP", 1},
		{"unknown node kept until it joins", func(*Cluster) {}, st("b", 1, fsm.Master), true, "", 0},
		{"dead member's state refused", func(c *Cluster) { join(c, "b"); leave(c, "b", memberlist.StateDead) }, st("b", 9, fsm.Master), false, "", 0},
		{"departed member's state refused", func(c *Cluster) { join(c, "b"); leave(c, "b", memberlist.StateLeft) }, st("b", 9, fsm.Master), false, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ev := unstarted(t)
			tt.setup(c)
			if got := c.handleState(tt.in, false); got != tt.wantNew {
				t.Errorf("handleState = %v, want %v", got, tt.wantNew)
			}
			s, ok := c.States()["b"]
			switch {
			case tt.wantState == "" && ok:
				t.Errorf("States has b: %+v", s)
			case tt.wantState != "" && (!ok || s.Instances[0].State.String() != tt.wantState):
				t.Errorf("States[b] = %+v, want state %s", s, tt.wantState)
			}
			if n := ev.count(StateUpdate, "b"); n != tt.wantEvents {
				t.Errorf("%d StateUpdate events, want %d", n, tt.wantEvents)
			}
		})
	}
}

func TestStateShownAfterJoinAndDroppedAfterDeath(t *testing.T) {
	c, _ := unstarted(t)
	c.handleState(NodeState{Node: "b", Incarnation: 3}, false)
	if _, ok := c.States()["b"]; ok {
		t.Fatal("state of a node that has not joined is shown")
	}
	join(c, "b")
	if s, ok := c.States()["b"]; !ok || s.Incarnation != 3 {
		t.Fatalf("after join States[b] = %+v, %v", s, ok)
	}
	leave(c, "b", memberlist.StateDead)
	if _, ok := c.States()["b"]; ok {
		t.Fatal("state of a dead member is shown")
	}
	// Back from the dead with a fresh incarnation count: accepted.
	join(c, "b")
	if !c.handleState(NodeState{Node: "b", Incarnation: 1}, false) {
		t.Fatal("state of a rejoined member refused")
	}
	if m := c.Members(); len(m) != 1 || m[0].Name != "b" || m[0].Status != StatusAlive || m[0].Meta.Name != "b" {
		t.Errorf("Members = %+v", m)
	}
}

func TestRefuteState(t *testing.T) {
	tests := []struct {
		name    string
		echo    func(local NodeState) NodeState
		wantInc uint64
	}{
		{"echo of the current state", func(l NodeState) NodeState { return l }, 2},
		{"older copy", func(l NodeState) NodeState { l.Incarnation = 1; return l }, 2},
		// After a restart a peer holds incarnation 7 from the last life.
		{"higher incarnation from a past life", func(l NodeState) NodeState { l.Incarnation = 7; return l }, 8},
		{"same incarnation, other content", func(l NodeState) NodeState { l.Instances = nil; return l }, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := unstarted(t)
			for _, state := range []fsm.State{fsm.Backup, fsm.Master} { // incarnation 2
				if err := c.SetLocal(NodeState{Instances: []InstanceState{{Name: "vi", VRID: 1, Family: 4, State: state}}}); err != nil {
					t.Fatal(err)
				}
			}
			local := c.States()["self"]
			c.handleState(tt.echo(local), true)
			got := c.States()["self"]
			if got.Incarnation != tt.wantInc {
				t.Errorf("incarnation %d, want %d", got.Incarnation, tt.wantInc)
			}
			if !reflect.DeepEqual(got.Instances, local.Instances) {
				t.Errorf("content changed: %+v", got.Instances)
			}
		})
	}
}

func TestPeers(t *testing.T) {
	c, _ := unstarted(t)
	in := func(cluster string, vrid uint8, fam inet.Family, src string) InstanceState {
		s := InstanceState{Name: "vi", Cluster: cluster, VRID: vrid, Family: fam}
		if src != "" {
			s.Src = netip.MustParseAddr(src)
		}
		return s
	}
	if err := c.SetLocal(NodeState{Instances: []InstanceState{in("dns", 10, 4, "198.51.100.1")}}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
		join(c, n)
	}
	states := []NodeState{
		{Node: "b", Incarnation: 1, Instances: []InstanceState{in("dns", 10, 4, "198.51.100.2"), in("dns", 10, 6, "2001:db8::2")}},
		{Node: "c", Incarnation: 1, Instances: []InstanceState{in("dns", 10, 4, "198.51.100.3")}},
		{Node: "d", Incarnation: 1, Instances: []InstanceState{in("dns", 11, 4, "198.51.100.4")}}, // other VRID
		{Node: "e", Incarnation: 1, Instances: []InstanceState{in("web", 10, 4, "198.51.100.5")}}, // other cluster
		{Node: "f", Incarnation: 1, Instances: []InstanceState{in("dns", 10, 4, "")}},             // no source yet
		{Node: "g", Incarnation: 1, Instances: []InstanceState{in("dns", 10, 4, "198.51.100.7")}}, // dies below
		{Node: "h", Incarnation: 1, Instances: []InstanceState{in("dns", 10, 4, "198.51.100.8")}}, // never joined
	}
	for _, s := range states {
		c.handleState(s, false)
	}
	leave(c, "g", memberlist.StateDead)

	tests := []struct {
		name    string
		cluster string
		vrid    uint8
		family  inet.Family
		want    []string
	}{
		// g died just now: it stays a peer for the reconnect timeout.
		{"v4 peers, sorted, without self or unknown nodes", "dns", 10, 4, []string{"198.51.100.2", "198.51.100.3", "198.51.100.7"}},
		{"v6", "dns", 10, 6, []string{"2001:db8::2"}},
		{"other vrid", "dns", 11, 4, []string{"198.51.100.4"}},
		{"other cluster", "web", 10, 4, []string{"198.51.100.5"}},
		{"nobody", "dns", 99, 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, a := range c.Peers(tt.cluster, tt.vrid, tt.family) {
				got = append(got, a.String())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Peers = %v, want %v", got, tt.want)
			}
		})
	}
	// Past the retention, the dead member is no peer any more.
	c.mu.Lock()
	d := c.departed["g"]
	d.at = d.at.Add(-c.reconnectTimeout - time.Second)
	c.departed["g"] = d
	c.mu.Unlock()
	var got []string
	for _, a := range c.Peers("dns", 10, 4) {
		got = append(got, a.String())
	}
	if want := []string{"198.51.100.2", "198.51.100.3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Peers after the retention = %v, want %v", got, want)
	}
}

// A node that starts while a member is cut off (dead in everyone's view)
// never saw that member's state: it learns it, as a unicast peer, from the
// departed list of a push/pull, and the peer lasts as long as it does on
// the sender. Without this the two do not hear each other when the cut
// heals, and both hold the VIP until gossip takes the member back.
func TestDepartedCarriedByPushPull(t *testing.T) {
	vi := func(src string) []InstanceState {
		return []InstanceState{{Name: "vi", Cluster: "dns", VRID: 10, Family: 4, Src: netip.MustParseAddr(src)}}
	}
	// old knew x, which then died.
	old, _ := unstarted(t)
	join(old, "x")
	old.handleState(NodeState{Node: "x", Incarnation: 3, Instances: vi("198.51.100.9")}, false)
	leave(old, "x", memberlist.StateDead)
	old.mu.Lock()
	d := old.departed["x"]
	d.at = d.at.Add(-time.Minute)
	old.departed["x"] = d
	old.mu.Unlock()
	// y left on purpose: it is no peer, so it is not carried.
	join(old, "y")
	old.handleLeaving("y")
	old.handleState(NodeState{Node: "y", Incarnation: 1, Instances: vi("198.51.100.10")}, false)
	leave(old, "y", memberlist.StateLeft)

	view := (&delegate{old}).LocalState(false)
	m, err := decodeMessage(view)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.PushPull.Departed; len(got) != 1 || got[0].State.Node != "x" || got[0].Age < time.Minute || got[0].Age > time.Minute+10*time.Second {
		t.Fatalf("departed in the push/pull = %+v, want x aged about a minute", got)
	}

	// fresh started after x died: x is nothing to it until the push/pull.
	fresh, _ := unstarted(t)
	join(fresh, "old")
	if p := fresh.Peers("dns", 10, 4); len(p) != 0 {
		t.Fatalf("peers before the push/pull = %v", p)
	}
	(&delegate{fresh}).MergeRemoteState(view, false)
	if got := fmt.Sprint(fresh.Peers("dns", 10, 4)); got != "[198.51.100.9]" {
		t.Errorf("peers after the push/pull = %s, want [198.51.100.9]", got)
	}
	if _, ok := fresh.States()["x"]; ok {
		t.Error("a departed member shows among the live states")
	}
	// The age carried over: x stops being a peer when it would on old.
	fresh.mu.Lock()
	at := fresh.departed["x"].at
	fresh.mu.Unlock()
	if left := fresh.reconnectTimeout - time.Since(at); left > fresh.reconnectTimeout-time.Minute || left < fresh.reconnectTimeout-time.Minute-10*time.Second {
		t.Errorf("x is a peer for %v more, want about %v", left, fresh.reconnectTimeout-time.Minute)
	}
	// When x comes back, its own state replaces the carried one.
	join(fresh, "x")
	fresh.handleState(NodeState{Node: "x", Incarnation: 4, Instances: vi("198.51.100.19")}, false)
	if got := fmt.Sprint(fresh.Peers("dns", 10, 4)); got != "[198.51.100.19]" {
		t.Errorf("peers after x is back = %s, want [198.51.100.19]", got)
	}
	// A live member is never overwritten by another node's departed view,
	// nor is this node itself.
	(&delegate{fresh}).MergeRemoteState(encodePushPull(pushPull{Departed: []departedState{
		{State: NodeState{Node: "x", Instances: vi("198.51.100.29")}},
		{State: NodeState{Node: "self", Instances: vi("198.51.100.39")}},
	}}), false)
	if got := fmt.Sprint(fresh.Peers("dns", 10, 4)); got != "[198.51.100.19]" {
		t.Errorf("peers after a stale departed view = %s, want [198.51.100.19]", got)
	}
}

func TestReceiveGarbageCounted(t *testing.T) {
	c, _ := unstarted(t)
	d := &delegate{c}
	for _, b := range [][]byte{nil, {1}, {byte(msgState), 9}, {200, 1, 2, 3}} {
		d.NotifyMsg(b)
		d.MergeRemoteState(b, false)
	}
	if got := c.Stats().DecodeErrors; got != 8 {
		t.Errorf("DecodeErrors = %d, want 8", got)
	}
	// And a good push/pull still works afterwards.
	join(c, "b")
	d.MergeRemoteState(encodePushPull(pushPull{Clock: 5, States: []NodeState{{Node: "b", Incarnation: 2}},
		Orders: []priority.Order{{Instance: "vi", Version: 5, Origin: "b"}}}), true)
	if c.States()["b"].Incarnation != 2 || c.Orders()["vi"].Version != 5 {
		t.Errorf("push/pull not merged: %+v %+v", c.States(), c.Orders())
	}
	if e, err := c.SetOrder("vi", nil); err != nil || e.Version != 6 {
		t.Errorf("SetOrder after a push/pull at clock 5: %+v %v", e, err)
	}
}

// The maintenance flag is part of the state: setting it alone is a change
// that reaches the peers.
func TestMaintenanceSpreads(t *testing.T) {
	cfg := testConfig(t, "maint")
	a := startNode(t, "a", cfg)
	b := startNode(t, "b", joining(t, *cfg, a))
	if err := a.c.SetLocal(NodeState{}); err != nil {
		t.Fatal(err)
	}
	if err := a.c.SetLocal(NodeState{Maintenance: true}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "b to see a in maintenance", func() bool { return b.c.States()["a"].Maintenance })
}

// A member seen again after being declared dead had its state dropped: the
// hello exchange (our state to it, its state back) restores both sides'
// views at once, without waiting for a push/pull.
func TestHelloRestoresDroppedStates(t *testing.T) {
	cfg := testConfig(t, "hello")
	cfg.Timings.PushPullInterval = time.Hour
	a := startNode(t, "a", cfg)
	b := startNode(t, "b", joining(t, *cfg, a))
	for _, n := range []*node{a, b} {
		if err := n.c.SetLocal(NodeState{Instances: []InstanceState{{Name: "vi", VRID: 1, Family: 4, State: fsm.Backup}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "both to have both states", func() bool {
		return len(a.c.States()) == 2 && len(b.c.States()) == 2
	})
	// No retransmit left that could bring the states back by itself.
	waitFor(t, 5*time.Second, "the broadcast queues to drain", func() bool {
		return a.c.queue.NumQueued() == 0 && b.c.queue.NumQueued() == 0
	})
	// As after a death and a return: each dropped the other's state.
	for _, p := range [][2]*node{{a, b}, {b, a}} {
		p[0].c.mu.Lock()
		delete(p[0].c.states, p[1].name)
		p[0].c.mu.Unlock()
	}
	// a sees b join again.
	a.c.sendMu.Lock()
	a.c.welcome["b"] = true
	a.c.sendMu.Unlock()
	a.c.wakeSend()
	waitFor(t, 2*time.Second, "b to have a's state again (hello) and a b's (reply)", func() bool {
		_, inB := b.c.States()["a"]
		_, inA := a.c.States()["b"]
		return inA && inB
	})
}
