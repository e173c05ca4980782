package checks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/lab"
)

// watched is a scripted Prober that is also a Watcher: kick stands for a
// kernel notification, end for a watch that breaks.
type watched struct {
	*scripted
	kick     chan struct{}
	end      chan struct{}
	watchErr error
	stopped  atomic.Bool // the watch's goroutine ended
}

func newWatched(t0 time.Time, steps ...step) *watched {
	return &watched{scripted: &scripted{steps: steps, t0: t0}, kick: make(chan struct{}), end: make(chan struct{})}
}

func (w *watched) Watch(ctx context.Context) (<-chan struct{}, error) {
	if w.watchErr != nil {
		return nil, w.watchErr
	}
	out := make(chan struct{}, 1)
	go func() {
		defer w.stopped.Store(true)
		defer close(out)
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.end:
				return
			case <-w.kick:
				select {
				case out <- struct{}{}:
				default:
				}
			}
		}
	}()
	return out, nil
}

// setSteps replaces what the next probes return.
func (w *watched) setSteps(steps ...step) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.steps, w.n = steps, 0
}

func (w *watched) startTimes() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.starts)
}

func ifaceConfig(interval time.Duration, fall, rise int) *Config {
	return &Config{Name: "link", Kind: KindInterface, Interval: interval, Fall: fall, Rise: rise,
		Interface: &InterfaceConfig{Name: "eth0"}}
}

// runWatched starts a Runner of w; stop ends it and reports whether Run
// returned and the watch's goroutine ended.
func runWatched(t *testing.T, c *Config, w Prober) (r *Runner, stop func()) {
	t.Helper()
	r, err := NewRunner(c, w, RunnerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	synctest.Wait()
	return r, func() { cancel(); <-done }
}

// An idle watched check runs at RecheckInterval, not at its interval.
func TestRunnerWatchedIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatched(time.Now(), pass)
		_, stop := runWatched(t, ifaceConfig(250*ms, 1, 1), w)
		time.Sleep(3*RecheckInterval + ms)
		synctest.Wait()
		stop()
		want := []time.Duration{0, RecheckInterval, 2 * RecheckInterval, 3 * RecheckInterval}
		if got := w.startTimes(); !slices.Equal(got, want) {
			t.Errorf("probes at %v, want %v", got, want)
		}
		if !w.stopped.Load() {
			t.Error("Run returned with the watch still running")
		}
	})
}

// A notification starts a run at once; with fall 1 it decides at once.
func TestRunnerWatchedNotified(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatched(time.Now(), pass)
		r, stop := runWatched(t, ifaceConfig(time.Hour, 1, 1), w)
		defer stop()
		time.Sleep(time.Second)
		w.setSteps(fail)
		w.kick <- struct{}{}
		synctest.Wait()
		if st := r.Status(); st.State != StateFailed || st.Runs != 2 {
			t.Fatalf("after a notification: %v after %d runs, want failed after 2", st.State, st.Runs)
		}
		if got := w.startTimes(); got[1] != time.Second {
			t.Errorf("second probe at %v, want at the notification (1s)", got[1])
		}
		// Back up: the same.
		time.Sleep(time.Second)
		w.setSteps(pass)
		w.kick <- struct{}{}
		synctest.Wait()
		if st := r.Status(); st.State != StateHealthy || st.Runs != 3 {
			t.Fatalf("after a second notification: %v after %d runs, want healthy after 3", st.State, st.Runs)
		}
	})
}

