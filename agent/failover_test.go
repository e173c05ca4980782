package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/priority"
)

// planFailover is pure: every refusal is a typed error (*Error, whose
// kind the server maps to a gRPC code), and a plan names the target, the
// master to resign and the order to write.
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
	ordered := failoverView{states: states, orders: map[string]priority.Order{"web": {Nodes: []priority.OrderNode{{Name: "c"}, {Name: "a"}, {Name: "b", Disabled: true}}}}}
	tests := []struct {
		name, inst, target string
		v                  failoverView
		kind               ErrorKind // 0: a plan
		want               string    // target master order, or the error's message
	}{
		{"no instance", "", "", v, ErrorInvalid, "instance: required"},
		{"nobody runs it", "db", "", v, ErrorNotFound, `instance "db": no node of the cluster runs it`},
		{"unknown target", "web", "gone", v, ErrorNotFound, `node "gone": no such alive member`},
		{"target without the instance", "web", "x", v, ErrorPrecondition, "node x does not run instance web"},
		{"target in maintenance", "web", "m", v, ErrorPrecondition, "node m is in maintenance"},
		{"target in fault", "web", "f", v, ErrorPrecondition, "node f has instance web in FAULT (check web failed)"},
		{"no master, no target", "web", "", noMaster, ErrorPrecondition, "instance web has no master to move away from"},
		{"nobody else can take over", "web", "", failoverView{states: map[string]gossip.NodeState{"a": states["a"], "f": states["f"]}},
			ErrorPrecondition, "instance web: no other node can take over"},
		{"best other node", "web", "", v, 0, "b a [b a m c f]"},
		{"named target", "web", "c", v, 0, "c a [c a b m f]"},
		{"already master", "web", "a", v, 0, "a a []"},
		{"no master, named target", "web", "c", noMaster, 0, "c  [c b]"},
		{"current order kept after the target", "web", "b", ordered, 0, "b a [b c a]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := planFailover(tt.inst, tt.target, tt.v)
			var ae *Error
			switch {
			case tt.kind == 0 && err != nil:
				t.Fatalf("error %v, want a plan", err)
			case tt.kind == 0:
			case !errors.As(err, &ae) || ae.Kind != tt.kind || err.Error() != tt.want:
				t.Fatalf("err %#v, want an *Error of kind %d: %q", err, tt.kind, tt.want)
			default:
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
}

// The Service's commands refuse what they cannot do with typed errors,
// before touching anything: a request without its instance, a failover
// or an order without gossip, an order naming a node twice, a reload
// without a file.
func TestServiceErrorKinds(t *testing.T) {
	s := New(Options{Log: discardLog}).Service()
	ctx := context.Background()
	kindOf := func(err error) ErrorKind {
		var ae *Error
		if !errors.As(err, &ae) {
			return 0
		}
		return ae.Kind
	}
	_, err := s.Failover(ctx, FailoverRequest{})
	if kindOf(err) != ErrorInvalid {
		t.Errorf("Failover without instance: %v, want ErrorInvalid", err)
	}
	_, err = s.Failover(ctx, FailoverRequest{Instance: "web"})
	if kindOf(err) != ErrorPrecondition {
		t.Errorf("Failover without gossip: %v, want ErrorPrecondition", err)
	}
	_, err = s.SetOrder(OrderRequest{Instance: "web", Nodes: []priority.OrderNode{{Name: "a"}, {Name: "a"}}})
	if kindOf(err) != ErrorInvalid || !strings.Contains(err.Error(), `nodes[1].name: "a" is already nodes[0]`) {
		t.Errorf("SetOrder with a node twice: %v, want ErrorInvalid naming the field", err)
	}
	_, err = s.ReloadFile(ctx, Caller{})
	if kindOf(err) != ErrorUnimplemented {
		t.Errorf("Reload without a file: %v, want ErrorUnimplemented", err)
	}
	_, err = s.ListEvents(ctx, EventQuery{Query: history.Query{Limit: history.MaxLimit + 1}})
	if kindOf(err) != ErrorInvalid || err.Error() != fmt.Sprintf("limit: at most %d", history.MaxLimit) {
		t.Errorf("ListEvents over the limit: %v, want ErrorInvalid", err)
	}
	_, err = s.Why(ctx, "")
	if kindOf(err) != ErrorInvalid {
		t.Errorf("Why without instance: %v, want ErrorInvalid", err)
	}
}
