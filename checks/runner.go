package checks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// RecheckInterval is the longest a watched check (see Watcher) goes
// without a run while its state stands: a safety re-read in case a
// notification was lost. Notifications, not this, are how it sees a change.
const RecheckInterval = 5 * time.Second

// ErrRunnerStarted is returned by Run when the Runner has run before.
var ErrRunnerStarted = errors.New("checks: runner already started")

// State is what a Runner currently concludes about its check.
type State uint8

const (
	// StateInit means no run has finished yet (keepalived's
	// SCRIPT_INIT_STATE_INIT): the priority code neither adds nor
	// subtracts the check's weight, and a weight-0 check holds the
	// instance in INIT.
	StateInit State = iota
	// StateHealthy means the check passes.
	StateHealthy
	// StateFailed means the check fails.
	StateFailed
)

// String returns "init", "healthy" or "failed".
func (s State) String() string {
	switch s {
	case StateInit:
		return "init"
	case StateHealthy:
		return "healthy"
	case StateFailed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// MarshalText makes a State readable in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Status is a snapshot of a Runner, for the priority code and the API.
type Status struct {
	// Name and Kind identify the check.
	Name string
	Kind Kind
	// State is the current verdict.
	State State
	// Healthy is State == StateHealthy.
	Healthy bool
	// Value is the last value read by a file check; 0 for other kinds.
	Value int
	// Since is when State last changed (the start of Run at first).
	Since time.Time
	// LastRun is when the latest finished run started; zero before any.
	LastRun time.Time
	// LastResult is that run's result, its Duration measured on the
	// Runner's clock.
	LastResult Result
	// Runs counts finished runs, Failures the failed ones among them.
	Runs, Failures uint64
	// Consecutive counts the latest results in a row that agree with the
	// last one: the progress towards Rise or Fall.
	Consecutive int
	// Transitions counts changes of State.
	Transitions uint64
}

// RunnerOptions are a Runner's collaborators.
type RunnerOptions struct {
	// Clock schedules the runs and stamps them; nil means clock.Real().
	Clock clock.Clock
	// OnChange, if set, is called on the Runner's goroutine with the new
	// Status whenever State changes and, for file checks, whenever the
	// value changes. It must not block: hand the status over and return
	// (Changes.Publish does that).
	OnChange func(Status)
	// OnRun, if set, is called on the Runner's goroutine after every
	// finished run (metrics: run durations and failures). It must not
	// block.
	OnRun func(Status)
	// Logger receives state changes; nil discards them.
	Logger *slog.Logger
	// Timers, if set, paces the runs instead of Clock's timers: the
	// Scheduler the VRRP instances share, on the same clock, so that a
	// watched check's safety re-read rides a wake-up the scheduler makes
	// anyway (an advert) instead of costing one of its own.
	Timers *clock.Scheduler
}

// Runner runs one check on its schedule with keepalived's vrrp_script
// semantics:
//
//   - the first run starts as soon as Run is called; each next run starts
//     Interval after the previous one started, or as soon as it ended if it
//     took longer: runs never overlap;
//   - a Watcher's check (an interface) runs like that only while a fall
//     or rise is under way; otherwise its next run starts when the kernel
//     says something changed, or RecheckInterval (or Interval, if longer)
//     after the previous one as a safety re-read, so an idle check costs
//     no wake-ups;
//   - a run gets Timeout (default: the interval) through its context; one
//     that is still going then fails with ErrTimeout;
//   - starting in StateInit, or StateFailed with InitFail, the first
//     result decides from StateInit; then Fall failures in a row make a
//     healthy check failed and Rise successes in a row a failed one
//     healthy, while shorter runs of either change nothing. File checks
//     have no rise or fall: each result applies at once.
//
// Timeouts are enforced through the context's deadline, that is by the
// runtime's timers (which testing/synctest fakes), except for a Watcher's
// probes, which do not wait and are judged by their duration; the Clock
// schedules runs and measures them. A Runner is the caller's Run and, for
// a Watcher, the watch's goroutines, which Run waits for; Status is safe
// to call from any goroutine.
type Runner struct {
	name     string
	kind     Kind
	interval time.Duration
	timeout  time.Duration
	fall     int
	rise     int

	prober   Prober
	clk      clock.Clock
	timers   *clock.Scheduler
	onChange func(Status)
	onRun    func(Status)
	log      *slog.Logger
	started  atomic.Bool

	mu sync.Mutex
	st Status
}

// NewRunner returns a Runner for check c probed by p. Zero Interval,
// Timeout, Fall and Rise take their defaults (1 s, the interval, 1, 1);
// negative ones are a *ConfigError.
func NewRunner(c *Config, p Prober, opts RunnerOptions) (*Runner, error) {
	if c == nil || p == nil {
		return nil, &ConfigError{Field: "Check", Err: errors.New("nil check or prober")}
	}
	cfgErr := func(field string, format string, args ...any) error {
		return &ConfigError{Check: c.Name, Kind: c.Kind, Field: field, Err: fmt.Errorf(format, args...)}
	}
	switch {
	case c.Interval < 0:
		return nil, cfgErr("interval", "negative (%s)", c.Interval)
	case c.Timeout < 0:
		return nil, cfgErr("timeout", "negative (%s)", c.Timeout)
	case c.Fall < 0:
		return nil, cfgErr("fall", "negative (%d)", c.Fall)
	case c.Rise < 0:
		return nil, cfgErr("rise", "negative (%d)", c.Rise)
	}
	r := &Runner{
		name: c.Name, kind: c.Kind,
		interval: c.Interval, timeout: c.Timeout, fall: c.Fall, rise: c.Rise,
		prober: p, clk: opts.Clock, timers: opts.Timers, onChange: opts.OnChange, onRun: opts.OnRun, log: opts.Logger,
	}
	if r.interval == 0 {
		r.interval = DefaultInterval
	}
	if r.timeout == 0 {
		r.timeout = r.interval
	}
	r.fall, r.rise = max(r.fall, DefaultFall), max(r.rise, DefaultRise)
	if r.clk == nil {
		r.clk = clock.Real()
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.st = Status{Name: c.Name, Kind: c.Kind, State: StateInit}
	if c.InitFail {
		r.st.State = StateFailed
	}
	return r, nil
}

// Status returns the current snapshot.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

// Run probes on schedule until ctx is done, then returns nil. A run cut
// short by ctx is not counted. Run may be called once; a second call
// returns ErrRunnerStarted.
func (r *Runner) Run(ctx context.Context) error {
	if !r.started.CompareAndSwap(false, true) {
		return ErrRunnerStarted
	}
	r.mu.Lock()
	r.st.Since = r.clk.Now()
	r.mu.Unlock()

	changes, unwatch := r.watch(ctx)
	defer unwatch()
	pace := clock.NewPacer(r.clk, r.timers)
	defer pace.Close()
	for {
		start := r.clk.Now()
		res, ok := r.runOnce(ctx)
		if !ok {
			return nil
		}
		end := r.clk.Now()
		res.Duration = end.Sub(start)
		r.record(res, start, end)

		// While a fall or rise is under way the runs follow the interval,
		// so that fall × interval keeps its meaning however many
		// notifications a flapping link sends; once the state agrees with
		// the last result, a watched check waits for the kernel's word.
		gap, events := r.interval, (<-chan struct{})(nil)
		if changes != nil && r.settled() {
			gap, events = max(r.interval, RecheckInterval), changes
		}
		at := start.Add(gap)
		if !at.After(end) {
			if ctx.Err() != nil {
				return nil
			}
			continue
		}
		// The safety re-read may come early, in the last quarter of its
		// gap, with another alarm's wake-up (with 1 s adverts there is
		// always one); the interval's runs keep their time.
		early := at
		if events != nil {
			early = at.Add(-gap / 4)
		}
		pace.Set(early, at)
		select {
		case <-ctx.Done():
			return nil
		case <-pace.TimerC():
		case <-pace.Due():
		case _, open := <-events:
			if !open {
				r.log.Warn("check no longer notified of changes: probing every interval", "check", r.name, "interval", r.interval)
				changes = nil
			}
			pace.Cancel()
		}
	}
}

// watch starts the prober's notifications when it is a Watcher. It returns
// nil changes when it is not, or when watching fails (the Runner then
// probes every interval, as for any other kind), and a function that ends
// the watch and waits for its goroutines.
func (r *Runner) watch(ctx context.Context) (changes <-chan struct{}, unwatch func()) {
	w, ok := r.prober.(Watcher)
	if !ok {
		return nil, func() {}
	}
	wctx, cancel := context.WithCancel(ctx)
	ch, err := w.Watch(wctx)
	if err != nil {
		cancel()
		r.log.Warn("cannot be notified of changes: probing every interval", "check", r.name, "interval", r.interval, "err", err)
		return nil, func() {}
	}
	return ch, func() {
		cancel()
		for range ch { // closed once the watch's goroutines have ended
		}
	}
}

// settled reports whether the last result agrees with the state, so that
// no fall or rise is under way.
func (r *Runner) settled() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.st.State {
	case StateHealthy:
		return r.st.LastResult.OK
	case StateFailed:
		return !r.st.LastResult.OK
	}
	return false
}

// runOnce runs the probe under the timeout; ok is false when ctx ended
// meanwhile.
func (r *Runner) runOnce(ctx context.Context) (res Result, ok bool) {
	// A Watcher's probe does not wait (see Watcher): it gets no deadline
	// timer, which would cost a wake-up per run even when stopped, and is
	// judged by how long it took instead.
	_, quick := r.prober.(Watcher)
	start := r.clk.Now()
	pctx, cancel := ctx, context.CancelFunc(func() {})
	if !quick {
		pctx, cancel = context.WithTimeout(ctx, r.timeout)
	}
	defer cancel()
	func() {
		// A panicking prober is a failed check, not a dead daemon.
		defer func() {
			if p := recover(); p != nil {
				res = Result{Err: fmt.Errorf("probe panicked: %v", p)}
			}
		}()
		res = r.prober.Probe(pctx)
	}()
	if ctx.Err() != nil {
		return Result{}, false
	}
	late := errors.Is(pctx.Err(), context.DeadlineExceeded) || quick && r.clk.Now().Sub(start) > r.timeout
	if late && (res.OK || !errors.Is(res.Err, ErrTimeout)) {
		// The prober overran its deadline; whatever it found is too late.
		res.OK = false
		if res.Err == nil {
			res.Err = ErrTimeout
		} else {
			res.Err = fmt.Errorf("%w: %v", ErrTimeout, res.Err)
		}
	}
	if !res.OK && res.Err == nil {
		res.Err = errors.New("failed")
	}
	return res, true
}

// record applies one result and publishes a change.
func (r *Runner) record(res Result, start, end time.Time) {
	r.mu.Lock()
	st := &r.st
	if st.Runs > 0 && st.LastResult.OK == res.OK {
		st.Consecutive++
	} else {
		st.Consecutive = 1
	}
	st.Runs++
	if !res.OK {
		st.Failures++
	}
	st.LastRun, st.LastResult = start, res

	next := st.State
	switch {
	case r.kind == KindFile || st.State == StateInit:
		next = StateFailed
		if res.OK {
			next = StateHealthy
		}
	case st.State == StateHealthy && !res.OK && st.Consecutive >= r.fall:
		next = StateFailed
	case st.State == StateFailed && res.OK && st.Consecutive >= r.rise:
		next = StateHealthy
	}
	changed := next != st.State
	valueChanged := r.kind == KindFile && res.Value != st.Value
	st.Value = res.Value
	prev := st.State
	if changed {
		st.State, st.Healthy, st.Since = next, next == StateHealthy, end
		st.Transitions++
	}
	snap := *st
	r.mu.Unlock()

	if changed {
		r.log.Info("check state changed", "check", r.name, "from", prev, "to", next,
			"runs", snap.Runs, "err", res.Err)
	}
	if (changed || valueChanged) && r.onChange != nil {
		r.onChange(snap)
	}
	if r.onRun != nil {
		r.onRun(snap)
	}
}
