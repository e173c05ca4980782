package checks

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/clock/clocktest"
)

// step is one scripted probe: its verdict, how long it takes, and whether
// it ignores its context (a misbehaving prober) or hangs until it ends.
type step struct {
	ok        bool
	value     int
	takes     time.Duration
	hang      bool
	ignoreCtx bool
	panics    bool
}

var (
	pass = step{ok: true}
	fail = step{}
)

// scripted is a Prober that plays steps in order (repeating the last) and
// records when each probe started and how many ran at once.
type scripted struct {
	steps []step
	t0    time.Time

	mu        sync.Mutex
	n         int
	starts    []time.Duration
	active    int
	maxActive int
}

func (s *scripted) Probe(ctx context.Context) Result {
	s.mu.Lock()
	st := s.steps[min(s.n, len(s.steps)-1)]
	s.n++
	s.starts = append(s.starts, time.Since(s.t0))
	s.active++
	s.maxActive = max(s.maxActive, s.active)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.active--
		s.mu.Unlock()
	}()

	if st.panics {
		panic("scripted panic")
	}
	if st.hang {
		<-ctx.Done()
		return Result{Err: probeErr(ctx, ctx.Err())}
	}
	if st.takes > 0 {
		tm := time.NewTimer(st.takes)
		defer tm.Stop()
		if st.ignoreCtx {
			<-tm.C
		} else {
			select {
			case <-tm.C:
			case <-ctx.Done():
				return Result{Err: probeErr(ctx, ctx.Err())}
			}
		}
	}
	r := Result{OK: st.ok, Value: st.value}
	if !st.ok {
		r.Err = errors.New("scripted failure")
	}
	return r
}

// change is one published Status, as the tests compare it.
type change struct {
	at    time.Duration
	state State
	value int
}

const ms = time.Millisecond

