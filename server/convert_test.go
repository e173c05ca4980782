package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/priority"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// enumCovered fails unless every value of the API's enum but UNSPECIFIED
// is produced by exactly one value of the agent's side, so that an API
// value nothing maps to (or two agent values on one) is seen.
func enumCovered[K comparable, V interface {
	comparable
	Descriptor() protoreflect.EnumDescriptor
}](t *testing.T, table map[K]V) {
	t.Helper()
	seen := map[V]int{}
	var zero V
	for _, v := range table {
		seen[v]++
	}
	vals := zero.Descriptor().Values()
	for i := range vals.Len() {
		name := string(vals.Get(i).Name())
		if vals.Get(i).Number() == 0 {
			continue
		}
		n := 0
		for v, c := range seen {
			if fmt.Sprint(v) == name {
				n = c
			}
		}
		if n != 1 {
			t.Errorf("%s is produced by %d values of the agent's, want 1", name, n)
		}
	}
}

// The API strings of the enums are pinned here value by value: renaming
// a constant or a String of the agent's side cannot change them.
func TestInstanceStates(t *testing.T) {
	for _, c := range []struct {
		s    fsm.State
		want string
	}{
		{fsm.Init, "INSTANCE_STATE_INIT"},
		{fsm.Backup, "INSTANCE_STATE_BACKUP"},
		{fsm.Master, "INSTANCE_STATE_MASTER"},
		{fsm.Fault, "INSTANCE_STATE_FAULT"},
		{fsm.Stopped, "INSTANCE_STATE_STOP"},
		{gossip.UnknownState, "INSTANCE_STATE_UNSPECIFIED"},
		{fsm.State(200), "INSTANCE_STATE_UNSPECIFIED"},
	} {
		if got := instanceStates[c.s].String(); got != c.want {
			t.Errorf("state %v: %s, want %s", c.s, got, c.want)
		}
	}
	// Every state fsm knows has its API value.
	for s := range fsm.State(255) {
		if _, known := fsm.ParseState(s.String()); known {
			if _, ok := instanceStates[s]; !ok {
				t.Errorf("fsm state %v has no API value", s)
			}
		}
	}
	enumCovered(t, instanceStates)
}

func TestCheckStates(t *testing.T) {
	for _, c := range []struct {
		s    checks.State
		want string
	}{
		{checks.StateInit, "CHECK_STATE_INIT"},
		{checks.StateHealthy, "CHECK_STATE_HEALTHY"},
		{checks.StateFailed, "CHECK_STATE_FAILED"},
		{gossip.UnknownCheckState, "CHECK_STATE_UNSPECIFIED"},
		{checks.State(200), "CHECK_STATE_UNSPECIFIED"},
	} {
		if got := checkStates[c.s].String(); got != c.want {
			t.Errorf("check state %v: %s, want %s", c.s, got, c.want)
		}
	}
	for s := range checks.State(255) {
		if !strings.HasPrefix(s.String(), "State(") {
			if _, ok := checkStates[s]; !ok {
				t.Errorf("check state %v has no API value", s)
			}
		}
	}
	enumCovered(t, checkStates)
}

func TestCheckKinds(t *testing.T) {
	for _, c := range []struct {
		k    checks.Kind
		want string
	}{
		{checks.KindExec, "CHECK_KIND_EXEC"},
		{checks.KindProcess, "CHECK_KIND_PROCESS"},
		{checks.KindTCP, "CHECK_KIND_TCP"},
		{checks.KindHTTP, "CHECK_KIND_HTTP"},
		{checks.KindDNS, "CHECK_KIND_DNS"},
		{checks.KindFile, "CHECK_KIND_FILE"},
		{checks.KindInterface, "CHECK_KIND_INTERFACE"},
		{"", "CHECK_KIND_UNSPECIFIED"}, // another node's check: gossip carries no kind
		{"smtp", "CHECK_KIND_UNSPECIFIED"},
	} {
		if got := checkKinds[c.k].String(); got != c.want {
			t.Errorf("check kind %q: %s, want %s", c.k, got, c.want)
		}
	}
	for _, k := range checks.Kinds() {
		if _, ok := checkKinds[k]; !ok {
			t.Errorf("check kind %q has no API value", k)
		}
	}
	enumCovered(t, checkKinds)
}

