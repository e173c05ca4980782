package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// planFailover is pure: every refusal is a typed error whose gRPC code
// grpcStatus picks, and a plan names the target, the master to resign and
// the order to write.
func TestPlanFailover(t *testing.T) {
	in := func(prio uint8, st fsm.State) []gossip.InstanceState {
		return []gossip.InstanceState{{Name: "web", Priority: prio, State: st, Reason: "check web failed"}}
	}
	states := map[string]gossip.NodeState{
		"a": {Node: "a", Instances: in(200, fsm.Master)},
		"b": {Node: "b", Instances: in(150, fsm.Backup)},
		"c": {Node: "c", Instances: in(100, fsm.Backup)},
		"m": {Node: "m", Instances: in(120, fsm.Backup), Maintenance: true},
		"f": {Node: "f", Instances: in(0, fsm.Fault)},
		"x": {Node: "x"},
	}
	members := []gossip.Member{{Name: "a", Status: gossip.StatusAlive}, {Name: "x", Status: gossip.StatusAlive}, {Name: "gone", Status: gossip.StatusDead}}
	v := failoverView{states: states, members: members}
	noMaster := failoverView{states: map[string]gossip.NodeState{"b": states["b"], "c": states["c"]}}
	ordered := failoverView{states: states, orders: map[string]gossip.OrderEntry{"web": {Nodes: []gossip.OrderNode{{Name: "c"}, {Name: "a"}, {Name: "b", Disabled: true}}}}}
	tests := []struct {
		name, inst, target string
		v                  failoverView
		code               codes.Code // OK: a plan
		want               string     // target master order, or the error's message
	}{
		{"no instance", "", "", v, codes.InvalidArgument, "instance: required"},
		{"nobody runs it", "db", "", v, codes.NotFound, `instance "db": no node of the cluster runs it`},
		{"unknown target", "web", "gone", v, codes.NotFound, `node "gone": no such alive member`},
		{"target without the instance", "web", "x", v, codes.FailedPrecondition, "node x does not run instance web"},
		{"target in maintenance", "web", "m", v, codes.FailedPrecondition, "node m is in maintenance"},
		{"target in fault", "web", "f", v, codes.FailedPrecondition, "node f has instance web in FAULT (check web failed)"},
		{"no master, no target", "web", "", noMaster, codes.FailedPrecondition, "instance web has no master to move away from"},
		{"nobody else can take over", "web", "", failoverView{states: map[string]gossip.NodeState{"a": states["a"], "f": states["f"]}},
			codes.FailedPrecondition, "instance web: no other node can take over"},
		{"best other node", "web", "", v, codes.OK, "b a [b a m c f]"},
		{"named target", "web", "c", v, codes.OK, "c a [c a b m f]"},
		{"already master", "web", "a", v, codes.OK, "a a []"},
		{"no master, named target", "web", "c", noMaster, codes.OK, "c  [c b]"},
		{"current order kept after the target", "web", "b", ordered, codes.OK, "b a [b c a]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planFailover(tt.inst, tt.target, tt.v)
			if got := status.Code(grpcStatus(err)); got != tt.code {
				t.Fatalf("code %v (err %v), want %v", got, err, tt.code)
			}
			if err != nil {
				var re *requestError
				if !errors.As(err, &re) || err.Error() != tt.want {
					t.Fatalf("err %#v, want a requestError %q", err, tt.want)
				}
				return
			}
			var names []string
			for _, n := range p.order {
				names = append(names, n.Name)
			}
			if got := fmt.Sprintf("%s %s %v", p.target, p.master, names); got != tt.want {
				t.Errorf("plan %q, want %q", got, tt.want)
			}
		})
	}
	// Errors that are not the agent's pass unchanged.
	st := status.Error(codes.Unavailable, "the agent is stopping")
	if grpcStatus(st) != st || grpcStatus(nil) != nil {
		t.Error("grpcStatus changed an error that is not a requestError")
	}
}

// The handlers hand the agent's typed errors to gRPC through grpcStatus.
func TestHandlersMapErrors(t *testing.T) {
	s := &Service{a: &Agent{}}
	ctx := context.Background()
	_, err := s.Failover(ctx, &vipdv1.FailoverRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("Failover without instance: %v, want InvalidArgument", err)
	}
	_, err = s.Failover(ctx, &vipdv1.FailoverRequest{Instance: "web"})
	if status.Code(err) != codes.FailedPrecondition {
		t.Errorf("Failover without gossip: %v, want FailedPrecondition", err)
	}
	_, err = s.SetOrder(ctx, &vipdv1.SetOrderRequest{Instance: "web", Nodes: []*vipdv1.OrderNode{{Name: "a"}, {Name: "a"}}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `nodes[1].name: "a" is already nodes[0]`) {
		t.Errorf("SetOrder with a node twice: %v, want InvalidArgument naming the field", err)
	}
	_, err = s.Reload(ctx, &vipdv1.ReloadRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("Reload without a file: %v, want Unimplemented", err)
	}
}
