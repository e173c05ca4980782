package agent

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vip"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// These tests drive tracking directly: real election.Instances with an
// in-memory network, reporting into a tracking whose notifier runs real
// scripts that append a line per run to a log in t.TempDir(). Each runs in
// a testing/synctest bubble on the real clock: time is virtual, and moves
// only when every goroutine waits (a script running is a system call, so
// time stands still until it has finished).

// nullNet is the instances' network and host: adverts go nowhere, VIPs
// are bound nowhere.
type nullNet struct{}

func (nullNet) WriteTo([]byte, netip.Addr, netip.Addr) error { return nil }
func (nullNet) Add(vip.VIP) error                            { return nil }
func (nullNet) Remove(vip.VIP) error                         { return nil }
func (nullNet) Announce(string, []netip.Addr) error          { return nil }

// logScript writes a script that appends "LABEL|TYPE|NAME|STATE|PREV|
// NODE|PRIORITY|REASON|FAILED" to log, after sleeping delay seconds (a
// slow script shows whether others wait for it).
func logScript(t *testing.T, dir, log, delay string) string {
	t.Helper()
	p := filepath.Join(dir, "notify-"+strings.ReplaceAll(delay, ".", "_")+".sh")
	body := "#!/bin/sh\nsleep " + delay + "\n" +
		`printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$1" "$VIPD_TYPE" "$VIPD_NAME" "$VIPD_STATE" "$VIPD_PREV_STATE" "$VIPD_NODE" "$VIPD_PRIORITY" "$VIPD_REASON" "$VIPD_FAILED_CHECKS" >> ` + log + "\n"
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// scriptsFor gives every hook of a Notify the script, labelled by hook.
func scriptsFor(script string) notify.Config {
	return notify.Config{
		Any:              []string{script, "notify"},
		Master:           []string{script, "master"},
		Backup:           []string{script, "backup"},
		Fault:            []string{script, "fault"},
		Stop:             []string{script, "stop"},
		MasterRxLowerPri: []string{script, "rxlower"},
		Timeout:          10 * time.Second,
	}
}

// logLine is one script run as the log recorded it.
type logLine struct {
	label, typ, name, state, prev, node, prio, reason, failed string
}

func readLog(t *testing.T, path string) []logLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []logLine
	for l := range strings.Lines(string(b)) {
		f := strings.Split(strings.TrimSuffix(l, "\n"), "|")
		if len(f) != 9 {
			t.Fatalf("malformed log line %q", l)
		}
		out = append(out, logLine{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]})
	}
	return out
}

// find returns the index of the first line matching, or -1.
func find(lines []logLine, match func(logLine) bool) int {
	return slices.IndexFunc(lines, match)
}

// waitFor polls cond, letting time pass between looks (virtual time in a
// bubble, which also drives the instances' timers).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// trackHarness is a tracking with its notifier running and instances
// started from cfg. It must run in a synctest bubble.
type trackHarness struct {
	t       *testing.T
	cfg     *config.Config
	tr      *tracking
	log     string
	running map[string]*running

	nstop context.CancelFunc
	ndone chan struct{}
	once  sync.Once
}

var (
	testVIP  = netip.MustParsePrefix("198.51.100.100/24")
	testSelf = netip.MustParseAddr("198.51.100.1")
	testPeer = netip.MustParseAddr("198.51.100.2")
)

func testInstance(name string, vrid uint8, prio uint8, n notify.Config, track ...string) *config.Instance {
	ic := config.DefaultInstance()
	ic.Name, ic.Interface, ic.VRID, ic.Version, ic.Priority = name, "vipdtest0", vrid, 3, prio
	ic.AdvertInterval = time.Second
	ic.VIPs = []config.VIP{{Prefix: testVIP}}
	ic.GARP = config.GARP{}
	ic.Notify = n
	for _, c := range track {
		ic.Track = append(ic.Track, config.Track{Track: priority.Track{Check: c}})
	}
	return ic
}

func execCheck(name string, weight int) *config.Check {
	return &config.Check{Config: checks.Config{Name: name, Kind: checks.KindExec, Interval: time.Second, Fall: 1, Rise: 1, Weight: weight,
		Exec: &checks.ExecConfig{Command: []string{"/bin/true"}}}}
}

