package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// The hub's events become history events: this node's transitions (with
// the priority before and the cause counted) and checks, membership
// changes, orders; other nodes' relayed transitions are theirs to record.
// Watchers get the history events only when they ask for them.
func TestHistoryFromHub(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 12, 0, 0, time.UTC)
	hb := newHub()
	var causes []string
	h := &nodeHistory{rec: history.NewRecorder("n1", nil, clock.NewFake(at), nil), hub: hb, node: "n1",
		prio: map[string]int{}, guard: map[string]string{},
		observe: func(_, cause string, _ time.Time) { causes = append(causes, cause) }}
	hb.setTap(h.tap)
	w, cancel := hb.subscribe()
	defer cancel()
	ts := timestamppb.New(at)
	tr := func(node string, to vipdv1.InstanceState, prio uint32, reason string) {
		hb.instance(node, at, &vipdv1.InstanceEvent{Name: "dns", From: vipdv1.InstanceState_INSTANCE_STATE_BACKUP, To: to, Priority: prio, Reason: reason, MasterAddress: "198.51.100.2"})
	}
	tr("n1", vipdv1.InstanceState_INSTANCE_STATE_BACKUP, 100, "startup")
	tr("n1", vipdv1.InstanceState_INSTANCE_STATE_MASTER, 150, "master down timer expired")
	tr("n2", vipdv1.InstanceState_INSTANCE_STATE_MASTER, 200, "preempted a lower priority master")
	hb.check("n1", at, &vipdv1.CheckEvent{Name: "chk", From: vipdv1.CheckState_CHECK_STATE_HEALTHY, To: vipdv1.CheckState_CHECK_STATE_FAILED, Output: "refused"})
	hb.publish(&vipdv1.WatchResponse{Time: ts, Node: "n3", Event: &vipdv1.WatchResponse_Member{Member: &vipdv1.MemberEvent{
		Member: &vipdv1.Member{Name: "n3", Address: "198.51.100.3:7946", Status: vipdv1.MemberStatus_MEMBER_STATUS_DEAD}, PreviousStatus: vipdv1.MemberStatus_MEMBER_STATUS_ALIVE}}})
	hb.publish(&vipdv1.WatchResponse{Time: ts, Node: "n3", Event: &vipdv1.WatchResponse_Member{Member: &vipdv1.MemberEvent{
		Member: &vipdv1.Member{Name: "n3", Status: vipdv1.MemberStatus_MEMBER_STATUS_DEAD}, PreviousStatus: vipdv1.MemberStatus_MEMBER_STATUS_DEAD}}})
	hb.publish(&vipdv1.WatchResponse{Time: ts, Node: "n2", Event: &vipdv1.WatchResponse_Order{Order: &vipdv1.OrderEvent{Order: &vipdv1.Order{
		Instance: "dns", Version: 4, Origin: "n2", Nodes: []*vipdv1.OrderNode{{Name: "n2"}, {Name: "n1", Disabled: true}}}}}})

	got, _ := h.rec.Query(history.Query{})
	want := []history.Event{
		{Kind: history.KindTransition, Instance: "dns", From: "BACKUP", To: "BACKUP", Priority: 100, Reason: "startup", Master: "198.51.100.2"},
		{Kind: history.KindTransition, Instance: "dns", From: "BACKUP", To: "MASTER", Priority: 150, PrevPriority: 100, Reason: "master down timer expired", Master: "198.51.100.2"},
		{Kind: history.KindCheck, Check: "chk", From: "HEALTHY", To: "FAILED", Output: "refused"},
		{Kind: history.KindMember, Origin: "n3", From: "alive", To: "dead", Detail: "member n3 at 198.51.100.3:7946"},
		{Kind: history.KindOrder, Instance: "dns", Origin: "n2", Version: 4, Detail: "n2, n1 (disabled)"},
	}
	if len(got) != len(want) {
		t.Fatalf("recorded %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		w.Node, w.Seq, w.Time = "n1", uint64(i+1), at
		if got[i] != w {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], w)
		}
	}
	if len(causes) != 2 || causes[0] != history.CauseStartup || causes[1] != history.CauseMasterDown {
		t.Errorf("causes %v", causes)
	}
	// The watcher saw history events among the others; keep() gives them
	// only to those asking by type.
	var hist, other int
	for len(w.ch) > 0 {
		ev := <-w.ch
		plain := keep(ev, &vipdv1.WatchRequest{Cluster: true}, map[vipdv1.EventType]bool{}, "n1")
		asked := keep(ev, &vipdv1.WatchRequest{}, map[vipdv1.EventType]bool{vipdv1.EventType_EVENT_TYPE_HISTORY: true}, "n1")
		if _, ok := ev.Event.(*vipdv1.WatchResponse_History); ok {
			hist++
			if plain || !asked {
				t.Errorf("history event kept=%v for a plain watcher, %v for one asking", plain, asked)
			}
		} else {
			other++
			if asked {
				t.Errorf("%T kept for a watcher asking for history only", ev.Event)
			}
		}
	}
	if hist != len(want) || other != 7 {
		t.Errorf("watcher saw %d history and %d other events", hist, other)
	}
}

