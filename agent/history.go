package agent

import (
	"context"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/history"
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
)

// This file feeds the node's event history (package history). Most events
// come from the watch hub, which already sees every transition, check
// verdict, membership and order change (tap); the rest from the few
// places that know who asked for something: the API wrapper (API), the
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
	h.hub.publish(&vipdv1.WatchResponse{Time: timestamppb.New(e.Time), Node: e.Node,
		Event: &vipdv1.WatchResponse_History{History: historyProto(e)}})
}

// tap turns the hub's events into history events. It runs on the
// publisher's goroutine (an instance's, for a transition): cheap, no I/O.
// Other nodes' transitions and checks, which the hub also relays, are
// theirs to record.
func (h *nodeHistory) tap(ev *vipdv1.WatchResponse) {
	at := ev.GetTime().AsTime()
	switch e := ev.Event.(type) {
	case *vipdv1.WatchResponse_Instance:
		if ev.Node != h.node {
			return
		}
		ie := e.Instance
		h.mu.Lock()
		prev := h.prio[ie.Name]
		h.prio[ie.Name] = int(ie.Priority)
		h.mu.Unlock()
		h.record(history.Event{Time: at, Kind: history.KindTransition, Instance: ie.Name, Reason: ie.Reason,
			From: stateWord(ie.From), To: stateWord(ie.To), Priority: int(ie.Priority), PrevPriority: prev, Master: ie.MasterAddress})
		if h.observe != nil {
			h.observe(ie.Name, history.Cause(ie.Reason), at)
		}
	case *vipdv1.WatchResponse_Check:
		if ev.Node != h.node {
			return
		}
		ce := e.Check
		h.record(history.Event{Time: at, Kind: history.KindCheck, Check: ce.Name,
			From: checkWord(ce.From), To: checkWord(ce.To), Output: ce.Output})
	case *vipdv1.WatchResponse_Member:
		m := e.Member.GetMember()
		if m.GetName() == h.node || e.Member.PreviousStatus == m.GetStatus() {
			return // a change of metadata only
		}
		var from string
		if e.Member.PreviousStatus != vipdv1.MemberStatus_MEMBER_STATUS_UNSPECIFIED {
			from = memberWord(e.Member.PreviousStatus)
		}
		detail := "member " + m.GetName() + " at " + m.GetAddress()
		if m.GetAvailabilityZone() != "" {
			detail += " in " + m.GetAvailabilityZone()
		}
		h.record(history.Event{Time: at, Kind: history.KindMember, Origin: m.GetName(), From: from, To: memberWord(m.GetStatus()), Detail: detail})
	case *vipdv1.WatchResponse_Order:
		o := e.Order.GetOrder()
		var names []string
		for _, n := range o.GetNodes() {
			if n.Disabled {
				names = append(names, n.Name+" (disabled)")
			} else {
				names = append(names, n.Name)
			}
		}
		h.record(history.Event{Time: at, Kind: history.KindOrder, Instance: o.GetInstance(), Origin: o.GetOrigin(), Version: o.GetVersion(),
			Detail: strings.Join(names, ", ")})
	}
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

// API returns the service to serve: Service, with the commands recorded
// in the history with how they arrived and who asked.
func (a *Agent) API() vipdv1.VipdServiceServer { return &recordingService{Service: a.Service()} }

// recordingService records the API's commands, then runs them.
type recordingService struct{ *Service }

// Failover records a forced failover asked for here.
func (s recordingService) Failover(ctx context.Context, req *vipdv1.FailoverRequest) (*vipdv1.FailoverResponse, error) {
	asked := s.a.clock.Now() // the request comes before its effects
	resp, err := s.Service.Failover(ctx, req)
	if h := s.a.hist.Load(); h != nil {
		via, caller := callerOf(ctx)
		e := history.Event{Time: asked, Kind: history.KindFailover, Instance: req.GetInstance(), Origin: s.a.nodeName, Via: via, Caller: caller,
			To: req.GetTargetNode(), Reason: "failover requested on " + s.a.nodeName}
		if resp != nil {
			e.From, e.To = resp.PreviousMaster, resp.Node
			switch {
			case resp.Forwarded:
				e.Detail = "resign sent to " + resp.PreviousMaster
			case resp.PreviousMaster == "":
				e.Detail = "no master in this node's gossip view: the new order alone moves it"
			}
		}
		if err != nil {
			e.Error = err.Error()
		}
		h.record(e)
	}
	return resp, err
}

// SetMaintenance records who drained or released a node.
func (s recordingService) SetMaintenance(ctx context.Context, req *vipdv1.SetMaintenanceRequest) (*vipdv1.SetMaintenanceResponse, error) {
	h := s.a.hist.Load()
	via, caller := callerOf(ctx)
	by := "API (" + via + ", " + caller + ")"
	local := req.GetNode() == s.a.nodeName
	if h != nil && local {
		h.mu.Lock()
		h.maintBy = by
		h.mu.Unlock()
	}
	asked := s.a.clock.Now()
	resp, err := s.Service.SetMaintenance(ctx, req)
	if h != nil && !local {
		e := history.Event{Time: asked, Kind: history.KindMaintenance, Origin: s.a.nodeName, Via: via, Caller: caller, To: onOff(req.GetEnabled()),
			Reason: "asked " + req.GetNode() + " to turn maintenance " + onOff(req.GetEnabled())}
		if err != nil {
			e.Error = err.Error()
		}
		h.record(e)
	}
	return resp, err
}

// Reload notes who asked for the reload it runs.
func (s recordingService) Reload(ctx context.Context, req *vipdv1.ReloadRequest) (*vipdv1.ReloadResponse, error) {
	if h := s.a.hist.Load(); h != nil {
		via, caller := callerOf(ctx)
		h.mu.Lock()
		h.reloadBy = "API (" + via + ", " + caller + ")"
		h.mu.Unlock()
	}
	return s.Service.Reload(ctx, req)
}

// callerOf says how a call arrived (grpc, http, unix) and who made it, as
// far as the connection tells: a TLS client certificate's name, else the
// peer's address (for HTTP, the address the gateway forwarded).
func callerOf(ctx context.Context) (via, caller string) {
	via, caller = "grpc", "unknown"
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return via, caller
	}
	switch addr := p.Addr.String(); {
	case p.Addr.Network() == "unix" || addr == "@" || addr == "":
		// The socket is served through net/http, whose peer address for
		// a unix socket is "@".
		via, caller = "unix", "local user (unix socket)"
	case p.Addr.Network() == "bufconn":
		via = "http"
		md, _ := metadata.FromIncomingContext(ctx)
		if f := md.Get("x-forwarded-for"); len(f) > 0 && f[0] != "@" {
			caller = f[0]
		} else {
			caller = "local user (unix socket)"
		}
	default:
		caller = p.Addr.String()
	}
	if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
		caller = certName(ti.State.PeerCertificates[0]) + " (" + caller + ")"
	}
	return via, caller
}

