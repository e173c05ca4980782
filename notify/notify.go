package notify

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/internal/proc"
)

// Type says what an event is about; its value is the TYPE argument of
// notify and VIPD_TYPE.
type Type string

// Event types.
const (
	TypeInstance Type = "INSTANCE"
	TypeGroup    Type = "GROUP"
)

// Defaults for zero Options fields and a zero Config.Timeout.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultQueueLen     = 128
	DefaultDrainTimeout = 10 * time.Second
	// DefaultPath is the scripts' PATH when vipd has none of its own.
	DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Event is one thing to tell the scripts about: a state change of an
// instance or sync group, or (RxLowerPri) a master hearing a lower-priority
// advert.
type Event struct {
	// Type is TypeInstance or TypeGroup; empty means TypeInstance.
	Type Type
	// Name is the instance's or group's name.
	Name string
	// State is the new state: fsm.Master, Backup, Fault or Stopped; scripts
	// get its String ("MASTER", "BACKUP", "FAULT", "STOP"). For RxLowerPri
	// it is the current state.
	State fsm.State
	// PrevState is the state left, for VIPD_PREV_STATE (fsm.Init: none).
	PrevState fsm.State
	// Priority is the effective priority. The notify script of a group
	// gets 0 as its PRIORITY argument whatever this says, as keepalived
	// passes 0 for groups; VIPD_PRIORITY carries this value.
	Priority uint8
	// Reason says why, for VIPD_REASON.
	Reason string
	// FailedChecks names the tracked checks failing, for
	// VIPD_FAILED_CHECKS (comma-separated).
	FailedChecks []string
	// Node is this node's name, for VIPD_NODE.
	Node string
	// RxLowerPri marks the event of a master that heard a lower-priority
	// advert: only notify_master_rx_lower_pri runs, with no added
	// arguments, as in keepalived.
	RxLowerPri bool
}

// Options configures a Notifier. The zero value works.
type Options struct {
	// Log receives a record per failed script, timeout and dropped event
	// (Warn) and per successful script (Debug). Nil discards.
	Log *slog.Logger
	// User and Group run every script that names no user of its own
	// (keepalived's script_user; a script's own is Config.RunAs);
	// empty means the user vipd runs as.
	User, Group string
	// QueueLen bounds the events waiting to run, over all sources; more
	// are dropped. Zero means DefaultQueueLen.
	QueueLen int
	// DrainTimeout bounds how long Run keeps running queued and in-flight
	// scripts once its context is done (the notify_stop scripts of a
	// shutdown come then); after it, in-flight scripts are killed and the
	// rest dropped. Zero means DefaultDrainTimeout.
	DrainTimeout time.Duration
	// OnRun, if set, is told about every script run: its keepalived hook
	// name (notify_master...), how long it took and, if it failed, why
	// (metrics). It runs on the notifier's goroutine and must not block.
	OnRun func(hook string, d time.Duration, err error)

	// run replaces proc.Run in tests.
	run func(context.Context, proc.Spec) proc.Result
}

// Stats counts what a Notifier did.
type Stats struct {
	Runs     uint64 // scripts run (started or attempted)
	Failures uint64 // runs that did not exit 0, timeouts included
	Timeouts uint64 // runs killed at their timeout
	Dropped  uint64 // events dropped: queue full, or Run finished
}

// Notifier runs notify scripts off the caller's goroutine. Notify is safe
// for concurrent use and never blocks; Run owns the workers.
type Notifier struct {
	log          *slog.Logger
	user, group  string
	queueLen     int
	drainTimeout time.Duration
	path         string
	run          func(context.Context, proc.Spec) proc.Result
	onRun        func(hook string, d time.Duration, err error)

	mu      sync.Mutex
	phase   phase
	sources map[Source]*queue
	pending int             // events queued and not yet begun, all sources
	ctx     context.Context // scripts' parent context, set by Run
	wg      sync.WaitGroup  // workers

	runs, failures, timeouts, dropped atomic.Uint64
}