func TestMemberStatuses(t *testing.T) {
	for _, c := range []struct {
		s    string
		want string
	}{
		{gossip.StatusAlive, "MEMBER_STATUS_ALIVE"},
		{gossip.StatusSuspect, "MEMBER_STATUS_SUSPECT"},
		{gossip.StatusDead, "MEMBER_STATUS_DEAD"},
		{gossip.StatusLeft, "MEMBER_STATUS_LEFT"},
		{"", "MEMBER_STATUS_UNSPECIFIED"}, // a member seen for the first time has no status before
		{"gone", "MEMBER_STATUS_UNSPECIFIED"},
	} {
		if got := memberStatuses[c.s].String(); got != c.want {
			t.Errorf("member status %q: %s, want %s", c.s, got, c.want)
		}
	}
	enumCovered(t, memberStatuses)
}

func TestFamilies(t *testing.T) {
	for _, c := range []struct {
		f    inet.Family
		want string
	}{
		{inet.IPv4, "ADDRESS_FAMILY_IPV4"},
		{inet.IPv6, "ADDRESS_FAMILY_IPV6"},
		{0, "ADDRESS_FAMILY_IPV4"}, // as before: anything but IPv6 is IPv4
	} {
		if got := familyOf(c.f).String(); got != c.want {
			t.Errorf("family %d: %s, want %s", c.f, got, c.want)
		}
	}
}

// A watch's types: each API value reads as its agent type; UNSPECIFIED is
// refused; a value this version does not know reads as the zero type,
// which matches no event (as before: such a watch gets nothing).
func TestWatchFilterTypes(t *testing.T) {
	want := map[vipdv1.EventType]agent.EventType{
		vipdv1.EventType_EVENT_TYPE_INSTANCE: agent.EventInstance,
		vipdv1.EventType_EVENT_TYPE_CHECK:    agent.EventCheck,
		vipdv1.EventType_EVENT_TYPE_MEMBER:   agent.EventMember,
		vipdv1.EventType_EVENT_TYPE_ORDER:    agent.EventOrder,
		vipdv1.EventType_EVENT_TYPE_HISTORY:  agent.EventHistory,
		vipdv1.EventType(99):                 0,
	}
	for in, out := range want {
		f, err := watchFilter(&vipdv1.WatchRequest{Types: []vipdv1.EventType{in}, Instance: "web", Cluster: true})
		if err != nil || len(f.Types) != 1 || f.Types[0] != out || f.Instance != "web" || !f.Cluster {
			t.Errorf("%v: %+v, %v; want type %d", in, f, err, out)
		}
	}
	for _, at := range agent.EventTypes {
		n := 0
		for _, v := range eventTypes {
			if v == at {
				n++
			}
		}
		if n != 1 {
			t.Errorf("agent event type %d is read from %d API values, want 1", at, n)
		}
	}
	_, err := watchFilter(&vipdv1.WatchRequest{Types: []vipdv1.EventType{vipdv1.EventType_EVENT_TYPE_UNSPECIFIED}})
	if st := status.Convert(grpcError(err)); st.Code() != codes.InvalidArgument || st.Message() != "types: EVENT_TYPE_UNSPECIFIED is not an event type" {
		t.Errorf("UNSPECIFIED: %v", err)
	}
}