// newTrackHarness sets tracking up for cfg the way configure does, but
// with the check states given instead of runners (every instance's own
// interface healthy).
func newTrackHarness(t *testing.T, cfg *config.Config, states map[string]bool) *trackHarness {
	t.Helper()
	h := &trackHarness{t: t, cfg: cfg, log: filepath.Join(t.TempDir(), "notify.log"), running: map[string]*running{}}
	n := notify.New(notify.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	nctx, nstop := context.WithCancel(context.Background())
	h.nstop, h.ndone = nstop, make(chan struct{})
	go func() { defer close(h.ndone); n.Run(nctx) }()
	t.Cleanup(h.stopAll)

	h.tr = testTracking(cfg, n)
	for name, ok := range states {
		h.setCheck(name, ok)
	}
	return h
}

// testTracking is a tracking for cfg with its notifier n (not running
// unless the caller runs it), set up as configure does but with every
// check's state reported by the test (setCheck): the instances' own
// interfaces are reported healthy.
func testTracking(cfg *config.Config, n *notify.Notifier) *tracking {
	tr := newTracking(trackingOptions{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: clock.Real(), Notifier: n, Node: cfg.Node.Name})
	all := withImplicitChecks(cfg)
	tr.setConfig(cfg, all)
	for name, c := range all {
		if c.Kind == checks.KindInterface {
			setCheck(tr, name, c.Kind, true)
		}
	}
	return tr
}

// setCheck reports a check's result as its runner does.
func setCheck(tr *tracking, name string, kind checks.Kind, healthy bool) {
	st := checks.StateFailed
	if healthy {
		st = checks.StateHealthy
	}
	tr.checkChanged(checks.Status{Name: name, Kind: kind, State: st, Healthy: healthy})
}

func (h *trackHarness) setCheck(name string, healthy bool) {
	setCheck(h.tr, name, checks.KindExec, healthy)
}

// start runs ic as the agent's start does: primed with tracking's result.
func (h *trackHarness) start(ic *config.Instance) *election.Instance {
	h.t.Helper()
	inst, err := election.NewInstance(ic, testSelf, nullNet{}, election.Deps{
		Clock: clock.Real(), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Addrs: nullNet{}, Announcer: nullNet{}, Drops: &election.DropCounter{}, Observer: h.tr,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	init, _ := h.tr.begin(ic)
	inst.Prime(init.Priority, init.Fault, init.Reason, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cfg: ic, inst: inst, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = inst.Run(ctx) }()
	h.running[ic.Name] = r
	return inst
}

// becomeMaster lets time pass until every inst is MASTER (no other router
// is heard).
func (h *trackHarness) becomeMaster(insts ...*election.Instance) {
	h.t.Helper()
	waitFor(h.t, "instances become MASTER", func() bool {
		for _, in := range insts {
			if in.State() != fsm.Master {
				return false
			}
		}
		return true
	})
}

// stopInstances stops every instance as the agent's stopAll does.
func (h *trackHarness) stopInstances() {
	for _, r := range h.running {
		r.cancel()
	}
	for name, r := range h.running {
		<-r.done
		delete(h.running, name)
	}
}

// stopAll stops the instances, then lets the notifier drain, as the
// agent's shutdown does.
func (h *trackHarness) stopAll() {
	h.once.Do(func() {
		h.stopInstances()
		h.nstop()
		<-h.ndone
	})
}

func (h *trackHarness) lines() []logLine { return readLog(h.t, h.log) }

func (h *trackHarness) waitLine(what string, match func(logLine) bool) logLine {
	h.t.Helper()
	var got logLine
	waitFor(h.t, what+" in the notify log", func() bool {
		ls := h.lines()
		if i := find(ls, match); i >= 0 {
			got = ls[i]
			return true
		}
		return false
	})
	return got
}

func baseConfig(insts ...*config.Instance) *config.Config {
	cfg := config.DefaultConfig()
	cfg.Node.Name = "node-a"
	cfg.Instances = insts
	return cfg
}

// A master hearing a lower-priority advert runs notify_master_rx_lower_pri
// (and nothing else) with the whole environment: node, state, previous
// state, priority, reason and the failing checks.
func TestReassertedNotifiesWithFullEnvironment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "notify.log")
		script := logScript(t, dir, log, "0")
		ic := testInstance("web", 51, 100, scriptsFor(script), "weighted")
		cfg := baseConfig(ic)
		cfg.Checks = []*config.Check{execCheck("weighted", -10)}
		h := newTrackHarness(t, cfg, map[string]bool{"weighted": false})
		h.log = log
		inst := h.start(ic)
		h.becomeMaster(inst)
		h.waitLine("notify_master", func(l logLine) bool { return l.label == "master" })
		if got := inst.Priority(); got != 90 {
			t.Fatalf("priority %d, want 90 (100 less the failing check's 10)", got)
		}

		inst.Deliver(vrrp.Advert{Version: 3, VRID: 51, Priority: 50, Interval: time.Second, Addrs: []netip.Addr{testVIP.Addr()}},
			testPeer, vrrp.MulticastIPv4, 255)
		got := h.waitLine("notify_master_rx_lower_pri", func(l logLine) bool { return l.label == "rxlower" })
		want := logLine{label: "rxlower", typ: "INSTANCE", name: "web", state: "MASTER", prev: "MASTER", node: "node-a",
			prio: "90", reason: "advert with lower priority 50", failed: "weighted"}
		if got != want {
			t.Errorf("rx_lower_pri run\n got %+v\nwant %+v", got, want)
		}
		h.stopAll()
		for _, l := range h.lines() {
			if l.label == "notify" && l.state == "MASTER" && l.prev == "MASTER" {
				t.Errorf("the generic notify script ran for the lower-priority advert: %+v", l)
			}
		}
	})
}

