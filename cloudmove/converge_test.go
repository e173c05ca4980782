package cloudmove

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/vipd/vipd/internal/clock"
)

// These tests drive the retry, verify and reconcile logic with a fake
// action in a testing/synctest bubble, whose time the Set reads through
// clock.Real; the scenario tests run it against moto.

func apiErr(status int, code string) error {
	return &smithy.OperationError{ServiceID: "EC2", OperationName: "Fake", Err: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      &smithy.GenericAPIError{Code: code, Message: "injected"}}}
}

var errReset = errors.New("read tcp: connection reset by peer")

// step is one scripted apply: its error, and whether the change happened
// anyway (the answer was lost).
type step struct {
	err    error
	effect bool
}

type fakeAction struct {
	noRelease
	mu               sync.Mutex
	ours             bool
	script           []step
	applies, changes int
	observes         int
	observeErr       error // returned by the next observe, once
	// viewed makes cached answer as the real actions do: unknown until a
	// look succeeds, then the last look's answer. Unset, the cache always
	// says "elsewhere".
	viewed bool
	last   observation
}

func (f *fakeAction) name() string                                   { return "fake" }
func (f *fakeAction) kind() Kind                                     { return KindRoute }
func (f *fakeAction) resolve(context.Context, *env) error            { return nil }
func (f *fakeAction) resolved() bool                                 { return true }
func (f *fakeAction) permissions() []string                          { return nil }
func (f *fakeAction) dryRun(context.Context, *env) []PermissionCheck { return nil }
func (f *fakeAction) warnings() []string                             { return nil }
func (f *fakeAction) change() string                                 { return "fake change" }

func (f *fakeAction) cached() observation {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.viewed {
		return notOurs
	}
	return f.last
}

func (f *fakeAction) observe(context.Context, *env) (observation, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observes++
	if err := f.observeErr; err != nil {
		f.observeErr = nil
		return notOurs, "", err
	}
	f.last = notOurs
	if f.ours {
		f.last = ours
		return ours, "ours", nil
	}
	return notOurs, "elsewhere", nil
}

func (f *fakeAction) apply(context.Context, *env) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies++
	if len(f.script) > 0 {
		s := f.script[0]
		f.script = f.script[1:]
		if s.effect {
			f.ours = true
			f.changes++
		}
		return s.err
	}
	f.ours = true
	f.changes++
	return nil
}

func (f *fakeAction) counts() (applies, changes, observes int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applies, f.changes, f.observes
}

func (f *fakeAction) moveAway() {
	f.mu.Lock()
	f.ours = false
	f.mu.Unlock()
}

// testSet builds a Set of one action on the wall clock, which inside a
// synctest bubble is the bubble's fake time.
func testSet(t *testing.T, cl *Config, a action, onChange func()) *Set {
	t.Helper()
	s := &Set{owner: Owner{Kind: "instance", Name: "VI_1"}, cl: cl,
		opts: Options{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, Clock: clock.Real(), OnChange: onChange},
		e:    &env{clock: clock.Real(), log: slog.New(slog.NewTextHandler(io.Discard, nil)), callTimeout: time.Second},
		rnd:  rand.New(rand.NewPCG(1, 2)), kick: make(chan struct{})}
	s.e.id.Store(&Identity{})
	s.rs = []*runner{{a: a, st: ActionStatus{Name: a.name(), State: StateIdle}}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	t.Cleanup(s.Close)
	return s
}

func cloudCfg() *Config {
	c := DefaultConfig()
	c.RetryBudget = 10 * time.Second
	c.ReconcileInterval = 30 * time.Second
	c.FaultHold = time.Minute
	return c
}

// waitUntil lets the Set's goroutines run until all wait, then checks
// cond; until it holds, it moves the bubble's time on by d (firing the
// timers due on the way) and checks again. It gives up after an hour of
// bubble time.
func waitUntil(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	limit := time.Now().Add(time.Hour)
	for {
		synctest.Wait()
		if cond() {
			return
		}
		if time.Now().After(limit) {
			t.Fatal("condition not reached within an hour of bubble time")
		}
		time.Sleep(d)
	}
}

func state(s *Set) string { return s.Status()[0].State }

func TestRetriesThrottlingAndServerErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAction{script: []step{{err: apiErr(503, "RequestLimitExceeded")}, {err: apiErr(500, "InternalError")}, {err: errReset}}}
		s := testSet(t, cloudCfg(), f, nil)
		s.Master()
		if err := s.Wait(t.Context()); err != nil {
			t.Errorf("Wait: %v", err)
		}
		if st := state(s); st != StateDone {
			t.Fatalf("state %s after Wait", st)
		}
		applies, changes, observes := f.counts()
		if applies != 4 || changes != 1 {
			t.Errorf("applies %d changes %d, want 4 and 1", applies, changes)
		}
		// No look before the first attempt (the cache said "elsewhere"),
		// one after each failure, one to verify.
		if observes != 4 {
			t.Errorf("observes %d, want 4", observes)
		}
		// Three jittered waits, each within [ceiling/2, ceiling] of
		// 100, 200 and 400 ms.
		if took := s.Status()[0].Took; took < 350*time.Millisecond || took > 700*time.Millisecond {
			t.Errorf("took %v of bubble time", took)
		}
	})
}