// The agent's errors reach gRPC by their kind, each kind its code; what
// is not the agent's passes as it is, a context's error as gRPC maps it.
func TestGrpcError(t *testing.T) {
	want := map[agent.ErrorKind]codes.Code{
		agent.ErrorInvalid:       codes.InvalidArgument,
		agent.ErrorNotFound:      codes.NotFound,
		agent.ErrorPrecondition:  codes.FailedPrecondition,
		agent.ErrorUnavailable:   codes.Unavailable,
		agent.ErrorInternal:      codes.Internal,
		agent.ErrorDeadline:      codes.DeadlineExceeded,
		agent.ErrorExhausted:     codes.ResourceExhausted,
		agent.ErrorUnimplemented: codes.Unimplemented,
		agent.ErrorKind(99):      codes.Internal,
	}
	for _, k := range agent.ErrorKinds {
		if _, ok := want[k]; !ok {
			t.Errorf("error kind %d is not in this test", k)
		}
	}
	for kind, code := range want {
		err := grpcError(fmt.Errorf("wrapped: %w", &agent.Error{Kind: kind, Msg: "the message"}))
		if st := status.Convert(err); st.Code() != code || st.Message() != "the message" {
			t.Errorf("kind %d: %v, want %v with the agent's message", kind, err, code)
		}
	}
	st := status.Error(codes.Aborted, "already a status")
	plain := errors.New("a stream's error")
	if grpcError(st) != st || grpcError(plain) != plain || grpcError(nil) != nil {
		t.Error("an error that is not the agent's was changed")
	}
	if c := status.Code(grpcError(context.Canceled)); c != codes.Canceled {
		t.Errorf("context.Canceled: %v", c)
	}
	if c := status.Code(grpcError(context.DeadlineExceeded)); c != codes.DeadlineExceeded {
		t.Errorf("context.DeadlineExceeded: %v", c)
	}
}

var (
	at    = time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	self  = netip.MustParseAddr("198.51.100.1")
	other = netip.MustParseAddr("198.51.100.2")
)

// jsonOf renders m as the HTTP API does, for comparing whole messages
// (normal: protojson adds white space at random).
func jsonOf(t *testing.T, m interface{ ProtoReflect() protoreflect.Message }) string {
	t.Helper()
	b, err := protojson.MarshalOptions{}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return normal(t, string(b))
}

// normal is a JSON text with its keys sorted and no white space.
func normal(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%v in %s", err, s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStatusResponse(t *testing.T) {
	st := agent.Status{
		Node: "n1", Version: "1.2", Started: at, Now: at.Add(90 * time.Second), Maintenance: true,
		Instances: []agent.InstanceStatus{{
			Name: "web", VRID: 51, Family: inet.IPv6, Interface: "eth1", VRRPVersion: 3, BasePriority: 150, Priority: 100,
			AdvertInterval: time.Second, VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::10/64")},
			State: fsm.Backup, Since: at, Master: other, Source: self, Sent: 3, Received: 4, Reason: "held",
			Held: true, Guarded: true, SyncGroup: "g", Peers: []netip.Addr{other},
		}, {Name: "db", State: gossip.UnknownState}},
		Checks: []checks.Status{{
			Name: "dns", Kind: checks.KindDNS, State: checks.StateFailed, Since: at, LastRun: at, Runs: 7, Failures: 2, Value: -3,
			LastResult: checks.Result{Output: "refused", Err: errors.New("exit status 3"), Duration: time.Millisecond},
		}, {Name: "new", Kind: checks.KindTCP, Since: at}},
		Drops: map[vrrp.DropReason]uint64{vrrp.DropShort: 2, vrrp.DropUnknownVRID: 1},
		Cloud: []agent.CloudStatus{{Owner: "instance:web", ActionStatus: cloudmove.ActionStatus{
			Name: "route", Kind: "route", State: "held", Detail: "d", Error: "e", Warnings: []string{"w"},
			Attempts: 2, Took: time.Second, Since: at, ErrorAt: at,
		}}, {Owner: "instance:db", ActionStatus: cloudmove.ActionStatus{Name: "eip"}}},
	}
	got := jsonOf(t, statusResponse(st))
	want := (`{"node":"n1","version":"1.2","startTime":"2026-12-06T07:00:00Z","uptime":"90s","maintenance":true,
	"instances":[{"name":"web","vrid":51,"family":"ADDRESS_FAMILY_IPV6","interface":"eth1","vrrpVersion":3,"state":"INSTANCE_STATE_BACKUP",
	"basePriority":150,"effectivePriority":100,"masterAddress":"198.51.100.2","sourceAddress":"198.51.100.1","reason":"held",
	"since":"2026-12-06T07:00:00Z","held":true,"guarded":true,"advertInterval":"1s","syncGroup":"g","vips":["2001:db8::10/64"],
	"peers":["198.51.100.2"],"advertsSent":"3","advertsReceived":"4"},
	{"name":"db","family":"ADDRESS_FAMILY_IPV4","advertInterval":"0s"}],
	"checks":[{"name":"dns","kind":"CHECK_KIND_DNS","state":"CHECK_STATE_FAILED","since":"2026-12-06T07:00:00Z","lastRun":"2026-12-06T07:00:00Z",
	"lastDuration":"0.001s","lastOutput":"refused","lastError":"exit status 3","runs":"7","failures":"2","value":"-3"},
	{"name":"new","kind":"CHECK_KIND_TCP","state":"CHECK_STATE_INIT","since":"2026-12-06T07:00:00Z"}],
	"drops":[%s,%s],
	"cloudActions":[{"owner":"instance:web","name":"route","kind":"route","state":"held","detail":"d","error":"e","warnings":["w"],
	"took":"1s","since":"2026-12-06T07:00:00Z","attempts":2,"errorAt":"2026-12-06T07:00:00Z"},{"owner":"instance:db","name":"eip"}]}`)
	// The drops come sorted by their reason's word.
	drops := []string{fmt.Sprintf(`{"reason":%q,"count":"2"}`, vrrp.DropShort), fmt.Sprintf(`{"reason":%q,"count":"1"}`, vrrp.DropUnknownVRID)}
	if vrrp.DropUnknownVRID.String() < vrrp.DropShort.String() {
		drops[0], drops[1] = drops[1], drops[0]
	}
	want = normal(t, fmt.Sprintf(want, drops[0], drops[1]))
	if got != want {
		t.Errorf("GetStatus:\n got %s\nwant %s", got, want)
	}
}