// masterSyncGroup starts sync group G of instances web and db, both
// MASTER, whose scripts log to h.log: the members' slowly (0.3 s), the
// group's at once.
func masterSyncGroup(t *testing.T) *trackHarness {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "notify.log")
	slow := logScript(t, dir, log, "0.3")
	fast := logScript(t, dir, log, "0")
	web := testInstance("web", 51, 100, scriptsFor(slow))
	db := testInstance("db", 52, 100, scriptsFor(slow))
	cfg := baseConfig(web, db)
	cfg.SyncGroups = []*config.SyncGroup{{Name: "G", Instances: []string{"web", "db"}, Notify: scriptsFor(fast)}}
	h := newTrackHarness(t, cfg, nil)
	h.log = log
	iw, idb := h.start(web), h.start(db)
	h.becomeMaster(iw, idb)
	return h
}

// A graceful shutdown runs notify_stop (and notify STOP) for every
// instance and for the sync group, the group's after all its members',
// even though the members' scripts are slow.
func TestShutdownNotifiesStopForInstancesAndGroups(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := masterSyncGroup(t)
		h.waitLine("group notify_master", func(l logLine) bool { return l.typ == "GROUP" && l.label == "master" })

		h.stopAll() // instances stop, then the notifier drains
		ls := h.lines()
		groupStop := find(ls, func(l logLine) bool { return l.typ == "GROUP" && l.label == "stop" })
		if groupStop < 0 {
			t.Fatalf("no notify_stop for the sync group; log:\n%+v", ls)
		}
		if g := ls[groupStop]; g.name != "G" || g.state != "STOP" || g.node != "node-a" {
			t.Errorf("group STOP run %+v", g)
		}
		if i := find(ls, func(l logLine) bool { return l.typ == "GROUP" && l.label == "notify" && l.state == "STOP" }); i < 0 {
			t.Errorf("no notify GROUP G STOP")
		}
		for _, name := range []string{"web", "db"} {
			i := find(ls, func(l logLine) bool { return l.typ == "INSTANCE" && l.name == name && l.label == "stop" })
			if i < 0 {
				t.Fatalf("no notify_stop for instance %s; log:\n%+v", name, ls)
			}
			if l := ls[i]; l.state != "STOP" || l.prev != "MASTER" || l.node != "node-a" {
				t.Errorf("instance %s STOP run %+v", name, l)
			}
			if i > groupStop {
				t.Errorf("instance %s's notify_stop ran after the group's (keepalived: instances first)", name)
			}
			j := find(ls, func(l logLine) bool {
				return l.typ == "INSTANCE" && l.name == name && l.label == "notify" && l.state == "STOP"
			})
			if j < 0 || j > groupStop {
				t.Errorf("instance %s's notify STOP missing or after the group's (at %d, group at %d)", name, j, groupStop)
			}
		}
	})
}

