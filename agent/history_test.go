package agent

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// The hub's events become history events: this node's transitions (with
// the priority before and the cause counted) and checks, membership
// changes, orders; other nodes' relayed transitions are theirs to record.
// Watchers get the history events only when they ask for them.
func TestHistoryFromHub(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := time.Now() // the bubble's: it stands still, as nothing here waits
		hb := newHub()
		var causes []string
		h := &nodeHistory{rec: history.NewRecorder("n1", nil, clock.Real(), nil), hub: hb, node: "n1",
			prio: map[string]int{}, guard: map[string]string{},
			observe: func(_, cause string, _ time.Time) { causes = append(causes, cause) }}
		hb.setTap(h.tap)
		w, cancel := hb.subscribe()
		defer cancel()
		tr := func(node string, to fsm.State, prio uint8, reason string) {
			hb.instance(node, at, InstanceEvent{Name: "dns", From: fsm.Backup, To: to, Priority: prio, Reason: reason, Master: testPeer})
		}
		tr("n1", fsm.Backup, 100, "startup")
		tr("n1", fsm.Master, 150, "master down timer expired")
		tr("n2", fsm.Master, 200, "preempted a lower priority master")
		hb.check("n1", at, CheckEvent{Name: "chk", From: checks.StateHealthy, To: checks.StateFailed, Output: "refused"})
		n3 := gossip.Member{Name: "n3", Addr: netip.MustParseAddrPort("198.51.100.3:7946"), Status: gossip.StatusDead}
		hb.publish(Event{Time: at, Node: "n3", Member: &MemberEvent{Member: n3, Previous: gossip.StatusAlive}})
		hb.publish(Event{Time: at, Node: "n3", Member: &MemberEvent{Member: n3, Previous: gossip.StatusDead}})
		hb.publish(Event{Time: at, Node: "n2", Order: &priority.Order{
			Instance: "dns", Version: 4, Origin: "n2", Nodes: []priority.OrderNode{{Name: "n2"}, {Name: "n1", Disabled: true}}}})

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
			w.Node, w.Seq, w.Time = "n1", uint64(i+1), at.Round(0).UTC() // the tap keeps instants, in UTC
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
			plain := keep(ev, WatchFilter{Cluster: true}, map[EventType]bool{}, "n1")
			asked := keep(ev, WatchFilter{}, map[EventType]bool{EventHistory: true}, "n1")
			if ev.History != nil {
				hist++
				if plain || !asked {
					t.Errorf("history event kept=%v for a plain watcher, %v for one asking", plain, asked)
				}
			} else {
				other++
				if asked {
					t.Errorf("%+v kept for a watcher asking for history only", ev)
				}
			}
		}
		if hist != len(want) || other != 7 {
			t.Errorf("watcher saw %d history and %d other events", hist, other)
		}
	})
}

// The words history records for the states are pinned here: renaming a
// state or its String elsewhere cannot change what the log holds and the
// API shows. Unknown states have no word.
func TestHistoryWords(t *testing.T) {
	for s, want := range map[fsm.State]string{fsm.Init: "INIT", fsm.Backup: "BACKUP", fsm.Master: "MASTER", fsm.Fault: "FAULT",
		fsm.Stopped: "STOP", gossip.UnknownState: "", fsm.State(200): ""} {
		if got := stateWord(s); got != want {
			t.Errorf("stateWord(%d) = %q, want %q", s, got, want)
		}
	}
	for s, want := range map[checks.State]string{checks.StateInit: "INIT", checks.StateHealthy: "HEALTHY", checks.StateFailed: "FAILED",
		gossip.UnknownCheckState: "", checks.State(200): ""} {
		if got := checkWord(s); got != want {
			t.Errorf("checkWord(%d) = %q, want %q", s, got, want)
		}
	}
	for s, want := range map[string]string{gossip.StatusAlive: "alive", gossip.StatusSuspect: "suspect", gossip.StatusDead: "dead",
		gossip.StatusLeft: "left", "": "", "gone": ""} {
		if got := memberWord(s); got != want {
			t.Errorf("memberWord(%q) = %q, want %q", s, got, want)
		}
	}
	// Every state fsm knows has a word.
	for s := range fsm.State(255) {
		if _, known := fsm.ParseState(s.String()); known && stateWord(s) == "" {
			t.Errorf("fsm state %v has no history word", s)
		}
	}
}

// The sync's comparison records the guard's holds and releases, the
// maintenance flag with who asked, and effective priority changes with
// their arithmetic; nothing when nothing changed.
func TestObserveHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		at := time.Now() // the bubble's: it stands still, as nothing here waits
		a := New(Options{Log: discardLog, Clock: clock.Real()})
		ic := testInstance("dns", 53, 150, notify.Config{}, "web")
		cfg := baseConfig(ic)
		cfg.Checks = []*config.Check{execCheck("web", -50)}
		a.track = testTracking(cfg, notify.New(notify.Options{Log: discardLog}))
		setCheck(a.track, "web", checks.KindExec, true)
		inst, err := election.NewInstance(ic, testSelf, nullNet{}, election.Deps{
			Clock: clock.Real(), Log: discardLog, Addrs: nullNet{}, Announcer: nullNet{}, Drops: &election.DropCounter{}, Observer: a.track,
		})
		if err != nil {
			t.Fatal(err)
		}
		init, _ := a.track.begin(ic)
		inst.Prime(init.Priority, init.Fault, init.Reason, time.Now())
		ctx, cancel := context.WithCancel(context.Background())
		r := &running{cfg: ic, inst: inst, cancel: cancel, done: make(chan struct{})}
		go func() { defer close(r.done); _ = inst.Run(ctx) }()
		defer func() { cancel(); <-r.done }()
		a.running["dns"] = r
		h := &nodeHistory{rec: history.NewRecorder("n1", nil, a.clock, nil), hub: a.events, node: "n1",
			prio: map[string]int{}, guard: map[string]string{}, applied: map[string]string{}}
		a.hist.Store(h)
		const guard = "split-brain guard: n2 is master and its adverts do not arrive"

		a.observeHistory() // first sight: not an event
		setCheck(a.track, "web", checks.KindExec, false)
		a.track.apply(a.running)
		a.observeHistory()
		a.track.setGuard("dns", guard)
		a.observeHistory()
		a.noteCommand(gossip.Command{From: "n3", Kind: gossip.CommandMaintenance, Enabled: true})
		a.track.setMaintenance(true)
		a.observeHistory()
		a.observeHistory() // nothing changed
		a.track.setGuard("dns", "")
		a.track.setMaintenance(false)
		a.observeHistory()

		got, _ := h.rec.Query(history.Query{})
		want := []history.Event{
			{Kind: history.KindPriority, Instance: "dns", PrevPriority: 150, Priority: 100, Reason: "check web failed (weight -50): -50"},
			{Kind: history.KindGuard, Instance: "dns", From: "released", To: "held", Reason: guard},
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
		a.track.setMaintenance(true)
		a.observeHistory()
		if got, _ := a.hist.Load().rec.Query(history.Query{Kinds: []history.Kind{history.KindMaintenance}}); len(got) != 1 || got[0].Reason != "state file at start" {
			t.Errorf("started drained: %+v", got)
		}
	})
}

var discardLog = slog.New(slog.DiscardHandler)