func TestMembersAndCluster(t *testing.T) {
	gm := gossip.Member{Name: "n2", Addr: netip.AddrPortFrom(other, 7946), Meta: gossip.NodeMeta{AZ: "az-b", Version: "1.2", APIAddr: "198.51.100.2:7947"},
		Status: gossip.StatusSuspect, Since: at}
	selfOnly := gossip.Member{Name: "n1", Meta: gossip.NodeMeta{Version: "1.2"}, Status: gossip.StatusAlive, Since: at}
	if got, want := jsonOf(t, membersResponse([]gossip.Member{selfOnly, gm})), `{"members":[`+
		`{"name":"n1","version":"1.2","status":"MEMBER_STATUS_ALIVE","since":"2026-12-06T07:00:00Z"},`+
		`{"name":"n2","address":"198.51.100.2:7946","availabilityZone":"az-b","version":"1.2","apiAddress":"198.51.100.2:7947",`+
		`"status":"MEMBER_STATUS_SUSPECT","since":"2026-12-06T07:00:00Z"}]}`; got != normal(t, want) {
		t.Errorf("ListMembers:\n got %s\nwant %s", got, want)
	}
	ns := &gossip.NodeState{Node: "n2", Incarnation: 9, Maintenance: true,
		Instances: []gossip.InstanceState{{Name: "web", VRID: 51, Family: inet.IPv4, Src: other, State: fsm.Master, Priority: 200,
			Reason: "preempted", Master: other, Since: at}, {Name: "db", State: gossip.UnknownState}},
		Checks: []gossip.CheckState{{Name: "dns", Healthy: true, State: checks.StateHealthy, Since: at, Output: "ok"}}}
	c := agent.Cluster{Name: "prod", Node: "n1", Nodes: []agent.ClusterNode{{Member: selfOnly}, {Member: gm, State: ns}},
		Orders: []priority.Order{{Instance: "web", Version: 4, Origin: "n2", Nodes: []priority.OrderNode{{Name: "n2"}, {Name: "n1", Disabled: true}}}}}
	got := jsonOf(t, clusterResponse(c))
	want := `{"cluster":"prod","node":"n1","nodes":[{"member":{"name":"n1","version":"1.2","status":"MEMBER_STATUS_ALIVE","since":"2026-12-06T07:00:00Z"}},` +
		`{"member":{"name":"n2","address":"198.51.100.2:7946","availabilityZone":"az-b","version":"1.2","apiAddress":"198.51.100.2:7947",` +
		`"status":"MEMBER_STATUS_SUSPECT","since":"2026-12-06T07:00:00Z"},"incarnation":"9",` +
		`"instances":[{"name":"web","vrid":51,"family":"ADDRESS_FAMILY_IPV4","sourceAddress":"198.51.100.2","state":"INSTANCE_STATE_MASTER",` +
		`"priority":200,"reason":"preempted","masterAddress":"198.51.100.2","since":"2026-12-06T07:00:00Z"},{"name":"db","family":"ADDRESS_FAMILY_IPV4"}],` +
		`"checks":[{"name":"dns","state":"CHECK_STATE_HEALTHY","healthy":true,"since":"2026-12-06T07:00:00Z","output":"ok"}],"maintenance":true}],` +
		`"orders":[{"instance":"web","nodes":[{"name":"n2"},{"name":"n1","disabled":true}],"version":"4","origin":"n2"}]}`
	if want = normal(t, want); got != want {
		t.Errorf("GetCluster:\n got %s\nwant %s", got, want)
	}
}