// The group's MASTER notify comes after the instance notifies of the
// transitions that made it MASTER, and only once.
func TestGroupNotifyFollowsMemberNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := masterSyncGroup(t)
		h.waitLine("group notify", func(l logLine) bool { return l.typ == "GROUP" && l.label == "notify" && l.state == "MASTER" })
		h.stopAll()
		ls := h.lines()
		gm := find(ls, func(l logLine) bool { return l.typ == "GROUP" && l.label == "master" })
		for _, name := range []string{"web", "db"} {
			for _, label := range []string{"master", "notify"} {
				i := find(ls, func(l logLine) bool {
					return l.typ == "INSTANCE" && l.name == name && l.label == label && l.state == "MASTER"
				})
				if i < 0 || i > gm {
					t.Errorf("instance %s %s MASTER at %d, group's notify_master at %d: want the instance's first", name, label, i, gm)
				}
			}
		}
		n := 0
		for _, l := range ls {
			if l.typ == "GROUP" && l.state == "MASTER" && l.label == "master" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("group notify_master ran %d times, want once", n)
		}
		// Before both members were MASTER the group was BACKUP: it said so.
		if i := find(ls, func(l logLine) bool { return l.typ == "GROUP" && l.label == "backup" }); i < 0 || i > gm {
			t.Errorf("group BACKUP notify at %d, MASTER at %d", i, gm)
		}
	})
}

// A tracked check failing puts its instance in FAULT and, through the
// sync group, the other member too; VIPD_REASON says why (the check for
// the one, the group for the other), VIPD_FAILED_CHECKS names the check,
// and the group reports FAULT. Recovery brings all back.
func TestFaultReasonAndGroupSpread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		log := filepath.Join(dir, "notify.log")
		script := logScript(t, dir, log, "0")
		web := testInstance("web", 51, 100, scriptsFor(script), "db-alive")
		db := testInstance("db", 52, 100, scriptsFor(script))
		cfg := baseConfig(web, db)
		cfg.Checks = []*config.Check{execCheck("db-alive", 0)}
		cfg.SyncGroups = []*config.SyncGroup{{Name: "G", Instances: []string{"web", "db"}, Notify: scriptsFor(script)}}
		h := newTrackHarness(t, cfg, map[string]bool{"db-alive": true})
		h.log = log
		iw, idb := h.start(web), h.start(db)
		h.becomeMaster(iw, idb)

		h.setCheck("db-alive", false)
		h.tr.apply(h.running)
		waitFor(t, "both members in FAULT", func() bool { return iw.State() == fsm.Fault && idb.State() == fsm.Fault })
		wf := h.waitLine("web's notify_fault", func(l logLine) bool { return l.name == "web" && l.label == "fault" })
		if !strings.Contains(wf.reason, "db-alive") || wf.failed != "db-alive" || wf.prev != "MASTER" || wf.node != "node-a" {
			t.Errorf("web FAULT run %+v: want the check in VIPD_REASON and VIPD_FAILED_CHECKS", wf)
		}
		df := h.waitLine("db's notify_fault", func(l logLine) bool { return l.name == "db" && l.label == "fault" })
		if want := "sync group G: member web in FAULT"; df.reason != want {
			t.Errorf("db FAULT reason %q, want %q", df.reason, want)
		}
		gf := h.waitLine("the group's notify_fault", func(l logLine) bool { return l.typ == "GROUP" && l.label == "fault" })
		// The group's previous state is its own, not the member's.
		if gf.name != "G" || gf.state != "FAULT" || gf.prev != "MASTER" {
			t.Errorf("group FAULT run %+v, want G from MASTER to FAULT", gf)
		}

		h.setCheck("db-alive", true)
		h.tr.apply(h.running)
		h.becomeMaster(iw, idb)
		h.waitLine("the group's notify_master again", func(l logLine) bool {
			return l.typ == "GROUP" && l.label == "master" && l.prev == "BACKUP"
		})
		ls := h.lines()
		gb := find(ls, func(l logLine) bool { return l.typ == "GROUP" && l.label == "backup" && l.prev == "FAULT" })
		if gb < 0 || gb < find(ls, func(l logLine) bool { return l.typ == "GROUP" && l.label == "fault" }) {
			t.Errorf("no group BACKUP from FAULT after the fault cleared; log:\n%+v", ls)
		}
	})
}