func TestLostAnswerIsNotRepeated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAction{script: []step{{err: errReset, effect: true}}}
		s := testSet(t, cloudCfg(), f, nil)
		s.Master()
		waitUntil(t, 50*time.Millisecond, func() bool { return state(s) == StateDone })
		if applies, changes, _ := f.counts(); applies != 1 || changes != 1 {
			t.Errorf("applies %d changes %d: a change whose answer was lost was made again", applies, changes)
		}
	})
}

// TestUnknownViewLooksFirst: a restarted node whose start-up look failed
// (timed out under load) has no view of a resource it already holds; its
// first master round looks before acting and so makes no call.
func TestUnknownViewLooksFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAction{viewed: true, ours: true, observeErr: context.DeadlineExceeded}
		s := testSet(t, cloudCfg(), f, nil)
		s.prepare(t.Context()) // the start-up look, which times out
		if _, _, obs := f.counts(); obs != 1 || f.cached() != unknown {
			t.Fatalf("after a failed start-up look: %d looks, view %v", obs, f.cached())
		}
		s.Master()
		if err := s.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		applies, _, observes := f.counts()
		if applies != 0 || observes != 2 {
			t.Errorf("master round with an unknown view: %d applies, %d looks; want 0 and 1 more look", applies, observes)
		}
		if st := s.Status()[0]; st.State != StateDone || st.Changed || st.Attempts != 0 {
			t.Errorf("status %+v, want done without an attempt", st)
		}

		// With a view that says "elsewhere", the round acts at once: the
		// look it skips is what the cache is for.
		g := &fakeAction{viewed: true}
		s2 := testSet(t, cloudCfg(), g, nil)
		s2.prepare(t.Context())
		s2.Master()
		if err := s2.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if applies, _, observes := g.counts(); applies != 1 || observes != 2 {
			t.Errorf("master round with a known view: %d applies, %d looks; want 1 and 2 (start-up, verify)", applies, observes)
		}
	})
}

func TestPermanentErrorFailsAtOnceAndFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var changes atomic.Int32
		cl := cloudCfg()
		cl.OnFailure = Fault
		f := &fakeAction{script: []step{{err: apiErr(400, "InvalidRouteTableID.NotFound")}}}
		s := testSet(t, cl, f, func() { changes.Add(1) })
		s.Master()
		if err := s.Wait(t.Context()); err == nil {
			t.Fatal("Wait: no error")
		}
		if applies, _, _ := f.counts(); applies != 1 {
			t.Errorf("%d applies, want 1 (no retry of a permanent error)", applies)
		}
		if st := s.Status()[0]; st.State != StateFailed || st.Took != 0 {
			t.Errorf("status %+v, want failed at once", st)
		}
		if !s.Faulted() {
			t.Fatal("not faulted")
		}
		// The fault holds for fault_hold (the reconcile timer fires first
		// and succeeds, which clears it sooner: stop that by ending the
		// round).
		s.Backup()
		synctest.Wait()
		before := changes.Load()
		waitUntil(t, 10*time.Second, func() bool { return !s.Faulted() })
		if elapsed := time.Since(start); elapsed < time.Minute {
			t.Errorf("fault cleared after %v, before fault_hold", elapsed)
		}
		synctest.Wait() // the hold's timer has run its course
		if changes.Load() == before {
			t.Error("OnChange not called when the fault hold ended")
		}
	})
}

func TestBudgetReportsFailureAndKeepsTrying(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		cl := cloudCfg()
		cl.OnFailure = Fault
		var script []step
		for range 30 {
			script = append(script, step{err: apiErr(503, "RequestLimitExceeded")})
		}
		f := &fakeAction{script: script}
		s := testSet(t, cl, f, nil)
		s.Master()
		if err := s.Wait(t.Context()); err == nil {
			t.Error("Wait after the budget: no error")
		}
		if st := state(s); st != StateFailed {
			t.Fatalf("state %s when the round settled", st)
		}
		if el := time.Since(start); el < cl.RetryBudget {
			t.Errorf("failed after %v, before the budget", el)
		}
		if !s.Faulted() {
			t.Error("not faulted after the budget")
		}
		// Still master: it keeps trying and succeeds once throttling ends.
		waitUntil(t, 500*time.Millisecond, func() bool { return state(s) == StateDone })
		if applies, changes, _ := f.counts(); applies != 31 || changes != 1 {
			t.Errorf("applies %d changes %d", applies, changes)
		}
		if s.Faulted() {
			t.Error("fault not cleared by the success")
		}
	})
}