func TestWatchResponses(t *testing.T) {
	for _, c := range []struct {
		name string
		ev   agent.Event
		want string
	}{
		{"own transition", agent.Event{Time: at, Node: "n1", Instance: &agent.InstanceEvent{Name: "web", VRID: 51, Family: inet.IPv6,
			From: fsm.Backup, To: fsm.Master, Reason: "master down", Priority: 150, Master: self}},
			`{"time":"2026-12-06T07:00:00Z","node":"n1","instance":{"name":"web","vrid":51,"family":"ADDRESS_FAMILY_IPV6",` +
				`"from":"INSTANCE_STATE_BACKUP","to":"INSTANCE_STATE_MASTER","reason":"master down","priority":150,"masterAddress":"198.51.100.1"}}`},
		{"another node's first state", agent.Event{Time: at, Node: "n2", Instance: &agent.InstanceEvent{Name: "web", Family: inet.IPv4,
			From: gossip.UnknownState, To: fsm.Init}},
			`{"time":"2026-12-06T07:00:00Z","node":"n2","instance":{"name":"web","family":"ADDRESS_FAMILY_IPV4","to":"INSTANCE_STATE_INIT"}}`},
		{"check", agent.Event{Time: at, Node: "n1", Check: &agent.CheckEvent{Name: "dns", Kind: checks.KindDNS, From: checks.StateHealthy,
			To: checks.StateFailed, Output: "refused"}},
			`{"time":"2026-12-06T07:00:00Z","node":"n1","check":{"name":"dns","kind":"CHECK_KIND_DNS","from":"CHECK_STATE_HEALTHY",` +
				`"to":"CHECK_STATE_FAILED","output":"refused"}}`},
		{"another node's first check", agent.Event{Time: at, Node: "n2", Check: &agent.CheckEvent{Name: "dns", From: gossip.UnknownCheckState,
			To: checks.StateInit}},
			`{"time":"2026-12-06T07:00:00Z","node":"n2","check":{"name":"dns","to":"CHECK_STATE_INIT"}}`},
		{"member", agent.Event{Time: at, Node: "n2", Member: &agent.MemberEvent{Previous: gossip.StatusAlive,
			Member: gossip.Member{Name: "n2", Addr: netip.AddrPortFrom(other, 7946), Status: gossip.StatusDead, Since: at}}},
			`{"time":"2026-12-06T07:00:00Z","node":"n2","member":{"member":{"name":"n2","address":"198.51.100.2:7946",` +
				`"status":"MEMBER_STATUS_DEAD","since":"2026-12-06T07:00:00Z"},"previousStatus":"MEMBER_STATUS_ALIVE"}}`},
		{"order", agent.Event{Time: at, Node: "n2", Order: &priority.Order{Instance: "web", Version: 2, Origin: "n2",
			Nodes: []priority.OrderNode{{Name: "n2"}}}},
			`{"time":"2026-12-06T07:00:00Z","node":"n2","order":{"order":{"instance":"web","nodes":[{"name":"n2"}],"version":"2","origin":"n2"}}}`},
		{"history", agent.Event{Time: at, Node: "n1", History: &history.Event{Node: "n1", Seq: 3, Time: at, Kind: history.KindTransition,
			Instance: "web", Reason: "master down timer expired", From: "BACKUP", To: "MASTER", Priority: 150, PrevPriority: -1}},
			`{"time":"2026-12-06T07:00:00Z","node":"n1","history":{"node":"n1","seq":"3","time":"2026-12-06T07:00:00Z","kind":"transition",` +
				`"instance":"web","reason":"master down timer expired","cause":"` + history.Cause("master down timer expired") +
				`","from":"BACKUP","to":"MASTER","priority":150}}`},
	} {
		if got, want := jsonOf(t, watchResponse(c.ev)), normal(t, c.want); got != want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, want)
		}
	}
}