type phase uint8

const (
	idle    phase = iota // before Run: events queue up
	running              // Run active: workers start on demand
	closed               // Run's context done: no new events
)

// Source identifies a stream of events whose scripts run in order: an
// instance or a sync group (Event.Type and Event.Name).
type Source struct {
	Type Type
	Name string
}

// queue is one source's pending events; busy while a worker owns it.
type queue struct {
	jobs []job
	busy bool
	// tail is closed once the last job queued has run (or was dropped):
	// what a later event of another source waits for (NotifyAfter).
	tail chan struct{}
}

type job struct {
	scripts Config
	ev      Event
	done    chan struct{}   // closed once the job has run or was dropped
	after   []chan struct{} // jobs of other sources to wait for first
}

// New returns a Notifier; call Run to start running scripts. Events
// notified before Run wait in the queue.
func New(opts Options) *Notifier {
	n := &Notifier{
		log:          opts.Log,
		user:         opts.User,
		group:        opts.Group,
		queueLen:     opts.QueueLen,
		drainTimeout: opts.DrainTimeout,
		path:         os.Getenv("PATH"),
		run:          opts.run,
		onRun:        opts.OnRun,
		sources:      map[Source]*queue{},
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.queueLen <= 0 {
		n.queueLen = DefaultQueueLen
	}
	if n.drainTimeout <= 0 {
		n.drainTimeout = DefaultDrainTimeout
	}
	if n.path == "" {
		n.path = DefaultPath
	}
	if n.run == nil {
		n.run = proc.Run
	}
	return n
}

// Notify queues the scripts for ev and returns at once. Events of one
// source (Type and Name) run in the order notified. With no script to run
// for ev it does nothing; with the queue full, or once Run has finished, it
// drops ev, counts it and logs it.
func (n *Notifier) Notify(scripts Config, ev Event) {
	n.NotifyAfter(scripts, ev)
}

// NotifyAfter is Notify, except that ev's scripts start only once every
// event already queued for the sources in after has finished its scripts.
// A sync group's state follows from its members' transitions, so its
// scripts wait for those of the member events queued before it, as
// keepalived starts a group's notify after the instance's that caused it
// (and, at shutdown, every instance's STOP before the groups'). Waiting
// on a source with nothing queued or running costs nothing.
func (n *Notifier) NotifyAfter(scripts Config, ev Event, after ...Source) {
	if ev.Type == "" {
		ev.Type = TypeInstance
	}
	if !hasWork(scripts, ev) {
		return
	}
	// Own copies: the caller may reuse its slices.
	ev.FailedChecks = slices.Clone(ev.FailedChecks)
	scripts = cloneScripts(scripts)

	n.mu.Lock()
	if n.phase == closed || n.pending >= n.queueLen {
		why := "queue full"
		if n.phase == closed {
			why = "notifier stopped"
		}
		n.mu.Unlock()
		n.drop(ev, why)
		return
	}
	key := Source{ev.Type, ev.Name}
	j := job{scripts: scripts, ev: ev, done: make(chan struct{})}
	for _, src := range after {
		if src.Type == "" {
			src.Type = TypeInstance
		}
		if dq := n.sources[src]; dq != nil && src != key {
			j.after = append(j.after, dq.tail)
		}
	}
	q := n.sources[key]
	if q == nil {
		q = &queue{}
		n.sources[key] = q
	}
	q.jobs = append(q.jobs, j)
	q.tail = j.done
	n.pending++
	if n.phase == running && !q.busy {
		n.startLocked(key, q)
	}
	n.mu.Unlock()
}

// Run runs scripts until ctx is done. It then accepts no more events but
// lets queued and in-flight scripts finish, for at most DrainTimeout, kills
// what still runs, and returns once every worker has ended. Calling Run a
// second time returns at once.
func (n *Notifier) Run(ctx context.Context) {
	// Scripts outlive ctx for the drain; cancel ends them.
	scriptCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	n.mu.Lock()
	if n.phase != idle {
		n.mu.Unlock()
		return
	}
	n.phase = running
	n.ctx = scriptCtx
	for key, q := range n.sources {
		if !q.busy {
			n.startLocked(key, q)
		}
	}
	n.mu.Unlock()

	<-ctx.Done()
	n.mu.Lock()
	n.phase = closed
	n.mu.Unlock()

	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	drain := time.NewTimer(n.drainTimeout)
	defer drain.Stop()
	select {
	case <-done:
	case <-drain.C:
		n.log.Warn("notify: drain timeout: killing running scripts, dropping queued events", "timeout", n.drainTimeout)
		cancel()
		<-done
	}
}

// Stats returns the counters so far.
func (n *Notifier) Stats() Stats {
	return Stats{
		Runs:     n.runs.Load(),
		Failures: n.failures.Load(),
		Timeouts: n.timeouts.Load(),
		Dropped:  n.dropped.Load(),
	}
}

// Dropped returns how many events were dropped.
func (n *Notifier) Dropped() uint64 { return n.dropped.Load() }

// startLocked starts the worker of a source; n.mu is held.
func (n *Notifier) startLocked(key Source, q *queue) {
	q.busy = true
	n.wg.Add(1)
	go n.work(key, q)
}

// work runs a source's events one after the other until its queue is
// empty, then retires; the next Notify for the source starts a new worker.
func (n *Notifier) work(key Source, q *queue) {
	defer n.wg.Done()
	for {
		n.mu.Lock()
		if len(q.jobs) == 0 {
			q.busy = false
			delete(n.sources, key)
			n.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs[0] = job{}
		q.jobs = q.jobs[1:]
		n.pending--
		ctx := n.ctx
		n.mu.Unlock()

		if !waitAll(ctx, j.after) || ctx.Err() != nil {
			n.drop(j.ev, "drain timeout")
			close(j.done)
			continue
		}
		n.runJob(ctx, j)
		close(j.done)
	}
}

// waitAll waits until every channel of chs is closed, or ctx is done
// (false).
func waitAll(ctx context.Context, chs []chan struct{}) bool {
	for _, ch := range chs {
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// runJob runs an event's scripts in keepalived's order: the state's own
// script, then notify.
func (n *Notifier) runJob(ctx context.Context, j job) {
	ev, s := j.ev, &j.scripts
	env := n.env(ev)
	if ev.RxLowerPri {
		n.runScript(ctx, s, ScriptMasterRxLowerPri, s.MasterRxLowerPri, env, ev)
		return
	}
	if e, ok := stateEvent(ev.State); ok && len(s.Command(e)) > 0 {
		n.runScript(ctx, s, e, s.Command(e), env, ev)
	}
	if len(s.Any) > 0 {
		prio := strconv.Itoa(int(ev.Priority))
		if ev.Type == TypeGroup {
			prio = "0"
		}
		argv := append(slices.Clip(s.Any), string(ev.Type), ev.Name, ev.State.String(), prio)
		n.runScript(ctx, s, ScriptAny, argv, env, ev)
	}
}

// runScript runs argv, the script of s for e, as e's user.
func (n *Notifier) runScript(ctx context.Context, s *Config, e Script, argv, env []string, ev Event) {
	hook := e.KeepalivedKeyword()
	if ctx.Err() != nil {
		// The drain timed out between an event's two scripts.
		n.log.Warn("notify: script not run: drain timeout", "type", string(ev.Type), "name", ev.Name, "state", ev.State.String(), "script", hook)
		return
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	usr, grp := n.runAs(s, e)
	r := n.run(ctx, proc.Spec{Argv: argv, Env: env, User: usr, Group: grp})
	n.runs.Add(1)
	attrs := []any{"type", string(ev.Type), "name", ev.Name, "state", ev.State.String(), "script", hook, "argv", argv,
		"exit", r.ExitCode, "duration", r.Duration}
	switch {
	case r.TimedOut:
		n.timeouts.Add(1)
		n.failures.Add(1)
		n.log.Warn("notify: script timed out and was killed", append(attrs, "timeout", timeout, "output", r.Output)...)
	case r.Err != nil:
		n.failures.Add(1)
		n.log.Warn("notify: script failed to run", append(attrs, "err", r.Err, "output", r.Output)...)
	case r.ExitCode != 0:
		n.failures.Add(1)
		n.log.Warn("notify: script failed", append(attrs, "output", r.Output)...)
	default:
		n.log.Debug("notify: script ran", attrs...)
	}
	if n.onRun != nil {
		var err error
		switch {
		case r.TimedOut:
			err = fmt.Errorf("timed out after %v", timeout)
		case r.Err != nil:
			err = r.Err
		case r.ExitCode != 0:
			err = fmt.Errorf("exit status %d", r.ExitCode)
		}
		n.onRun(hook, r.Duration, err)
	}
}

// runAs returns the user and group of e's script: its own when it names
// a user (keepalived's `notify_master "CMD" USER [GROUP]`, where no group
// means the user's primary group), else the Notifier's.
func (n *Notifier) runAs(s *Config, e Script) (usr, grp string) {
	if u := s.User(e); u.User != "" {
		return u.User, u.Group
	}
	return n.user, n.group
}

func (n *Notifier) drop(ev Event, why string) {
	n.dropped.Add(1)
	n.log.Warn("notify: event dropped", "why", why, "type", string(ev.Type), "name", ev.Name, "state", ev.State.String(),
		"rx_lower_pri", ev.RxLowerPri)
}

// env is the scripts' whole environment: PATH and the event. Nothing else
// of vipd's environment leaks into them.
func (n *Notifier) env(ev Event) []string {
	return []string{
		"PATH=" + n.path,
		"VIPD_TYPE=" + clean(string(ev.Type)),
		"VIPD_NAME=" + clean(ev.Name),
		"VIPD_STATE=" + ev.State.String(),
		"VIPD_PREV_STATE=" + ev.PrevState.String(),
		"VIPD_PRIORITY=" + strconv.Itoa(int(ev.Priority)),
		"VIPD_REASON=" + clean(ev.Reason),
		"VIPD_FAILED_CHECKS=" + clean(strings.Join(ev.FailedChecks, ",")),
		"VIPD_NODE=" + clean(ev.Node),
	}
}

// clean removes NUL bytes, which an environment cannot hold (exec would
// refuse to start the script).
func clean(s string) string { return strings.ReplaceAll(s, "\x00", "") }

// stateEvent returns the script event of entering state; states without
// a script of their own (Init, unknown ones) have none.
func stateEvent(state fsm.State) (Script, bool) {
	switch state {
	case fsm.Master:
		return ScriptMaster, true
	case fsm.Backup:
		return ScriptBackup, true
	case fsm.Fault:
		return ScriptFault, true
	case fsm.Stopped:
		return ScriptStop, true
	}
	return "", false
}

func hasWork(s Config, ev Event) bool {
	if ev.RxLowerPri {
		return len(s.MasterRxLowerPri) > 0
	}
	e, ok := stateEvent(ev.State)
	return (ok && len(s.Command(e)) > 0) || len(s.Any) > 0
}

// cloneScripts copies what the caller might reuse: every argv and the
// users.
func cloneScripts(s Config) Config {
	s.Any = slices.Clone(s.Any)
	s.Master = slices.Clone(s.Master)
	s.Backup = slices.Clone(s.Backup)
	s.Fault = slices.Clone(s.Fault)
	s.Stop = slices.Clone(s.Stop)
	s.MasterRxLowerPri = slices.Clone(s.MasterRxLowerPri)
	s.RunAs = maps.Clone(s.RunAs)
	return s
}