// While a fall is under way the runs follow the interval, and
// notifications do not add runs: fall × interval keeps its meaning.
func TestRunnerWatchedFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatched(time.Now(), pass)
		r, stop := runWatched(t, ifaceConfig(time.Second, 3, 2), w)
		defer stop()
		time.Sleep(2 * time.Second)
		w.setSteps(fail)
		w.kick <- struct{}{} // the link goes down: first failure at 2s
		synctest.Wait()
		for range 5 { // a flapping link's many notifications
			w.kick <- struct{}{}
			synctest.Wait()
		}
		if st := r.Status(); st.State != StateHealthy || st.Runs != 2 || st.Consecutive != 1 {
			t.Fatalf("one failure and notifications: %v, %d runs, %d in a row; want healthy, 2, 1", st.State, st.Runs, st.Consecutive)
		}
		time.Sleep(2*time.Second + ms)
		synctest.Wait()
		if st := r.Status(); st.State != StateFailed || st.Since.Sub(w.t0) != 4*time.Second {
			t.Fatalf("after fall × interval: %v since %v, want failed since 4s", st.State, st.Since.Sub(w.t0))
		}
		// Settled again: the notification pending from the flapping runs
		// a probe at once, then the schedule is the slow one.
		time.Sleep(RecheckInterval + ms)
		synctest.Wait()
		want := []time.Duration{0, 2 * time.Second, 3 * time.Second, 4 * time.Second, 4 * time.Second, 4*time.Second + RecheckInterval}
		if got := w.startTimes(); !slices.Equal(got, want) {
			t.Errorf("probes at %v, want %v", got, want)
		}
		// Rise 2: two successes an interval apart.
		w.setSteps(pass)
		w.kick <- struct{}{}
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if st := r.Status(); st.State != StateHealthy {
			t.Fatalf("after rise × interval: %v, want healthy", st.State)
		}
	})
}

// With a shared Scheduler, the safety re-read rides another alarm's
// wake-up in the last quarter of its gap (an advert, here every second at
// .3), while the runs of a fall keep the interval exactly.
func TestRunnerRechecksRideAlarms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		timers := clock.NewScheduler(clock.Real())
		var advert *clock.Alarm
		advert = timers.NewAlarm(func(now time.Time) { advert.Set(now.Add(time.Second)) })
		advert.Set(t0.Add(300 * ms))
		defer advert.Close()

		w := newWatched(t0, pass)
		r, err := NewRunner(ifaceConfig(time.Second, 2, 1), w, RunnerOptions{Timers: timers})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(ctx) }()
		defer func() { cancel(); <-done }()

		time.Sleep(7 * time.Second) // the recheck rides the advert at 4.3
		synctest.Wait()
		w.setSteps(fail)
		w.kick <- struct{}{} // at 7: the first failure, the second at 8
		synctest.Wait()
		time.Sleep(time.Second + ms)
		synctest.Wait()
		want := []time.Duration{0, 4300 * ms, 7 * time.Second, 8 * time.Second}
		if got := w.startTimes(); !slices.Equal(got, want) {
			t.Errorf("probes at %v, want %v", got, want)
		}
		if st := r.Status(); st.State != StateFailed {
			t.Errorf("after fall × interval: %v, want failed", st.State)
		}
	})
}

// A watch that cannot start, or that breaks, leaves the check probing at
// its interval.
func TestRunnerWatchFallsBack(t *testing.T) {
	t.Run("cannot watch", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWatched(time.Now(), pass)
			w.watchErr = errors.New("no netlink")
			_, stop := runWatched(t, ifaceConfig(time.Second, 1, 1), w)
			time.Sleep(2*time.Second + ms)
			synctest.Wait()
			stop()
			if got, want := w.startTimes(), []time.Duration{0, time.Second, 2 * time.Second}; !slices.Equal(got, want) {
				t.Errorf("probes at %v, want %v", got, want)
			}
		})
	})
	t.Run("watch breaks", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			w := newWatched(time.Now(), pass)
			_, stop := runWatched(t, ifaceConfig(time.Second, 1, 1), w)
			time.Sleep(time.Second)
			close(w.end)
			synctest.Wait()
			time.Sleep(2*time.Second + ms)
			synctest.Wait()
			stop()
			if got, want := w.startTimes(), []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
				t.Errorf("probes at %v, want %v", got, want)
			}
		})
	})
}

