package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
)

// This file feeds the node's event history (package history). Most events
// come from the watch hub, which already sees every transition, check
// verdict, membership and order change (tap); the rest from the few
// places that know who asked for something: the API's commands (api.go), the
// commands from other nodes (noteCommand), reloads, cloud actions and
// the guard and maintenance state compared at every sync (observe).
// Recording never waits on the disk: a transition costs a mutex and an
// append (history.Recorder.Record).

// nodeHistory is the agent's side of the history.
type nodeHistory struct {
	rec     *history.Recorder
	hub     *hub
	node    string
	observe func(instance, cause string, at time.Time) // metrics, or nil

	mu       sync.Mutex
	prio     map[string]int    // each instance's priority at its last transition
	applied  map[string]string // each instance's priority verdict last seen (observe)
	guard    map[string]string // the guard's holds last seen (observe)
	maint    bool              // maintenance last seen
	observed bool              // observe ran once: later changes are not the start's
	maintBy  string            // who asked for the next maintenance change
	reloadBy string            // who asked for the next reload
}

// startHistory opens the log (or keeps the history in memory when there
// is no directory or it cannot be opened: a history problem never stops
// the agent) and starts its writer; the returned stop flushes and closes.
func (a *Agent) startHistory(cfg *config.Config) (stop func()) {
	var disk *history.Log
	if dir := cfg.HistoryDir(); dir != "" {
		var err error
		disk, err = history.Open(dir, cfg.History.Limits, a.clock)
		switch {
		case err != nil:
			a.log.Error("history: cannot open the log; keeping events in memory only", "dir", dir, "err", err)
		case disk.Skipped > 0:
			a.log.Warn("history: skipped a torn or corrupt end of the log", "dir", dir, "bytes", disk.Skipped)
		}
	}
	h := &nodeHistory{
		rec: history.NewRecorder(cfg.Node.Name, disk, a.clock, a.log), hub: a.events, node: cfg.Node.Name,
		prio: map[string]int{}, guard: map[string]string{}, applied: map[string]string{},
	}
	if a.metrics != nil {
		h.observe = a.metrics.ObserveTransitionCause
	}
	a.hist.Store(h)
	a.events.setTap(h.tap)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); h.rec.Run(ctx) }()
	return func() {
		a.events.setTap(nil)
		cancel()
		<-done
	}
}

// record keeps an event and streams it to the watchers that asked for
// history events.
func (h *nodeHistory) record(e history.Event) {
	e = h.rec.Record(e)
	h.hub.publish(Event{Time: e.Time, Node: e.Node, History: &e})
}

// tap turns the hub's events into history events. It runs on the
// publisher's goroutine (an instance's, for a transition): cheap, no I/O.
// Other nodes' transitions and checks, which the hub also relays, are
// theirs to record.
func (h *nodeHistory) tap(ev Event) {
	at := ev.Time.Round(0).UTC() // an instant, as the log and the API keep it
	switch {
	case ev.Instance != nil:
		if ev.Node != h.node {
			return
		}
		ie := ev.Instance
		h.mu.Lock()
		prev := h.prio[ie.Name]
		h.prio[ie.Name] = int(ie.Priority)
		h.mu.Unlock()
		h.record(history.Event{Time: at, Kind: history.KindTransition, Instance: ie.Name, Reason: ie.Reason,
			From: stateWord(ie.From), To: stateWord(ie.To), Priority: int(ie.Priority), PrevPriority: prev, Master: addrString(ie.Master)})
		if h.observe != nil {
			h.observe(ie.Name, history.Cause(ie.Reason), at)
		}
	case ev.Check != nil:
		if ev.Node != h.node {
			return
		}
		ce := ev.Check
		h.record(history.Event{Time: at, Kind: history.KindCheck, Check: ce.Name,
			From: checkWord(ce.From), To: checkWord(ce.To), Output: ce.Output})
	case ev.Member != nil:
		m := ev.Member.Member
		from, to := memberWord(ev.Member.Previous), memberWord(m.Status)
		if m.Name == h.node || from == to {
			return // a change of metadata only
		}
		detail := "member " + m.Name + " at " + addrPortString(m)
		if m.Meta.AZ != "" {
			detail += " in " + m.Meta.AZ
		}
		h.record(history.Event{Time: at, Kind: history.KindMember, Origin: m.Name, From: from, To: to, Detail: detail})
	case ev.Order != nil:
		o := ev.Order
		var names []string
		for _, n := range o.Nodes {
			if n.Disabled {
				names = append(names, n.Name+" (disabled)")
			} else {
				names = append(names, n.Name)
			}
		}
		h.record(history.Event{Time: at, Kind: history.KindOrder, Instance: o.Instance, Origin: o.Origin, Version: o.Version,
			Detail: strings.Join(names, ", ")})
	}
}

