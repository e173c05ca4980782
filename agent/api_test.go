package agent

import (
	"strings"
	"testing"

	"github.com/vipd/vipd/gossip"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

func TestWatchFilter(t *testing.T) {
	inst := func(node, name string) *vipdv1.WatchResponse {
		return &vipdv1.WatchResponse{Node: node, Event: &vipdv1.WatchResponse_Instance{Instance: &vipdv1.InstanceEvent{Name: name}}}
	}
	check := &vipdv1.WatchResponse{Node: "other", Event: &vipdv1.WatchResponse_Check{Check: &vipdv1.CheckEvent{Name: "dns"}}}
	member := &vipdv1.WatchResponse{Node: "other", Event: &vipdv1.WatchResponse_Member{Member: &vipdv1.MemberEvent{}}}
	order := &vipdv1.WatchResponse{Node: "other", Event: &vipdv1.WatchResponse_Order{Order: &vipdv1.OrderEvent{Order: &vipdv1.Order{Instance: "web"}}}}
	tests := []struct {
		name  string
		ev    *vipdv1.WatchResponse
		req   *vipdv1.WatchRequest
		types []vipdv1.EventType
		want  bool
	}{
		{"own transition, no filter", inst("me", "web"), &vipdv1.WatchRequest{}, nil, true},
		{"other node's transition without cluster", inst("other", "web"), &vipdv1.WatchRequest{}, nil, false},
		{"other node's transition with cluster", inst("other", "web"), &vipdv1.WatchRequest{Cluster: true}, nil, true},
		{"other node's check without cluster", check, &vipdv1.WatchRequest{}, nil, false},
		{"member events are cluster-wide", member, &vipdv1.WatchRequest{}, nil, true},
		{"instance filter keeps the instance", inst("me", "web"), &vipdv1.WatchRequest{Instance: "web"}, nil, true},
		{"instance filter drops another instance", inst("me", "db"), &vipdv1.WatchRequest{Instance: "web"}, nil, false},
		{"instance filter keeps member events", member, &vipdv1.WatchRequest{Instance: "web"}, nil, true},
		{"instance filter keeps that instance's order", order, &vipdv1.WatchRequest{Instance: "web"}, nil, true},
		{"instance filter drops another order", order, &vipdv1.WatchRequest{Instance: "db"}, nil, false},
		{"type filter", inst("me", "web"), &vipdv1.WatchRequest{}, []vipdv1.EventType{vipdv1.EventType_EVENT_TYPE_MEMBER}, false},
		{"type filter match", member, &vipdv1.WatchRequest{}, []vipdv1.EventType{vipdv1.EventType_EVENT_TYPE_MEMBER}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := map[vipdv1.EventType]bool{}
			for _, ty := range tt.types {
				want[ty] = true
			}
			if got := keep(tt.ev, tt.req, want, "me"); got != tt.want {
				t.Errorf("keep = %v, want %v", got, tt.want)
			}
		})
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
		h.publish(&vipdv1.WatchResponse{Node: "n"})
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