func TestHistoryAndWhy(t *testing.T) {
	e := history.Event{Node: "n1", Seq: 1, Time: at, Kind: history.KindCloud, Detail: "create_route for instance:web",
		Duration: 1500 * time.Millisecond, Error: "denied", Via: "grpc", Caller: "ops", Origin: "n1", Version: 2}
	if got, want := jsonOf(t, historyEvent(e)), `{"node":"n1","seq":"1","time":"2026-12-06T07:00:00Z","kind":"cloud","origin":"n1",`+
		`"version":"2","via":"grpc","caller":"ops","duration":"1.500s","error":"denied","detail":"create_route for instance:web"}`; got != normal(t, want) {
		t.Errorf("history event:\n got %s\nwant %s", got, want)
	}
	w := agent.WhyResult{Instance: "web", Holders: []string{"n1"}, Explanation: []string{"n1 holds web."},
		Nodes: []agent.WhyNode{{Node: "n1", Answered: true, State: fsm.Master, Priority: 150, BasePriority: 100, OrderPlace: 1,
			FailedChecks: []string{"x"}, PriorityNote: "order", Held: "h", Reason: "r", Since: at},
			{Node: "n2", State: gossip.UnknownState, Priority: -5, Fault: true, Maintenance: true}},
		Order:   &priority.Order{Instance: "web", Version: 1, Origin: "n1", Nodes: []priority.OrderNode{{Name: "n1"}}},
		Sources: []history.NodeReport{{Node: "n1", Answered: true, Events: 1, Offset: time.Millisecond, Skew: []string{"s"}}, {Node: "n2", Error: "timeout"}},
	}
	got := jsonOf(t, whyResponse(w))
	want := `{"instance":"web","holders":["n1"],"explanation":["n1 holds web."],"nodes":[{"node":"n1","answered":true,` +
		`"state":"INSTANCE_STATE_MASTER","priority":150,"basePriority":100,"orderPlace":1,"failedChecks":["x"],"priorityNote":"order",` +
		`"held":"h","reason":"r","since":"2026-12-06T07:00:00Z"},{"node":"n2","fault":true,"maintenance":true}],` +
		`"order":{"instance":"web","nodes":[{"name":"n1"}],"version":"1","origin":"n1"},` +
		`"sources":[{"node":"n1","answered":true,"events":1,"clockOffset":"0.001s","skew":["s"]},{"node":"n2","error":"timeout","clockOffset":"0s"}]}`
	if want = normal(t, want); got != want {
		t.Errorf("Why:\n got %s\nwant %s", got, want)
	}
}

// A ListEventsRequest reads into the agent's query; a kind history does
// not know is refused, naming the field.
func TestEventQuery(t *testing.T) {
	req := &vipdv1.ListEventsRequest{Instance: "web", Node: "n2", Kind: []string{"transition", "check"}, Local: true, Limit: 7}
	q, err := eventQuery(req)
	if err != nil || q.Instance != "web" || q.Node != "n2" || !q.Local || q.Limit != 7 || !q.Since.IsZero() || !q.Until.IsZero() ||
		len(q.Kinds) != 2 || q.Kinds[0] != history.KindTransition || q.Kinds[1] != history.KindCheck {
		t.Errorf("query %+v, %v", q, err)
	}
	_, err = eventQuery(&vipdv1.ListEventsRequest{Kind: []string{"transition", "nope"}})
	if st := status.Convert(grpcError(err)); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "kind: ") {
		t.Errorf("unknown kind: %v", err)
	}
}