func TestRunnerSemantics(t *testing.T) {
	check := func(mod func(*Config)) Config {
		c := Config{Name: "chk", Kind: KindExec, Interval: time.Second, Fall: 1, Rise: 1}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	fallRise := func(fall, rise int) func(*Config) {
		return func(c *Config) { c.Fall, c.Rise = fall, rise }
	}
	tests := []struct {
		name     string
		check    Config
		steps    []step
		runFor   time.Duration
		initial  State
		changes  []change
		runs     uint64
		failures uint64
		final    State
		starts   []time.Duration // when set, the probes' start times
		lastErr  error           // when set, LastResult.Err must wrap it
	}{
		{name: "first success decides, whatever rise", check: check(fallRise(3, 3)), steps: []step{pass},
			runFor: 500 * ms, changes: []change{{0, StateHealthy, 0}}, runs: 1, final: StateHealthy},
		{name: "first failure decides, whatever fall", check: check(fallRise(3, 3)), steps: []step{fail},
			runFor: 500 * ms, changes: []change{{0, StateFailed, 0}}, runs: 1, failures: 1, final: StateFailed},
		{name: "fall consecutive failures fail it", check: check(fallRise(3, 1)),
			steps: []step{pass, fail, fail, fail}, runFor: 3500 * ms,
			changes: []change{{0, StateHealthy, 0}, {3 * time.Second, StateFailed, 0}}, runs: 4, failures: 3,
			final: StateFailed},
		{name: "failures short of fall change nothing", check: check(fallRise(3, 2)),
			steps: []step{pass, fail, fail, pass, fail, fail, pass}, runFor: 6500 * ms,
			changes: []change{{0, StateHealthy, 0}}, runs: 7, failures: 4, final: StateHealthy},
		{name: "rise consecutive successes heal it", check: check(fallRise(1, 3)),
			steps: []step{fail, pass, pass, pass}, runFor: 3500 * ms,
			changes: []change{{0, StateFailed, 0}, {3 * time.Second, StateHealthy, 0}}, runs: 4, failures: 1,
			final: StateHealthy},
		{name: "successes short of rise change nothing", check: check(fallRise(1, 3)),
			steps: []step{fail, pass, pass, fail, pass, pass, fail}, runFor: 6500 * ms,
			changes: []change{{0, StateFailed, 0}}, runs: 7, failures: 3, final: StateFailed},
		{name: "fall 1 rise 1 follows every result", check: check(nil), steps: []step{pass, fail, pass},
			runFor:  2500 * ms,
			changes: []change{{0, StateHealthy, 0}, {time.Second, StateFailed, 0}, {2 * time.Second, StateHealthy, 0}},
			runs:    3, failures: 1, final: StateHealthy},
		{name: "init_fail starts failed and needs rise successes",
			check: check(func(c *Config) { c.InitFail, c.Rise = true, 2 }), steps: []step{pass, pass},
			runFor: 1500 * ms, initial: StateFailed, changes: []change{{time.Second, StateHealthy, 0}}, runs: 2,
			final: StateHealthy},
		{name: "init_fail with rise 1 heals on the first success",
			check: check(func(c *Config) { c.InitFail = true }), steps: []step{pass},
			runFor: 500 * ms, initial: StateFailed, changes: []change{{0, StateHealthy, 0}}, runs: 1,
			final: StateHealthy},
		{name: "init_fail flapping stays failed",
			check: check(func(c *Config) { c.InitFail, c.Rise = true, 2 }), steps: []step{pass, fail, pass},
			runFor: 2500 * ms, initial: StateFailed, runs: 3, failures: 1, final: StateFailed},
		{name: "a run past its timeout fails",
			check: check(func(c *Config) { c.Timeout = 500 * ms }), steps: []step{{hang: true}},
			runFor: 1200 * ms, changes: []change{{500 * ms, StateFailed, 0}}, runs: 1, failures: 1,
			final: StateFailed, starts: []time.Duration{0, time.Second}, lastErr: ErrTimeout},
		{name: "a late success is a timeout",
			check:  check(func(c *Config) { c.Timeout, c.Interval = 500*ms, 5*time.Second }),
			steps:  []step{{ok: true, takes: 2 * time.Second, ignoreCtx: true}},
			runFor: 2500 * ms, changes: []change{{2 * time.Second, StateFailed, 0}}, runs: 1, failures: 1,
			final: StateFailed, lastErr: ErrTimeout},
		{name: "timeout defaults to the interval", check: Config{Name: "chk", Kind: KindExec},
			steps: []step{{hang: true}}, runFor: 1500 * ms,
			changes: []change{{time.Second, StateFailed, 0}}, runs: 1, failures: 1, final: StateFailed,
			starts: []time.Duration{0, time.Second}, lastErr: ErrTimeout},
		{name: "interval runs start to start",
			check: check(nil), steps: []step{{ok: true, takes: 300 * ms}}, runFor: 2500 * ms,
			changes: []change{{300 * ms, StateHealthy, 0}}, runs: 3, final: StateHealthy,
			starts: []time.Duration{0, time.Second, 2 * time.Second}},
		{name: "an overrun delays the next run, never overlaps",
			check: check(func(c *Config) { c.Timeout = 5 * time.Second }),
			steps: []step{{ok: true, takes: 2500 * ms}, pass, pass}, runFor: 3600 * ms,
			changes: []change{{2500 * ms, StateHealthy, 0}}, runs: 3, final: StateHealthy,
			starts: []time.Duration{0, 2500 * ms, 3500 * ms}},
		{name: "a panicking prober is a failure", check: check(nil), steps: []step{pass, {panics: true}, pass},
			runFor:  2500 * ms,
			changes: []change{{0, StateHealthy, 0}, {time.Second, StateFailed, 0}, {2 * time.Second, StateHealthy, 0}},
			runs:    3, failures: 1, final: StateHealthy},
		{name: "file check: values published, no rise or fall",
			check: check(func(c *Config) { c.Kind, c.Fall, c.Rise = KindFile, 3, 3 }),
			steps: []step{{ok: true}, {ok: true}, {ok: true, value: 5}, {ok: true, value: 5}, {value: 300},
				{ok: true}},
			runFor: 5500 * ms,
			changes: []change{{0, StateHealthy, 0}, {2 * time.Second, StateHealthy, 5},
				{4 * time.Second, StateFailed, 300}, {5 * time.Second, StateHealthy, 0}},
			runs: 6, failures: 1, final: StateHealthy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				t0 := time.Now()
				sp := &scripted{steps: tc.steps, t0: t0}
				var mu sync.Mutex
				var changes []change
				var sinces []time.Time
				r, err := NewRunner(&tc.check, sp, RunnerOptions{OnChange: func(s Status) {
					mu.Lock()
					defer mu.Unlock()
					changes = append(changes, change{time.Since(t0), s.State, s.Value})
					sinces = append(sinces, s.Since)
				}})
				if err != nil {
					t.Fatal(err)
				}
				if st := r.Status(); st.State != tc.initial || st.Runs != 0 {
					t.Fatalf("before Run: state %s, runs %d; want %s, 0", st.State, st.Runs, tc.initial)
				}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error)
				go func() { done <- r.Run(ctx) }()
				time.Sleep(tc.runFor)
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("Run: %v", err)
				}

				mu.Lock()
				defer mu.Unlock()
				if !slices.Equal(changes, tc.changes) {
					t.Errorf("changes %v, want %v", changes, tc.changes)
				}
				// Since moves with the state, not with a file's value.
				wantSince := t0
				for i, ch := range changes {
					if ch.state != stateBefore(changes, i, tc.initial) {
						wantSince = t0.Add(ch.at)
					}
					if !sinces[i].Equal(wantSince) {
						t.Errorf("change %d: Since %s, want %s", i, sinces[i].Sub(t0), wantSince.Sub(t0))
					}
				}
				st := r.Status()
				if st.Runs != tc.runs || st.Failures != tc.failures || st.State != tc.final {
					t.Errorf("status: runs %d failures %d state %s; want %d %d %s",
						st.Runs, st.Failures, st.State, tc.runs, tc.failures, tc.final)
				}
				if st.Healthy != (st.State == StateHealthy) {
					t.Errorf("Healthy %t with state %s", st.Healthy, st.State)
				}
				if tc.starts != nil && !slices.Equal(sp.starts, tc.starts) {
					t.Errorf("probes started at %v, want %v", sp.starts, tc.starts)
				}
				if sp.maxActive != 1 {
					t.Errorf("%d probes ran at once", sp.maxActive)
				}
				if tc.lastErr != nil && !errors.Is(st.LastResult.Err, tc.lastErr) {
					t.Errorf("last error %v, want %v", st.LastResult.Err, tc.lastErr)
				}
				if st.LastResult.OK == (st.LastResult.Err != nil) {
					t.Errorf("last result OK %t with error %v", st.LastResult.OK, st.LastResult.Err)
				}
			})
		})
	}
}