func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return c.Subject.String()
}

// stateWord, checkWord and memberWord are the words history uses: the
// VRRP states as keepalived writes them, check verdicts, gossip statuses.
func stateWord(s vipdv1.InstanceState) string {
	if s == vipdv1.InstanceState_INSTANCE_STATE_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(s.String(), "INSTANCE_STATE_")
}

func checkWord(s vipdv1.CheckState) string {
	if s == vipdv1.CheckState_CHECK_STATE_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(s.String(), "CHECK_STATE_")
}

func memberWord(s vipdv1.MemberStatus) string {
	if s == vipdv1.MemberStatus_MEMBER_STATUS_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "MEMBER_STATUS_"))
}

// historyProto is an event as the API shows it.
func historyProto(e history.Event) *vipdv1.HistoryEvent {
	out := &vipdv1.HistoryEvent{
		Node: e.Node, Seq: e.Seq, Time: timestamppb.New(e.Time), Kind: string(e.Kind), Instance: e.Instance,
		Reason: e.Reason, From: e.From, To: e.To, Priority: uint32(max(e.Priority, 0)), PreviousPriority: uint32(max(e.PrevPriority, 0)),
		Master: e.Master, Check: e.Check, Output: e.Output, Origin: e.Origin, Version: e.Version, Via: e.Via, Caller: e.Caller,
		Error: e.Error, Detail: e.Detail,
	}
	if e.Kind == history.KindTransition {
		out.Cause = history.Cause(e.Reason)
	}
	if e.Duration != 0 {
		out.Duration = durationpb.New(e.Duration)
	}
	return out
}

// setTap sets (or, with nil, clears) the function that sees every event
// the hub publishes, before the watchers.
func (h *hub) setTap(f func(*vipdv1.WatchResponse)) {
	if f == nil {
		h.tap.Store(nil)
		return
	}
	h.tap.Store(&f)
}