type fakeAddr struct{ network, s string }

func (a fakeAddr) Network() string { return a.network }
func (a fakeAddr) String() string  { return a.s }

// How a command arrived and who sent it, as the history records them.
func TestCallerOf(t *testing.T) {
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "ops-laptop"}}
	for _, c := range []struct {
		name        string
		ctx         context.Context
		via, caller string
	}{
		{"no peer", context.Background(), "grpc", "unknown"},
		{"unix socket through net/http", peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"tcp", "@"}}), "unix", "local user (unix socket)"},
		{"tcp", peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"tcp", "127.0.0.1:40000"}}), "grpc", "127.0.0.1:40000"},
		{"tls client certificate", peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"tcp", "198.51.100.9:40000"},
			AuthInfo: credentials.TLSInfo{State: tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}}}), "grpc", "ops-laptop (198.51.100.9:40000)"},
		{"http gateway", metadata.NewIncomingContext(peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"bufconn", "bufconn"}}),
			metadata.Pairs("x-forwarded-for", "203.0.113.7")), "http", "203.0.113.7"},
		{"http on the socket", metadata.NewIncomingContext(peer.NewContext(context.Background(), &peer.Peer{Addr: fakeAddr{"bufconn", "bufconn"}}),
			metadata.Pairs("x-forwarded-for", "@")), "http", "local user (unix socket)"},
	} {
		if via, caller := callerOf(c.ctx); via != c.via || caller != c.caller {
			t.Errorf("%s: %q, %q; want %q, %q", c.name, via, caller, c.via, c.caller)
		}
	}
}

// The sync's comparison records the guard's holds and releases, the
// maintenance flag with who asked, and effective priority changes with
// their arithmetic; nothing when nothing changed.
func TestObserveHistory(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 12, 0, 0, time.UTC)
	a := New(Options{Log: discardLog, Clock: clock.NewFake(at)})
	a.track = newTracking(discardLog, a.clock, notify.New(notify.Options{Log: discardLog}))
	a.running["dns"] = &running{}
	h := &nodeHistory{rec: history.NewRecorder("n1", nil, a.clock, nil), hub: a.events, node: "n1",
		prio: map[string]int{}, guard: map[string]string{}, applied: map[string]string{}}
	a.hist.Store(h)
	set := func(f func(t *tracking)) {
		a.track.mu.Lock()
		f(a.track)
		a.track.mu.Unlock()
		a.observeHistory()
	}
	set(func(t *tracking) { r := t.rec("dns"); r.result, r.computed = priority.Result{Priority: 150}, true }) // first sight: not an event
	set(func(t *tracking) {
		t.rec("dns").result = priority.Result{Priority: 100, Reason: "check web failed (weight -50): -50", FailedChecks: []string{"web"}}
	})
	set(func(t *tracking) {
		t.rec("dns").guard = "split-brain guard: n2 is master and its adverts do not arrive"
	})
	a.noteCommand(gossip.Command{From: "n3", Kind: gossip.CommandMaintenance, Enabled: true})
	set(func(t *tracking) { t.maint = true })
	set(func(t *tracking) {}) // nothing changed
	set(func(t *tracking) { t.rec("dns").guard = ""; t.maint = false })

	got, _ := h.rec.Query(history.Query{})
	want := []history.Event{
		{Kind: history.KindPriority, Instance: "dns", PrevPriority: 150, Priority: 100, Reason: "check web failed (weight -50): -50"},
		{Kind: history.KindGuard, Instance: "dns", From: "released", To: "held", Reason: "split-brain guard: n2 is master and its adverts do not arrive"},
		{Kind: history.KindMaintenance, From: "off", To: "on", Reason: "command from n3 (gossip)"},
		{Kind: history.KindMaintenance, From: "on", To: "off", Reason: "requested on this node (not recorded how)"},
		{Kind: history.KindGuard, Instance: "dns", From: "held", To: "released", Reason: "split-brain guard released: no better master left unheard"},
	}
	if len(got) != len(want) {
		t.Fatalf("recorded %d events, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		w.Node, w.Seq, w.Time = "n1", uint64(i+1), at
		if got[i] != w {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], w)
		}
	}

	// A node that starts drained (its maintenance file) says so.
	a.hist.Store(&nodeHistory{rec: history.NewRecorder("n1", nil, a.clock, nil), hub: a.events, node: "n1",
		prio: map[string]int{}, guard: map[string]string{}, applied: map[string]string{}})
	set(func(t *tracking) { t.maint = true })
	if got, _ := a.hist.Load().rec.Query(history.Query{Kinds: []history.Kind{history.KindMaintenance}}); len(got) != 1 || got[0].Reason != "state file at start" {
		t.Errorf("started drained: %+v", got)
	}
}

var discardLog = slog.New(slog.DiscardHandler)