// stateBefore is the state in force before changes[i].
func stateBefore(changes []change, i int, initial State) State {
	if i == 0 {
		return initial
	}
	return changes[i-1].state
}

func TestRunnerStatusCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sp := &scripted{steps: []step{pass, fail, fail, pass, pass, pass}, t0: time.Now()}
		c := &Config{Name: "counted", Kind: KindTCP, Interval: time.Second, Fall: 2, Rise: 2}
		var runsMu sync.Mutex
		var ran []Status // what OnRun saw, one per finished run
		r, err := NewRunner(c, sp, RunnerOptions{OnRun: func(s Status) {
			runsMu.Lock()
			ran = append(ran, s)
			runsMu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		go r.Run(ctx)
		want := []struct {
			state       State
			consecutive int
			transitions uint64
		}{
			{StateHealthy, 1, 1}, {StateHealthy, 1, 1}, {StateFailed, 2, 2},
			{StateFailed, 1, 2}, {StateHealthy, 2, 3}, {StateHealthy, 3, 3},
		}
		start := time.Now()
		for i, w := range want {
			synctest.Wait() // the runner is parked until the next run
			st := r.Status()
			if st.Runs != uint64(i+1) || st.State != w.state || st.Consecutive != w.consecutive ||
				st.Transitions != w.transitions {
				t.Fatalf("after run %d: runs %d state %s consecutive %d transitions %d; want %s %d %d",
					i+1, st.Runs, st.State, st.Consecutive, st.Transitions, w.state, w.consecutive, w.transitions)
			}
			if !st.LastRun.Equal(start.Add(time.Duration(i) * time.Second)) {
				t.Fatalf("after run %d: LastRun %s after start", i+1, st.LastRun.Sub(start))
			}
			if st.Name != "counted" || st.Kind != KindTCP {
				t.Fatalf("status names %q %q", st.Name, st.Kind)
			}
			time.Sleep(time.Second)
		}
		runsMu.Lock()
		defer runsMu.Unlock()
		// (the last sleep lets a seventh run start, and maybe finish)
		if len(ran) < len(want) {
			t.Fatalf("OnRun called %d times for %d runs", len(ran), len(want))
		}
		for i, s := range ran[:len(want)] {
			if s.Runs != uint64(i+1) || s.LastResult.OK != (sp.steps[i] == pass) {
				t.Errorf("OnRun %d: runs %d ok %v", i+1, s.Runs, s.LastResult.OK)
			}
		}
	})
}