func TestReconcileReasserts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAction{}
		s := testSet(t, cloudCfg(), f, nil)
		s.Master()
		if err := s.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}

		// Nothing moved: a reconcile looks and does nothing.
		_, _, obs := f.counts()
		waitUntil(t, 30*time.Second, func() bool { _, _, o := f.counts(); return o > obs })
		if applies, _, _ := f.counts(); applies != 1 {
			t.Fatalf("%d applies after a quiet reconcile", applies)
		}

		// Moved away: the next reconcile puts it back.
		f.moveAway()
		waitUntil(t, 30*time.Second, func() bool { a, _, _ := f.counts(); return a == 2 })

		// Reassert re-checks at once, without waiting for the period:
		// once every goroutine waits, the bubble's clock has not moved.
		f.moveAway()
		now := time.Now()
		s.Reassert()
		synctest.Wait()
		if a, _, _ := f.counts(); a != 3 {
			t.Fatalf("Reassert did not re-assert: %d applies", a)
		}
		if !time.Now().Equal(now) {
			t.Error("clock moved")
		}
		// Master while master is a Reassert too.
		f.moveAway()
		s.Master()
		synctest.Wait()
		if a, _, _ := f.counts(); a != 4 {
			t.Fatalf("Master while master did not re-check: %d applies", a)
		}
	})
}

func TestBackupEndsTheRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var script []step
		for range 100 {
			script = append(script, step{err: apiErr(503, "RequestLimitExceeded")})
		}
		f := &fakeAction{script: script}
		s := testSet(t, cloudCfg(), f, nil)
		s.Master()
		waitUntil(t, 100*time.Millisecond, func() bool { a, _, _ := f.counts(); return a >= 3 })
		s.Backup()
		if err := s.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		a, _, _ := f.counts()
		// A minute of bubble time, then every goroutine waiting: a round
		// still running would have retried many times by then.
		time.Sleep(time.Minute)
		synctest.Wait()
		if a2, _, _ := f.counts(); a2 != a {
			t.Errorf("still applying after Backup: %d → %d", a, a2)
		}
		if st := state(s); st != StateReleased {
			t.Errorf("state %s", st)
		}
	})
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want errClass
	}{
		{apiErr(503, "RequestLimitExceeded"), classRetry},
		{apiErr(400, "RequestLimitExceeded"), classRetry},
		{apiErr(500, "InternalError"), classRetry},
		{apiErr(502, "Whatever"), classRetry},
		{apiErr(400, "InvalidParameterValue"), classPermanent},
		{apiErr(403, "UnauthorizedOperation"), classPermanent},
		{errReset, classRetry},
		{context.DeadlineExceeded, classRetry},
		{waitf("volume attaching"), classRetry},
		// From the SDK's retry package, not a hand list (the 4xx ones
		// would otherwise be permanent).
		{apiErr(400, "PriorRequestNotComplete"), classRetry},
		{apiErr(400, "RequestTimeout"), classRetry},
		{apiErr(400, "RequestTimeoutException"), classRetry},
		{apiErr(400, "BandwidthLimitExceeded"), classRetry},
		{apiErr(400, "RouteAlreadyExists"), classPermanent},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if got := describeError(apiErr(403, "UnauthorizedOperation")); got != "missing IAM permission ec2:Fake (UnauthorizedOperation)" {
		t.Errorf("describeError: %q", got)
	}
}

// TestErrorKeptUntilSuccess: an action's last error, with its time, stays
// until a success that answers it: a failed look by a refresh is cleared
// by the next good look; a failed round is not (only a verified round
// clears it), nor by a release that gives nothing up, nor hidden by a
// failed look that a good one then clears.
func TestErrorKeptUntilSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		f := &fakeAction{observeErr: apiErr(500, "InternalError")}
		s := testSet(t, cloudCfg(), f, nil)
		s.refresh(t.Context())
		st := s.Status()[0]
		if !strings.Contains(st.Error, "InternalError") || !st.ErrorAt.Equal(start) {
			t.Fatalf("after a failed look: %+v", st)
		}
		time.Sleep(time.Minute)
		s.refresh(t.Context())
		if st = s.Status()[0]; st.Error != "" || !st.ErrorAt.IsZero() {
			t.Fatalf("after a good look: %+v", st)
		}

		// A round that fails for good (denied), then a release: the error
		// and its time stay, also through later good looks.
		f.mu.Lock()
		f.script = []step{{err: apiErr(403, "UnauthorizedOperation")}}
		f.mu.Unlock()
		s.Master()
		waitUntil(t, 50*time.Millisecond, func() bool { return state(s) == StateFailed })
		failed := s.Status()[0].ErrorAt
		s.Backup()
		if err := s.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.observeErr = apiErr(500, "InternalError")
		f.mu.Unlock()
		s.refresh(t.Context()) // fails
		s.refresh(t.Context()) // good
		if st = s.Status()[0]; st.State != StateReleased || !strings.Contains(st.Error, "missing IAM permission") || !st.ErrorAt.Equal(failed) {
			t.Fatalf("after the release, a failed look and a good one: %+v", st)
		}
		s.Master()
		waitUntil(t, 50*time.Millisecond, func() bool { return state(s) == StateDone })
		if st = s.Status()[0]; st.Error != "" || !st.ErrorAt.IsZero() {
			t.Errorf("after a verified round: %+v", st)
		}
	})
}