// A watched probe has no deadline timer: one that takes longer than the
// timeout still counts as timed out.
func TestRunnerWatchedLateProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWatched(time.Now(), step{ok: true, takes: 2 * time.Second, ignoreCtx: true})
		c := ifaceConfig(time.Hour, 1, 1)
		c.Timeout = time.Second
		r, stop := runWatched(t, c, w)
		defer stop()
		time.Sleep(2*time.Second + ms)
		synctest.Wait()
		if st := r.Status(); st.State != StateFailed || !errors.Is(st.LastResult.Err, ErrTimeout) {
			t.Fatalf("a 2s probe with a 1s timeout: %v (%v), want failed with a timeout", st.State, st.LastResult.Err)
		}
	})
}

// TestIfaceWatch follows a veth's link in a namespace through netlink
// notifications: each change of v0 (down, up, carrier, rename, deletion)
// is signalled, and the channel closes when the watch ends.
func TestIfaceWatch(t *testing.T) {
	l := lab.New(t)
	n := l.Node("watch")
	n.Run(t, "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	p, err := NewProber(ifaceCheck("v0"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := p.(Watcher)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var changes <-chan struct{}
	if err := n.Do(func() error {
		var err error
		changes, err = w.Watch(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	probeNow := func() Result {
		var r Result
		if err := n.Do(func() error { r = p.Probe(t.Context()); return nil }); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// signalled waits for a notification, then for the state wanted (a
	// carrier change may follow a moment after the flags).
	signalled := func(what string, ok bool, errHas string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no notification within 5s", what)
		}
		eventually(t, 5*time.Second, what, func() bool { return probeNow().OK == ok })
		wantResult(t, probeNow(), ok, errHas)
	}
	drain := func() {
		for {
			select {
			case <-changes:
			default:
				return
			}
		}
	}
	n.SetLink(t, "v0", true)
	signalled("v0 up without carrier", false, "is down")
	n.SetLink(t, "v1", true)
	signalled("v1 up: v0 has carrier", true, "")
	drain()
	n.SetLink(t, "v0", false)
	signalled("v0 down", false, "is down")
	n.SetLink(t, "v0", true)
	signalled("v0 up again", true, "")
	drain()
	n.Run(t, "ip", "link", "set", "v0", "down")
	n.Run(t, "ip", "link", "set", "v0", "name", "v9")
	signalled("v0 renamed away", false, "does not exist")
	drain()
	n.Run(t, "ip", "link", "set", "v9", "name", "v0")
	n.Run(t, "ip", "link", "set", "v0", "up")
	signalled("renamed back", true, "")
	drain()
	n.Run(t, "ip", "link", "del", "v0")
	signalled("deleted", false, "does not exist")

	cancel()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, open := <-changes:
			if !open {
				return
			}
		case <-deadline:
			t.Fatal("the channel did not close after the watch's context ended")
		}
	}
}

// TestIfaceRunnerNotified runs the Runner of an interface check with an
// interval of an hour in a namespace: only a notification can make it see
// the link go down and come back.
func TestIfaceRunnerNotified(t *testing.T) {
	l := lab.New(t)
	n := l.Node("runner")
	n.Run(t, "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	n.SetLink(t, "v1", true)
	n.SetLink(t, "v0", true)
	c := ifaceCheck("v0")
	c.Interval = time.Hour
	p, err := NewProber(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var states []State
	r, err := NewRunner(c, p, RunnerOptions{OnChange: func(s Status) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, s.State)
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- n.Do(func() error { return r.Run(ctx) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	eventually(t, 5*time.Second, "healthy at start", func() bool { return r.Status().State == StateHealthy })
	down := time.Now()
	n.SetLink(t, "v0", false)
	eventually(t, 5*time.Second, "failed after the link went down", func() bool { return r.Status().State == StateFailed })
	t.Logf("link down seen after %v", time.Since(down))
	n.SetLink(t, "v0", true)
	eventually(t, 5*time.Second, "healthy after the link came back", func() bool { return r.Status().State == StateHealthy })
	mu.Lock()
	got := slices.Clone(states)
	mu.Unlock()
	if want := []State{StateHealthy, StateFailed, StateHealthy}; !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	if out := r.Status().LastResult.Output; !strings.HasPrefix(out, "v0: state") {
		t.Errorf("output %q, want the link state", out)
	}
}