// TestRunnerOnItsClock: the schedule runs on the clock the Runner is
// given (the bubble's time through a counting clock, a year ahead of
// time.Now): runs happen only when that time reaches them, are stamped
// with it, and no timer of that clock is left armed once Run returns.
func TestRunnerOnItsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ahead = 365 * 24 * time.Hour
		clk := &clocktest.Counting{Clock: clock.Real(), Offset: ahead}
		start := clk.Now()
		sp := &scripted{steps: []step{pass}, t0: time.Now()}
		c := &Config{Name: "paced", Kind: KindExec, Interval: 2 * time.Second}
		r, err := NewRunner(c, sp, RunnerOptions{Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		steps := []struct {
			advance time.Duration
			runs    uint64
		}{{0, 1}, {1999 * ms, 1}, {ms, 2}, {2 * time.Second, 3}, {time.Second, 3}}
		for _, s := range steps {
			time.Sleep(s.advance)
			synctest.Wait()
			if st := r.Status(); st.Runs != s.runs {
				t.Fatalf("at %s: %d runs, want %d", clk.Now().Sub(start), st.Runs, s.runs)
			}
		}
		if clk.Made() == 0 {
			t.Fatal("the runner paced its runs without a timer of its clock")
		}
		st := r.Status()
		if want := start.Add(4 * time.Second); !st.LastRun.Equal(want) {
			t.Errorf("LastRun %s, want %s (its clock's)", st.LastRun, want)
		}
		if !st.Since.Equal(start) {
			t.Errorf("Since %s, want the start %s", st.Since, start)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := clk.Armed(); n != 0 {
			t.Errorf("%d timers left armed after Run returned", n)
		}
	})
}

func TestRunnerStopsMidProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sp := &scripted{steps: []step{pass, {hang: true}}, t0: time.Now()}
		c := &Config{Name: "stop", Kind: KindExec, Interval: time.Second, Timeout: time.Hour}
		r, err := NewRunner(c, sp, RunnerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(1500 * ms) // the second probe hangs
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if st := r.Status(); st.Runs != 1 || st.Failures != 0 || st.State != StateHealthy {
			t.Errorf("a probe cut short by stopping was counted: %+v", st)
		}
		if err := r.Run(t.Context()); !errors.Is(err, ErrRunnerStarted) {
			t.Errorf("second Run: %v, want ErrRunnerStarted", err)
		}
	})
}

