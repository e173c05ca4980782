package agent

import (
	"strings"
	"testing"

	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/priority"
)

func TestWatchFilter(t *testing.T) {
	inst := func(node, name string) Event { return Event{Node: node, Instance: &InstanceEvent{Name: name}} }
	check := Event{Node: "other", Check: &CheckEvent{Name: "dns"}}
	member := Event{Node: "other", Member: &MemberEvent{}}
	order := Event{Node: "other", Order: &priority.Order{Instance: "web"}}
	tests := []struct {
		name  string
		ev    Event
		f     WatchFilter
		types []EventType
		want  bool
	}{
		{"own transition, no filter", inst("me", "web"), WatchFilter{}, nil, true},
		{"other node's transition without cluster", inst("other", "web"), WatchFilter{}, nil, false},
		{"other node's transition with cluster", inst("other", "web"), WatchFilter{Cluster: true}, nil, true},
		{"other node's check without cluster", check, WatchFilter{}, nil, false},
		{"member events are cluster-wide", member, WatchFilter{}, nil, true},
		{"instance filter keeps the instance", inst("me", "web"), WatchFilter{Instance: "web"}, nil, true},
		{"instance filter drops another instance", inst("me", "db"), WatchFilter{Instance: "web"}, nil, false},
		{"instance filter keeps member events", member, WatchFilter{Instance: "web"}, nil, true},
		{"instance filter keeps that instance's order", order, WatchFilter{Instance: "web"}, nil, true},
		{"instance filter drops another order", order, WatchFilter{Instance: "db"}, nil, false},
		{"type filter", inst("me", "web"), WatchFilter{}, []EventType{EventMember}, false},
		{"type filter match", member, WatchFilter{}, []EventType{EventMember}, true},
		{"no type matches the zero type", member, WatchFilter{}, []EventType{0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := map[EventType]bool{}
			for _, ty := range tt.types {
				want[ty] = true
			}
			if got := keep(tt.ev, tt.f, want, "me"); got != tt.want {
				t.Errorf("keep = %v, want %v", got, tt.want)
			}
		})
	}
}

// Each event says its type by the one field it sets.
func TestEventType(t *testing.T) {
	for _, c := range []struct {
		ev   Event
		want EventType
	}{
		{Event{Instance: &InstanceEvent{}}, EventInstance},
		{Event{Check: &CheckEvent{}}, EventCheck},
		{Event{Member: &MemberEvent{}}, EventMember},
		{Event{Order: &priority.Order{}}, EventOrder},
		{Event{History: &history.Event{}}, EventHistory},
		{Event{Node: "n"}, 0},
	} {
		if got := c.ev.Type(); got != c.want {
			t.Errorf("%+v: type %d, want %d", c.ev, got, c.want)
		}
	}
}

func TestCandidatesBestFirst(t *testing.T) {
	states := map[string]gossip.NodeState{
		"a": {Node: "a", Instances: []gossip.InstanceState{{Name: "web", Priority: 100}, {Name: "db", Priority: 250}}},
		"b": {Node: "b", Instances: []gossip.InstanceState{{Name: "web", Priority: 200}}, Maintenance: true},
		"c": {Node: "c", Instances: []gossip.InstanceState{{Name: "web", Priority: 200}}},
		"d": {Node: "d"},
	}
	got := candidates(states, "web")
	var names []string
	for _, c := range got {
		names = append(names, c.node)
	}
	if want := "b c a"; strings.Join(names, " ") != want {
		t.Fatalf("candidates = %v, want %s (priority, then name)", names, want)
	}
	if !got[0].maint || got[1].maint {
		t.Errorf("maintenance flags wrong: %+v", got)
	}
	if len(candidates(states, "nope")) != 0 {
		t.Error("candidates for an instance nobody runs")
	}
}

// A watcher that does not keep up is cut off, and the others still get
// every event.
func TestHubDropsSlowWatcher(t *testing.T) {
	h := newHub()
	slow, cancelSlow := h.subscribe()
	defer cancelSlow()
	fast, cancelFast := h.subscribe()
	defer cancelFast()
	for i := range watchBuffer + 1 {
		h.publish(Event{Node: "n"})
		if i < watchBuffer {
			<-fast.ch
		}
	}
	select {
	case <-slow.behind:
	default:
		t.Fatal("the slow watcher was not cut off")
	}
	select {
	case <-fast.behind:
		t.Fatal("the fast watcher was cut off")
	default:
	}
	if len(fast.ch) != 1 {
		t.Errorf("fast watcher has %d pending, want the last event", len(fast.ch))
	}
}