// groupState: FAULT wins, MASTER and STOP need every member, anything
// else is BACKUP; heldBack holds the other members of a group one of
// whose members yields, and nothing outside a group.
func TestGroupStateAndHeldBack(t *testing.T) {
	g := &config.SyncGroup{Name: "G", Instances: []string{"a", "b", "c"}}
	cfg := baseConfig(testInstance("a", 1, 100, notify.Config{}), testInstance("b", 2, 100, notify.Config{}),
		testInstance("c", 3, 100, notify.Config{}), testInstance("solo", 4, 100, notify.Config{}))
	cfg.SyncGroups = []*config.SyncGroup{g}
	tr := testTracking(cfg, notify.New(notify.Options{}))
	// The instances are not run: tracking hears of them as their
	// goroutines would tell it.
	insts := map[string]*election.Instance{}
	for _, ic := range cfg.Instances {
		inst, err := election.NewInstance(ic, testSelf, nullNet{}, election.Deps{
			Clock: clock.Real(), Log: slog.New(slog.DiscardHandler), Addrs: nullNet{}, Announcer: nullNet{},
			Drops: &election.DropCounter{}, Observer: tr,
		})
		if err != nil {
			t.Fatal(err)
		}
		insts[ic.Name] = inst
		tr.begin(ic)
	}
	M, B, F, S, I := fsm.Master, fsm.Backup, fsm.Fault, fsm.Stopped, fsm.Init
	tests := []struct {
		a, b, c fsm.State
		want    string
	}{
		{M, M, M, "MASTER"},
		{M, M, B, "BACKUP"},
		{M, M, I, "BACKUP"},
		{M, F, M, "FAULT"},
		{S, F, S, "FAULT"},
		{B, B, B, "BACKUP"},
		{S, S, S, "STOP"},
		{S, S, M, "BACKUP"},
	}
	for _, tt := range tests {
		for name, s := range map[string]fsm.State{"a": tt.a, "b": tt.b, "c": tt.c} {
			tr.Transitioned(insts[name], tr.view(name).state, s, "test")
		}
		if got := tr.groupState(g); got.String() != tt.want {
			t.Errorf("groupState(%v %v %v) = %s, want %s", tt.a, tt.b, tt.c, got, tt.want)
		}
	}

	tr.Transitioned(insts["b"], fsm.Stopped, fsm.Backup, "test")
	tr.YieldingChanged(insts["b"], true)
	for name, want := range map[string]bool{"a": true, "b": false, "c": true, "solo": false} {
		if got := tr.view(name).heldBack; got != want {
			t.Errorf("b yields: held back %s = %t, want %t", name, got, want)
		}
	}
	tr.YieldingChanged(insts["b"], false)
	tr.Transitioned(insts["solo"], fsm.Init, fsm.Backup, "test")
	tr.YieldingChanged(insts["solo"], true)
	for _, name := range []string{"a", "b", "c"} {
		if tr.view(name).heldBack {
			t.Errorf("an instance outside the group yields: %s held back", name)
		}
	}
}

// compute spreads one member's FAULT to the rest of its group, and to
// nothing else.
func TestComputeSpreadsFaultInGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := testInstance("a", 1, 100, notify.Config{}, "chk")
		b := testInstance("b", 2, 120, notify.Config{})
		solo := testInstance("solo", 3, 100, notify.Config{})
		cfg := baseConfig(a, b, solo)
		cfg.Checks = []*config.Check{execCheck("chk", 0)}
		cfg.SyncGroups = []*config.SyncGroup{{Name: "G", Instances: []string{"a", "b"}}}
		h := newTrackHarness(t, cfg, map[string]bool{"chk": true})
		for _, ic := range []*config.Instance{a, b, solo} {
			if r := h.tr.compute(ic); r.Fault {
				t.Fatalf("healthy: %s in FAULT (%s)", ic.Name, r.Reason)
			}
		}
		h.setCheck("chk", false)
		ra, rb, rs := h.tr.compute(a), h.tr.compute(b), h.tr.compute(solo)
		if !ra.Fault || !strings.Contains(ra.Reason, "chk") {
			t.Errorf("a: %+v, want FAULT for chk", ra)
		}
		if !rb.Fault || rb.Reason != "sync group G: member a in FAULT" || rb.Priority != 120 {
			t.Errorf("b: %+v, want FAULT through the group, priority kept", rb)
		}
		if rs.Fault {
			t.Errorf("solo: %+v, want no FAULT", rs)
		}
	})
}
