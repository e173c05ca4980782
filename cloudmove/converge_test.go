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
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/vipd/vipd/internal/clock"
)

// These tests drive the retry, verify and reconcile logic with a fake
// action and a fake clock; the scenario tests run it against moto.

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
}

func (f *fakeAction) name() string                                   { return "fake" }
func (f *fakeAction) kind() Kind                                     { return KindRoute }
func (f *fakeAction) resolve(context.Context, *env) error            { return nil }
func (f *fakeAction) resolved() bool                                 { return true }
func (f *fakeAction) permissions() []string                          { return nil }
func (f *fakeAction) dryRun(context.Context, *env) []PermissionCheck { return nil }
func (f *fakeAction) warnings() []string                             { return nil }
func (f *fakeAction) change() string                                 { return "fake change" }
func (f *fakeAction) cached() observation                            { return notOurs }

func (f *fakeAction) observe(context.Context, *env) (observation, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.observes++
	if err := f.observeErr; err != nil {
		f.observeErr = nil
		return notOurs, "", err
	}
	if f.ours {
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

var start = time.Unix(1_700_000_000, 0)

func testSet(t *testing.T, cl *Config, fc *clock.Fake, a action, onChange func()) *Set {
	t.Helper()
	s := &Set{owner: Owner{Kind: "instance", Name: "VI_1"}, cl: cl,
		opts: Options{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, Clock: fc, OnChange: onChange},
		e:    &env{clock: fc, log: slog.New(slog.NewTextHandler(io.Discard, nil)), callTimeout: time.Second},
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

// advanceUntil moves the fake clock in steps of d, each time once some
// goroutine waits on it, until cond holds.
func advanceUntil(t *testing.T, fc *clock.Fake, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		if fc.Pending() == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		fc.Advance(d)
		time.Sleep(time.Millisecond) // let woken goroutines run
	}
}

func state(s *Set) string { return s.Status()[0].State }

func TestRetriesThrottlingAndServerErrors(t *testing.T) {
	fc := clock.NewFake(start)
	f := &fakeAction{script: []step{{err: apiErr(503, "RequestLimitExceeded")}, {err: apiErr(500, "InternalError")}, {err: errReset}}}
	s := testSet(t, cloudCfg(), fc, f, nil)
	s.Master()
	advanceUntil(t, fc, 50*time.Millisecond, func() bool { return state(s) == StateDone })
	applies, changes, observes := f.counts()
	if applies != 4 || changes != 1 {
		t.Errorf("applies %d changes %d, want 4 and 1", applies, changes)
	}
	// No look before the first attempt (the cache said "elsewhere"), one
	// after each failure, one to verify.
	if observes != 4 {
		t.Errorf("observes %d, want 4", observes)
	}
	// Three jittered waits: at least half of 100, 200 and 400 ms.
	if took := s.Status()[0].Took; took < 350*time.Millisecond || took > 700*time.Millisecond+150*time.Millisecond {
		t.Errorf("took %v of fake time", took)
	}
	if err := s.Wait(context.Background()); err != nil {
		t.Errorf("Wait: %v", err)
	}
}

func TestLostAnswerIsNotRepeated(t *testing.T) {
	fc := clock.NewFake(start)
	f := &fakeAction{script: []step{{err: errReset, effect: true}}}
	s := testSet(t, cloudCfg(), fc, f, nil)
	s.Master()
	advanceUntil(t, fc, 50*time.Millisecond, func() bool { return state(s) == StateDone })
	if applies, changes, _ := f.counts(); applies != 1 || changes != 1 {
		t.Errorf("applies %d changes %d: a change whose answer was lost was made again", applies, changes)
	}
}

func TestPermanentErrorFailsAtOnceAndFaults(t *testing.T) {
	fc := clock.NewFake(start)
	var changes atomic.Int32
	cl := cloudCfg()
	cl.OnFailure = Fault
	f := &fakeAction{script: []step{{err: apiErr(400, "InvalidRouteTableID.NotFound")}}}
	s := testSet(t, cl, fc, f, func() { changes.Add(1) })
	s.Master()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err == nil {
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
	// The fault holds for fault_hold (the reconcile timer fires first and
	// succeeds, which clears it sooner: stop that by ending the round).
	s.Backup()
	before := changes.Load()
	advanceUntil(t, fc, 10*time.Second, func() bool { return !s.Faulted() })
	if elapsed := fc.Now().Sub(start); elapsed < time.Minute {
		t.Errorf("fault cleared after %v, before fault_hold", elapsed)
	}
	deadline := time.Now().Add(2 * time.Second)
	for changes.Load() == before && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if changes.Load() == before {
		t.Error("OnChange not called when the fault hold ended")
	}
}

func TestBudgetReportsFailureAndKeepsTrying(t *testing.T) {
	fc := clock.NewFake(start)
	cl := cloudCfg()
	cl.OnFailure = Fault
	var script []step
	for range 30 {
		script = append(script, step{err: apiErr(503, "RequestLimitExceeded")})
	}
	f := &fakeAction{script: script}
	s := testSet(t, cl, fc, f, nil)
	s.Master()
	advanceUntil(t, fc, 500*time.Millisecond, func() bool { return state(s) == StateFailed })
	if el := fc.Now().Sub(start); el < cl.RetryBudget {
		t.Errorf("failed after %v, before the budget", el)
	}
	if !s.Faulted() {
		t.Error("not faulted after the budget")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err == nil {
		t.Error("Wait after the budget: no error")
	}
	// Still master: it keeps trying and succeeds once throttling ends.
	advanceUntil(t, fc, 500*time.Millisecond, func() bool { return state(s) == StateDone })
	if applies, changes, _ := f.counts(); applies != 31 || changes != 1 {
		t.Errorf("applies %d changes %d", applies, changes)
	}
	if s.Faulted() {
		t.Error("fault not cleared by the success")
	}
}

func TestReconcileReasserts(t *testing.T) {
	fc := clock.NewFake(start)
	f := &fakeAction{}
	s := testSet(t, cloudCfg(), fc, f, nil)
	s.Master()
	advanceUntil(t, fc, 50*time.Millisecond, func() bool { return state(s) == StateDone })

	// Nothing moved: a reconcile looks and does nothing.
	_, _, obs := f.counts()
	advanceUntil(t, fc, 30*time.Second, func() bool { _, _, o := f.counts(); return o > obs })
	if applies, _, _ := f.counts(); applies != 1 {
		t.Fatalf("%d applies after a quiet reconcile", applies)
	}

	// Moved away: the next reconcile puts it back.
	f.moveAway()
	advanceUntil(t, fc, 30*time.Second, func() bool { a, _, _ := f.counts(); return a == 2 })

	// Reassert re-checks at once, without waiting for the period.
	f.moveAway()
	now := fc.Now()
	s.Reassert()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if a, _, _ := f.counts(); a == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Reassert did not re-assert")
		}
		time.Sleep(time.Millisecond)
	}
	if fc.Now() != now {
		t.Error("clock moved")
	}
	// Master while master is a Reassert too.
	f.moveAway()
	s.Master()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if a, _, _ := f.counts(); a == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Master while master did not re-check")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestBackupEndsTheRound(t *testing.T) {
	fc := clock.NewFake(start)
	var script []step
	for range 100 {
		script = append(script, step{err: apiErr(503, "RequestLimitExceeded")})
	}
	f := &fakeAction{script: script}
	s := testSet(t, cloudCfg(), fc, f, nil)
	s.Master()
	advanceUntil(t, fc, 100*time.Millisecond, func() bool { a, _, _ := f.counts(); return a >= 3 })
	s.Backup()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	a, _, _ := f.counts()
	fc.Advance(time.Minute)
	time.Sleep(20 * time.Millisecond)
	if a2, _, _ := f.counts(); a2 != a {
		t.Errorf("still applying after Backup: %d → %d", a, a2)
	}
	if st := state(s); st != StateReleased {
		t.Errorf("state %s", st)
	}
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

func TestBackoffJitter(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second, rand.New(rand.NewPCG(3, 4)))
	ceil := 100 * time.Millisecond
	seen := map[time.Duration]bool{}
	for range 20 {
		d := b.next()
		if d < ceil/2 || d > ceil {
			t.Fatalf("wait %v outside [%v, %v]", d, ceil/2, ceil)
		}
		seen[d] = true
		ceil = min(2*ceil, time.Second)
	}
	if len(seen) < 10 {
		t.Errorf("only %d distinct waits: no jitter", len(seen))
	}
}

// TestErrorKeptUntilSuccess: an action's last error, with its time, stays
// until a success that answers it: a failed look by a refresh is cleared
// by the next good look; a failed round is not (only a verified round
// clears it), nor by a release that gives nothing up, nor hidden by a
// failed look that a good one then clears.
func TestErrorKeptUntilSuccess(t *testing.T) {
	fc := clock.NewFake(start)
	f := &fakeAction{observeErr: apiErr(500, "InternalError")}
	s := testSet(t, cloudCfg(), fc, f, nil)
	s.refresh(context.Background())
	st := s.Status()[0]
	if !strings.Contains(st.Error, "InternalError") || !st.ErrorAt.Equal(start) {
		t.Fatalf("after a failed look: %+v", st)
	}
	fc.Advance(time.Minute)
	s.refresh(context.Background())
	if st = s.Status()[0]; st.Error != "" || !st.ErrorAt.IsZero() {
		t.Fatalf("after a good look: %+v", st)
	}

	// A round that fails for good (denied), then a release: the error
	// and its time stay, also through later good looks.
	f.mu.Lock()
	f.script = []step{{err: apiErr(403, "UnauthorizedOperation")}}
	f.mu.Unlock()
	s.Master()
	advanceUntil(t, fc, 50*time.Millisecond, func() bool { return state(s) == StateFailed })
	failed := s.Status()[0].ErrorAt
	s.Backup()
	if err := s.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.observeErr = apiErr(500, "InternalError")
	f.mu.Unlock()
	s.refresh(context.Background()) // fails
	s.refresh(context.Background()) // good
	if st = s.Status()[0]; st.State != StateReleased || !strings.Contains(st.Error, "missing IAM permission") || !st.ErrorAt.Equal(failed) {
		t.Fatalf("after the release, a failed look and a good one: %+v", st)
	}
	s.Master()
	advanceUntil(t, fc, 50*time.Millisecond, func() bool { return state(s) == StateDone })
	if st = s.Status()[0]; st.Error != "" || !st.ErrorAt.IsZero() {
		t.Errorf("after a verified round: %+v", st)
	}
}