// addrPortString is a member's gossip address, empty when it has none
// (this node without gossip).
func addrPortString(m gossip.Member) string {
	if !m.Addr.IsValid() {
		return ""
	}
	return m.Addr.String()
}

// observeHistory compares the split-brain guard's holds and the
// maintenance flag with what it saw last (runs on the agent's goroutine,
// at every sync), and records the changes.
func (a *Agent) observeHistory() {
	h := a.hist.Load()
	if h == nil || a.track == nil {
		return
	}
	t := a.track
	guard := t.guards()
	maint := t.maintenance()
	type verdict struct {
		prio  int
		fault bool
		why   string
	}
	results := map[string]verdict{}
	for name := range a.running {
		if v := t.view(name); v.computed {
			res := v.result
			results[name] = verdict{int(res.Priority), res.Fault, res.Reason}
		}
	}

	h.mu.Lock()
	var evs []history.Event
	for name, why := range guard {
		if h.guard[name] != why {
			evs = append(evs, history.Event{Kind: history.KindGuard, Instance: name, From: "released", To: "held", Reason: why})
		}
	}
	for name := range h.guard {
		if _, still := guard[name]; !still {
			evs = append(evs, history.Event{Kind: history.KindGuard, Instance: name, From: "held", To: "released",
				Reason: "split-brain guard released: no better master left unheard"})
		}
	}
	h.guard = guard
	// Priority changes: what moved it (checks and weights, an order), so
	// that the transitions that follow have their cause in the story.
	for name, v := range results {
		key := fmt.Sprintf("%d/%v/%s", v.prio, v.fault, v.why)
		prev, known := h.applied[name]
		h.applied[name] = key
		if !known || prev == key {
			continue
		}
		var before int
		fmt.Sscanf(prev, "%d/", &before)
		e := history.Event{Kind: history.KindPriority, Instance: name, PrevPriority: before, Priority: v.prio, Reason: v.why}
		if e.Reason == "" {
			e.Reason = "no check moves it"
		}
		if v.fault {
			e.To = "FAULT"
		}
		evs = append(evs, e)
	}
	for name := range h.applied {
		if _, ok := results[name]; !ok {
			delete(h.applied, name)
		}
	}
	if maint != h.maint {
		by := h.maintBy
		switch {
		case by != "":
		case !h.observed:
			by = "state file at start"
		default:
			by = "requested on this node (not recorded how)"
		}
		evs = append(evs, history.Event{Kind: history.KindMaintenance, From: onOff(h.maint), To: onOff(maint), Reason: by})
		h.maint, h.maintBy = maint, ""
	}
	h.observed = true
	h.mu.Unlock()
	slices.SortFunc(evs, func(x, y history.Event) int { return strings.Compare(x.Instance, y.Instance) })
	for _, e := range evs {
		h.record(e)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// noteCommand records a command another node sent this one (called on
// the agent's goroutine before it is carried out).
func (a *Agent) noteCommand(cmd gossip.Command) {
	h := a.hist.Load()
	if h == nil {
		return
	}
	switch cmd.Kind {
	case gossip.CommandResign:
		e := history.Event{Kind: history.KindFailover, Instance: cmd.Instance, Origin: cmd.From, Via: "gossip",
			Reason: "failover requested on " + cmd.From + ": resign"}
		if cmd.Order != nil && len(cmd.Order.Nodes) > 0 {
			e.To, e.Version = cmd.Order.Nodes[0].Name, cmd.Order.Version
		}
		h.record(e)
	case gossip.CommandMaintenance:
		h.mu.Lock()
		h.maintBy = "command from " + cmd.From + " (gossip)"
		h.mu.Unlock()
	}
}

// noteReload records a reload's outcome (on the agent's goroutine).
func (a *Agent) noteReload(res ReloadResult, err error) {
	h := a.hist.Load()
	if h == nil {
		return
	}
	h.mu.Lock()
	by := h.reloadBy
	h.reloadBy = ""
	h.mu.Unlock()
	if by == "" {
		by = "SIGHUP"
	}
	var parts []string
	for _, p := range []struct {
		what  string
		names []string
	}{{"added", res.Added}, {"removed", res.Removed}, {"restarted", res.Changed}} {
		if len(p.names) > 0 {
			parts = append(parts, p.what+" "+strings.Join(p.names, ", "))
		}
	}
	e := history.Event{Kind: history.KindReload, Reason: by, Detail: strings.Join(parts, "; ")}
	if e.Detail == "" {
		e.Detail = "no instance changed"
	}
	if err != nil {
		e.Error = err.Error()
	}
	h.record(e)
	for _, name := range res.Removed {
		if a.metrics != nil {
			a.metrics.ForgetTransitions(name)
		}
	}
}

// cloudObserver wraps the cloud actions' metrics callback so that each
// action's outcome is recorded too. owner is "instance:NAME" or
// "sync_group:NAME".
func (a *Agent) cloudObserver(next func(owner, op string, d time.Duration, err error)) func(string, string, time.Duration, error) {
	return func(owner, op string, d time.Duration, err error) {
		if next != nil {
			next(owner, op, d, err)
		}
		h := a.hist.Load()
		if h == nil {
			return
		}
		e := history.Event{Kind: history.KindCloud, Duration: d, Detail: op + " for " + owner}
		if kind, name, ok := strings.Cut(owner, ":"); ok && kind == "instance" {
			e.Instance = name
		}
		if err != nil {
			e.Error = err.Error()
		}
		h.record(e)
	}
}

// noteFailover records a forced failover asked for here: asked is when
// the request came (before its effects), res what it did if err is nil.
func (a *Agent) noteFailover(asked time.Time, req FailoverRequest, res FailoverResult, err error) {
	h := a.hist.Load()
	if h == nil {
		return
	}
	e := history.Event{Time: asked, Kind: history.KindFailover, Instance: req.Instance, Origin: a.nodeName, Via: req.Caller.Via,
		Caller: req.Caller.Name, To: req.Target, Reason: "failover requested on " + a.nodeName}
	if err == nil {
		e.From, e.To = res.PreviousMaster, res.Node
		switch {
		case res.Forwarded:
			e.Detail = "resign sent to " + res.PreviousMaster
		case res.PreviousMaster == "":
			e.Detail = "no master in this node's gossip view: the new order alone moves it"
		}
	} else {
		e.Error = err.Error()
	}
	h.record(e)
}

// maintenanceAsked notes who asks to drain or release this node, for the
// event the next sync records (observeHistory); it returns when the
// request came.
func (a *Agent) maintenanceAsked(req MaintenanceRequest) time.Time {
	if h := a.hist.Load(); h != nil && req.Node == a.nodeName {
		h.mu.Lock()
		h.maintBy = "API (" + req.Caller.Via + ", " + req.Caller.Name + ")"
		h.mu.Unlock()
	}
	return a.clock.Now()
}

// noteMaintenance records a request to drain or release another node
// (this node's own change is recorded when the sync sees it).
func (a *Agent) noteMaintenance(asked time.Time, req MaintenanceRequest, err error) {
	h := a.hist.Load()
	if h == nil || req.Node == a.nodeName {
		return
	}
	e := history.Event{Time: asked, Kind: history.KindMaintenance, Origin: a.nodeName, Via: req.Caller.Via, Caller: req.Caller.Name,
		To: onOff(req.Enabled), Reason: "asked " + req.Node + " to turn maintenance " + onOff(req.Enabled)}
	if err != nil {
		e.Error = err.Error()
	}
	h.record(e)
}

// reloadAsked notes who asked for the reload about to run.
func (a *Agent) reloadAsked(by Caller) {
	if h := a.hist.Load(); h != nil {
		h.mu.Lock()
		h.reloadBy = "API (" + by.Via + ", " + by.Name + ")"
		h.mu.Unlock()
	}
}

// stateWord, checkWord and memberWord are the words history uses, which
// its readers (and the API's events) carry: the VRRP states as keepalived
// writes them, check verdicts in capitals, gossip statuses; empty for a
// state not known. Spelled out here, not taken from String methods, so
// that renaming a state elsewhere cannot change what is recorded.
func stateWord(s fsm.State) string { return stateWords[s] }

func checkWord(s checks.State) string { return checkWords[s] }

var (
	stateWords = map[fsm.State]string{fsm.Init: "INIT", fsm.Backup: "BACKUP", fsm.Master: "MASTER", fsm.Fault: "FAULT", fsm.Stopped: "STOP"}
	checkWords = map[checks.State]string{checks.StateInit: "INIT", checks.StateHealthy: "HEALTHY", checks.StateFailed: "FAILED"}
)

func memberWord(s string) string {
	switch s {
	case gossip.StatusAlive, gossip.StatusSuspect, gossip.StatusDead, gossip.StatusLeft:
		return s
	}
	return ""
}