// TestRunnerNeverBlocksOnChanges publishes into a Changes nobody reads:
// the runner must carry on, and the consumer later finds the latest state.
func TestRunnerNeverBlocksOnChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sp := &scripted{steps: []step{pass, fail}, t0: time.Now()}
		for range 5 {
			sp.steps = append(sp.steps, sp.steps...)
		}
		changes := NewChanges()
		c := &Config{Name: "flappy", Kind: KindExec, Interval: time.Second}
		r, err := NewRunner(c, sp, RunnerOptions{OnChange: changes.Publish})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		time.Sleep(49500 * ms)
		cancel()
		<-done
		if st := r.Status(); st.Runs != 50 || st.Transitions != 50 {
			t.Fatalf("runs %d transitions %d, want 50 each", st.Runs, st.Transitions)
		}
		select {
		case <-changes.Ready():
		default:
			t.Fatal("Ready not signalled")
		}
		got := changes.Take()
		if len(got) != 1 || got[0].Name != "flappy" || got[0].Transitions != 50 || got[0].State != StateFailed {
			t.Fatalf("took %+v, want the latest status only", got)
		}
	})
}

func TestChanges(t *testing.T) {
	c := NewChanges()
	if got := c.Take(); len(got) != 0 {
		t.Fatalf("empty Changes gave %v", got)
	}
	c.Publish(Status{Name: "b", State: StateHealthy})
	c.Publish(Status{Name: "a", State: StateHealthy})
	c.Publish(Status{Name: "b", State: StateFailed, Transitions: 2})
	select {
	case <-c.Ready():
	default:
		t.Fatal("Ready not signalled")
	}
	select {
	case <-c.Ready():
		t.Fatal("Ready signalled twice for one batch")
	default:
	}
	got := c.Take()
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" || got[1].State != StateFailed || got[1].Transitions != 2 {
		t.Fatalf("Take = %+v, want a then the latest b", got)
	}
	if got := c.Take(); len(got) != 0 {
		t.Fatalf("second Take gave %v", got)
	}
	for i := range 10000 { // never blocks without a reader
		c.Publish(Status{Name: "x", Runs: uint64(i)})
	}
	if got := c.Take(); len(got) != 1 || got[0].Runs != 9999 {
		t.Fatalf("Take = %+v, want the last of many", got)
	}
}

func TestNewRunnerErrors(t *testing.T) {
	sp := &scripted{steps: []step{pass}}
	tests := []struct {
		name  string
		mod   func(*Config)
		field string
	}{
		{name: "negative interval", mod: func(c *Config) { c.Interval = -time.Second }, field: "interval"},
		{name: "negative timeout", mod: func(c *Config) { c.Timeout = -1 }, field: "timeout"},
		{name: "negative fall", mod: func(c *Config) { c.Fall = -1 }, field: "fall"},
		{name: "negative rise", mod: func(c *Config) { c.Rise = -2 }, field: "rise"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Name: "bad", Kind: KindExec}
			tc.mod(c)
			_, err := NewRunner(c, sp, RunnerOptions{})
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tc.field || ce.Check != "bad" {
				t.Fatalf("error %v, want a ConfigError on %s", err, tc.field)
			}
		})
	}
	if _, err := NewRunner(&Config{Name: "x"}, nil, RunnerOptions{}); err == nil {
		t.Error("nil prober accepted")
	}
	if _, err := NewRunner(nil, sp, RunnerOptions{}); err == nil {
		t.Error("nil check accepted")
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{StateInit: "init", StateHealthy: "healthy", StateFailed: "failed", 9: "State(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
		if b, _ := s.MarshalText(); string(b) != want {
			t.Errorf("%d.MarshalText() = %q, want %q", s, b, want)
		}
	}
}
