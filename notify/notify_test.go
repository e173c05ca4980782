package notify

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/internal/proc"
)

// These tests replace proc.Run with a fake inside a synctest bubble: time
// is fake, so a script "running" for an hour costs nothing, and the bubble
// fails the test if any goroutine (a leaked worker) outlives it.

type call struct {
	spec       proc.Spec
	start, end time.Time
	timeout    time.Duration // deadline − start
}

// fakeRunner records calls and plays each script with behave.
type fakeRunner struct {
	mu     sync.Mutex
	calls  []call
	behave func(ctx context.Context, s proc.Spec) proc.Result
}

func (f *fakeRunner) run(ctx context.Context, s proc.Spec) proc.Result {
	start := time.Now()
	dl, _ := ctx.Deadline()
	r := proc.Result{ExitCode: 0}
	if f.behave != nil {
		r = f.behave(ctx, s)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call{spec: s, start: start, end: time.Now(), timeout: dl.Sub(start)})
	f.mu.Unlock()
	return r
}

func (f *fakeRunner) argvs() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([][]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.spec.Argv
	}
	return out
}

// sleepFor plays a script that runs for d, or until killed.
func sleepFor(d time.Duration) func(context.Context, proc.Spec) proc.Result {
	return func(ctx context.Context, _ proc.Spec) proc.Result {
		select {
		case <-time.After(d):
			return proc.Result{ExitCode: 0, Duration: d}
		case <-ctx.Done():
			return proc.Result{ExitCode: -1, TimedOut: ctx.Err() == context.DeadlineExceeded, Err: ctx.Err()}
		}
	}
}

// harness runs a Notifier with a fake runner in the current bubble.
type harness struct {
	n      *Notifier
	f      *fakeRunner
	cancel context.CancelFunc
	done   chan struct{}
}

func start(opts Options, f *fakeRunner) *harness {
	opts.run = f.run
	h := &harness{n: New(opts), f: f, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.n.Run(ctx); close(h.done) }()
	return h
}

// stop cancels Run and waits for it to return.
func (h *harness) stop() {
	h.cancel()
	<-h.done
}

var (
	scriptsAll = Config{
		Any:              []string{"/etc/vipd/notify.sh", "--all"},
		Master:           []string{"/etc/vipd/master.sh"},
		Backup:           []string{"/etc/vipd/backup.sh", "b"},
		Fault:            []string{"/etc/vipd/fault.sh"},
		Stop:             []string{"/etc/vipd/stop.sh"},
		MasterRxLowerPri: []string{"/etc/vipd/rxlow.sh", "x"},
	}
	onlyAny = Config{Any: []string{"/n.sh"}}
)

func TestScriptsAndArguments(t *testing.T) {
	ev := func(typ Type, name string, state fsm.State, prio uint8) Event {
		return Event{Type: typ, Name: name, State: state, Priority: prio}
	}
	tests := []struct {
		name    string
		scripts Config
		ev      Event
		want    [][]string
	}{
		{"master: state script as-is, then notify with TYPE NAME STATE PRIORITY", scriptsAll, ev("INSTANCE", "VI_1", fsm.Master, 100),
			[][]string{{"/etc/vipd/master.sh"}, {"/etc/vipd/notify.sh", "--all", "INSTANCE", "VI_1", "MASTER", "100"}}},
		{"backup keeps its own configured arguments", scriptsAll, ev("INSTANCE", "VI_1", fsm.Backup, 90),
			[][]string{{"/etc/vipd/backup.sh", "b"}, {"/etc/vipd/notify.sh", "--all", "INSTANCE", "VI_1", "BACKUP", "90"}}},
		{"fault", scriptsAll, ev("INSTANCE", "VI_1", fsm.Fault, 1),
			[][]string{{"/etc/vipd/fault.sh"}, {"/etc/vipd/notify.sh", "--all", "INSTANCE", "VI_1", "FAULT", "1"}}},
		{"stop", scriptsAll, ev("INSTANCE", "VI_1", fsm.Stopped, 255),
			[][]string{{"/etc/vipd/stop.sh"}, {"/etc/vipd/notify.sh", "--all", "INSTANCE", "VI_1", "STOP", "255"}}},
		{"empty type means INSTANCE", onlyAny, ev("", "VI_2", fsm.Backup, 50),
			[][]string{{"/n.sh", "INSTANCE", "VI_2", "BACKUP", "50"}}},
		{"group: notify gets priority 0 as in keepalived", scriptsAll, ev("GROUP", "G1", fsm.Master, 100),
			[][]string{{"/etc/vipd/master.sh"}, {"/etc/vipd/notify.sh", "--all", "GROUP", "G1", "MASTER", "0"}}},
		{"only the state script configured", Config{Master: []string{"/m.sh"}}, ev("INSTANCE", "VI_1", fsm.Master, 100),
			[][]string{{"/m.sh"}}},
		{"no script for this state and no notify: nothing", Config{Master: []string{"/m.sh"}}, ev("INSTANCE", "VI_1", fsm.Backup, 100),
			nil},
		{"unknown state runs only notify", scriptsAll, ev("INSTANCE", "VI_1", fsm.Init, 100),
			[][]string{{"/etc/vipd/notify.sh", "--all", "INSTANCE", "VI_1", "INIT", "100"}}},
		{"rx lower priority runs only its script, no added arguments", scriptsAll,
			Event{Type: "INSTANCE", Name: "VI_1", State: fsm.Master, Priority: 100, RxLowerPri: true},
			[][]string{{"/etc/vipd/rxlow.sh", "x"}}},
		{"rx lower priority without its script: nothing", onlyAny,
			Event{Type: "INSTANCE", Name: "VI_1", State: fsm.Master, Priority: 100, RxLowerPri: true}, nil},
		{"empty argv counts as not configured", Config{Any: []string{}, Master: []string{}}, ev("INSTANCE", "VI_1", fsm.Master, 100),
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(Options{}, &fakeRunner{})
				h.n.Notify(tc.scripts, tc.ev)
				synctest.Wait()
				h.stop()
				if got := h.f.argvs(); !reflect.DeepEqual(got, tc.want) && (len(got) != 0 || len(tc.want) != 0) {
					t.Fatalf("ran\n %q\nwant\n %q", got, tc.want)
				}
				if st := h.n.Stats(); st.Runs != uint64(len(tc.want)) || st.Dropped != 0 || st.Failures != 0 {
					t.Fatalf("Stats %+v, want %d runs and nothing else", st, len(tc.want))
				}
			})
		})
	}
}

func TestEnvironmentUserAndTimeout(t *testing.T) {
	tests := []struct {
		name        string
		timeout     time.Duration
		ev          Event
		wantTimeout time.Duration
		wantEnv     []string
	}{
		{
			name:        "instance with failed checks and default timeout",
			ev:          Event{Type: "INSTANCE", Name: "VI_1", State: fsm.Backup, PrevState: fsm.Master, Priority: 95, Reason: "check dns failed", FailedChecks: []string{"dns", "http"}, Node: "cnh"},
			wantTimeout: DefaultTimeout,
			wantEnv: []string{"PATH=/test/bin", "VIPD_TYPE=INSTANCE", "VIPD_NAME=VI_1", "VIPD_STATE=BACKUP", "VIPD_PREV_STATE=MASTER",
				"VIPD_PRIORITY=95", "VIPD_REASON=check dns failed", "VIPD_FAILED_CHECKS=dns,http", "VIPD_NODE=cnh"},
		},
		{
			name:        "group, no checks, configured timeout, NUL bytes removed",
			timeout:     3 * time.Second,
			ev:          Event{Type: "GROUP", Name: "G", State: fsm.Master, PrevState: fsm.Backup, Priority: 0, Reason: "a\x00b", Node: "n1"},
			wantTimeout: 3 * time.Second,
			wantEnv: []string{"PATH=/test/bin", "VIPD_TYPE=GROUP", "VIPD_NAME=G", "VIPD_STATE=MASTER", "VIPD_PREV_STATE=BACKUP",
				"VIPD_PRIORITY=0", "VIPD_REASON=ab", "VIPD_FAILED_CHECKS=", "VIPD_NODE=n1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", "/test/bin")
			synctest.Test(t, func(t *testing.T) {
				h := start(Options{User: "nobody", Group: "nogroup"}, &fakeRunner{})
				h.n.Notify(Config{Any: []string{"/n.sh"}, Timeout: tc.timeout}, tc.ev)
				synctest.Wait()
				h.stop()
				if len(h.f.calls) != 1 {
					t.Fatalf("%d calls, want 1", len(h.f.calls))
				}
				c := h.f.calls[0]
				if !reflect.DeepEqual(c.spec.Env, tc.wantEnv) {
					t.Errorf("Env\n %q\nwant\n %q", c.spec.Env, tc.wantEnv)
				}
				if c.spec.User != "nobody" || c.spec.Group != "nogroup" {
					t.Errorf("User %q Group %q, want nobody nogroup", c.spec.User, c.spec.Group)
				}
				if c.timeout != tc.wantTimeout {
					t.Errorf("timeout %v, want %v", c.timeout, tc.wantTimeout)
				}
			})
		})
	}
}

// TestOrderAndParallelism: a burst of events for two sources; each
// source's scripts run in event order, never overlapping; the two sources
// run side by side.
func TestOrderAndParallelism(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const perSource, scriptTime = 25, time.Second
		h := start(Options{}, &fakeRunner{behave: sleepFor(scriptTime)})
		begin := time.Now()
		states := []fsm.State{fsm.Master, fsm.Backup, fsm.Fault}
		stateScripts := map[fsm.State]string{fsm.Master: scriptsAll.Master[0], fsm.Backup: scriptsAll.Backup[0], fsm.Fault: scriptsAll.Fault[0]}
		for i := range perSource {
			for _, name := range []string{"A", "B"} {
				h.n.Notify(scriptsAll, Event{Name: name, State: states[i%3], Priority: uint8(i + 1)})
			}
		}
		// In series this would take 100 s; in parallel 50 s.
		time.Sleep(2*perSource*scriptTime - time.Nanosecond)
		synctest.Wait()
		if got := len(h.f.argvs()); got != 4*perSource-2 {
			t.Fatalf("%d scripts done just before 50s, want all but the last of each source", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		h.stop()

		bySource := map[string][]call{}
		for _, c := range h.f.calls {
			if c.spec.Argv[0] == "/etc/vipd/notify.sh" {
				bySource[c.spec.Argv[3]] = append(bySource[c.spec.Argv[3]], c)
			} else {
				// State scripts carry the source only in the environment.
				bySource[envValue(c.spec.Env, "VIPD_NAME")] = append(bySource[envValue(c.spec.Env, "VIPD_NAME")], c)
			}
		}
		for _, name := range []string{"A", "B"} {
			cs := bySource[name]
			if len(cs) != 2*perSource {
				t.Fatalf("source %s ran %d scripts, want %d", name, len(cs), 2*perSource)
			}
			slices.SortStableFunc(cs, func(a, b call) int { return a.start.Compare(b.start) })
			for i := range perSource {
				st, nt := cs[2*i], cs[2*i+1]
				wantState := stateScripts[states[i%3]]
				if st.spec.Argv[0] != wantState || envValue(st.spec.Env, "VIPD_PRIORITY") != strconv.Itoa(i+1) {
					t.Fatalf("source %s event %d: first script %q prio %s, want %s prio %d", name, i, st.spec.Argv,
						envValue(st.spec.Env, "VIPD_PRIORITY"), wantState, i+1)
				}
				if nt.spec.Argv[0] != "/etc/vipd/notify.sh" || nt.spec.Argv[5] != strconv.Itoa(i+1) {
					t.Fatalf("source %s event %d: second script %q, want notify with priority %d", name, i, nt.spec.Argv, i+1)
				}
			}
			for i := 1; i < len(cs); i++ {
				if cs[i].start.Before(cs[i-1].end) {
					t.Fatalf("source %s: script %d started at %v before script %d ended at %v", name, i, cs[i].start, i-1, cs[i-1].end)
				}
			}
		}
		if last := lastEnded(bySource).end.Sub(begin); last != 2*perSource*scriptTime {
			t.Fatalf("burst took %v, want %v (the two sources in parallel)", last, 2*perSource*scriptTime)
		}
	})
}

// lastEnded returns the call that ended last.
func lastEnded(bySource map[string][]call) call {
	var last call
	for _, cs := range bySource {
		for _, c := range cs {
			if c.end.After(last.end) {
				last = c
			}
		}
	}
	return last
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if len(kv) > len(key) && kv[:len(key)] == key && kv[len(key)] == '=' {
			return kv[len(key)+1:]
		}
	}
	return ""
}

func TestQueueOverflow(t *testing.T) {
	tests := []struct {
		name     string
		queueLen int
		events   int // for one source, the first of which starts at once
		dropped  uint64
	}{
		{"fits exactly", 3, 4, 0},
		{"two over", 3, 6, 2},
		{"default length", 0, DefaultQueueLen + 1 + 5, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(Options{QueueLen: tc.queueLen}, &fakeRunner{behave: sleepFor(time.Hour)})
				h.n.Notify(onlyAny, Event{Name: "A", State: fsm.Master, Priority: 0})
				synctest.Wait() // the first event is running, the queue empty
				for i := 1; i < tc.events; i++ {
					h.n.Notify(onlyAny, Event{Name: "A", State: fsm.Master, Priority: uint8(i)})
				}
				if got := h.n.Dropped(); got != tc.dropped {
					t.Fatalf("Dropped() = %d, want %d", got, tc.dropped)
				}
				time.Sleep(time.Duration(tc.events) * time.Hour) // fake time: let the queue run
				h.stop()
				st := h.n.Stats()
				if want := uint64(tc.events) - tc.dropped; st.Runs != want || st.Dropped != tc.dropped {
					t.Fatalf("Stats %+v, want %d runs %d dropped", st, want, tc.dropped)
				}
				// The ones kept are the oldest, in order.
				for i, a := range h.f.argvs() {
					if a[4] != strconv.Itoa(i) {
						t.Fatalf("run %d was %q, want priority %d", i, a, i)
					}
				}
			})
		})
	}
}

func TestLifecycle(t *testing.T) {
	t.Run("events before Run wait for it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := &fakeRunner{}
			n := New(Options{run: f.run})
			n.Notify(onlyAny, Event{Name: "A", State: fsm.Master, Priority: 1})
			n.Notify(onlyAny, Event{Name: "B", State: fsm.Master, Priority: 2})
			synctest.Wait()
			if len(f.argvs()) != 0 {
				t.Fatalf("scripts ran before Run: %q", f.argvs())
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { n.Run(ctx); close(done) }()
			synctest.Wait()
			if got := len(f.argvs()); got != 2 {
				t.Fatalf("%d scripts ran after Run started, want 2", got)
			}
			cancel()
			<-done
		})
	})
	t.Run("events after Run returned are dropped", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(Options{}, &fakeRunner{})
			h.stop()
			h.n.Notify(onlyAny, Event{Name: "A", State: fsm.Master})
			synctest.Wait()
			if st := h.n.Stats(); st.Runs != 0 || st.Dropped != 1 {
				t.Fatalf("Stats %+v, want 0 runs 1 dropped", st)
			}
		})
	})
	t.Run("a second Run returns at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(Options{}, &fakeRunner{})
			synctest.Wait()
			h.n.Run(context.Background()) // would block forever if it ran
			h.stop()
		})
	})
	t.Run("cancel drains queued and in-flight scripts", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(Options{}, &fakeRunner{behave: sleepFor(2 * time.Second)})
			for i := range 3 {
				h.n.Notify(onlyAny, Event{Name: "A", State: fsm.Stopped, Priority: uint8(i)})
			}
			begin := time.Now()
			h.stop()
			if got := time.Since(begin); got != 6*time.Second {
				t.Fatalf("Run returned after %v, want 6s (three 2s scripts drained)", got)
			}
			if st := h.n.Stats(); st.Runs != 3 || st.Dropped != 0 || st.Failures != 0 {
				t.Fatalf("Stats %+v, want 3 clean runs", st)
			}
		})
	})
	t.Run("drain timeout kills in-flight scripts and drops the rest", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			h := start(Options{DrainTimeout: 5 * time.Second}, &fakeRunner{behave: sleepFor(time.Hour)})
			for i := range 3 {
				h.n.Notify(scriptsAll, Event{Name: "A", State: fsm.Stopped, Priority: uint8(i)})
			}
			synctest.Wait()
			begin := time.Now()
			h.stop()
			if got := time.Since(begin); got != 5*time.Second {
				t.Fatalf("Run returned after %v, want the 5s drain timeout", got)
			}
			// Event 0's stop script was killed and its notify not run;
			// events 1 and 2 never began.
			if st := h.n.Stats(); st.Runs != 1 || st.Failures != 1 || st.Timeouts != 0 || st.Dropped != 2 {
				t.Fatalf("Stats %+v, want 1 failed run, 2 dropped", st)
			}
		})
	})
}

// TestHungScriptTimesOut: a script that hangs is stopped at its timeout,
// counted, and the source's next event still runs.
func TestHungScriptTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRunner{behave: func(ctx context.Context, s proc.Spec) proc.Result {
			if s.Argv[0] == "/hang.sh" {
				return sleepFor(time.Hour)(ctx, s)
			}
			if s.Argv[0] == "/fail.sh" {
				return proc.Result{ExitCode: 2}
			}
			return proc.Result{}
		}}
		var seenMu sync.Mutex
		var seen []string // what OnRun was told: hook and error
		h := start(Options{OnRun: func(hook string, d time.Duration, err error) {
			seenMu.Lock()
			seen = append(seen, fmt.Sprintf("%s %v", hook, err))
			seenMu.Unlock()
		}}, f)
		scripts := Config{Master: []string{"/hang.sh"}, Backup: []string{"/fail.sh"}, Fault: []string{"/ok.sh"}, Timeout: 2 * time.Second}
		h.n.Notify(scripts, Event{Name: "A", State: fsm.Master})
		h.n.Notify(scripts, Event{Name: "A", State: fsm.Backup})
		h.n.Notify(scripts, Event{Name: "A", State: fsm.Fault})
		time.Sleep(2*time.Second - time.Nanosecond)
		synctest.Wait()
		if got := len(h.f.argvs()); got != 0 {
			t.Fatalf("%d scripts done before the hung one's 2s timeout, want 0", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := len(h.f.argvs()); got != 3 {
			t.Fatalf("%d scripts done at the hung one's timeout, want all 3", got)
		}
		h.stop()
		if got := h.f.argvs(); !reflect.DeepEqual(got, [][]string{{"/hang.sh"}, {"/fail.sh"}, {"/ok.sh"}}) {
			t.Fatalf("ran %q", got)
		}
		if st := h.n.Stats(); st.Runs != 3 || st.Timeouts != 1 || st.Failures != 2 {
			t.Fatalf("Stats %+v, want 3 runs, 1 timeout, 2 failures", st)
		}
		seenMu.Lock()
		defer seenMu.Unlock()
		want := []string{"notify_master timed out after 2s", "notify_backup exit status 2", "notify_fault <nil>"}
		if !reflect.DeepEqual(seen, want) {
			t.Errorf("OnRun saw %q, want %q", seen, want)
		}
	})
}

// TestConcurrentNotify hammers Notify from many goroutines (run with -race).
func TestConcurrentNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(Options{QueueLen: 10000}, &fakeRunner{behave: sleepFor(time.Millisecond)})
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					h.n.Notify(onlyAny, Event{Name: fmt.Sprint("src", g%3), State: fsm.Backup, Priority: uint8(i)})
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		h.stop()
		if st := h.n.Stats(); st.Runs != 400 || st.Dropped != 0 {
			t.Fatalf("Stats %+v, want 400 runs", st)
		}
	})
}

// TestScriptUsers: a script that names its own user runs as that user (and
// its primary group unless it names one); the others run as Options say.
func TestScriptUsers(t *testing.T) {
	type who struct{ user, group string }
	scripts := Config{
		Any:              []string{"/n.sh"},
		Master:           []string{"/m.sh"},
		Backup:           []string{"/b.sh"},
		MasterRxLowerPri: []string{"/rx.sh"},
		RunAs: map[Script]User{
			ScriptMaster:           {User: "alice"},
			ScriptAny:              {User: "bob", Group: "staff"},
			ScriptMasterRxLowerPri: {User: "carol", Group: "ops"},
		},
	}
	tests := []struct {
		name    string
		opts    Options
		scripts Config
		ev      Event
		want    map[string]who // argv[0] → who ran it
	}{
		{"own user with its primary group, not the global group", Options{User: "glob", Group: "gg"}, scripts,
			Event{Name: "VI_1", State: fsm.Master}, map[string]who{"/m.sh": {"alice", ""}, "/n.sh": {"bob", "staff"}}},
		{"script without its own user runs as the global one", Options{User: "glob", Group: "gg"}, scripts,
			Event{Name: "VI_1", State: fsm.Backup}, map[string]who{"/b.sh": {"glob", "gg"}, "/n.sh": {"bob", "staff"}}},
		{"no global user: vipd's own", Options{}, scripts,
			Event{Name: "VI_1", State: fsm.Backup}, map[string]who{"/b.sh": {"", ""}, "/n.sh": {"bob", "staff"}}},
		{"rx lower priority has its own user", Options{User: "glob"}, scripts,
			Event{Name: "VI_1", State: fsm.Master, RxLowerPri: true}, map[string]who{"/rx.sh": {"carol", "ops"}}},
		{"an entry without a user means the default", Options{User: "glob"},
			Config{Fault: []string{"/f.sh"}, RunAs: map[Script]User{ScriptFault: {}}},
			Event{Name: "VI_1", State: fsm.Fault}, map[string]who{"/f.sh": {"glob", ""}}},
		{"group scripts too", Options{}, scripts,
			Event{Type: TypeGroup, Name: "G", State: fsm.Master}, map[string]who{"/m.sh": {"alice", ""}, "/n.sh": {"bob", "staff"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := start(tc.opts, &fakeRunner{})
				h.n.Notify(tc.scripts, tc.ev)
				synctest.Wait()
				h.stop()
				got := map[string]who{}
				for _, c := range h.f.calls {
					got[c.spec.Argv[0]] = who{c.spec.User, c.spec.Group}
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("ran as %+v, want %+v", got, tc.want)
				}
			})
		})
	}
}

// TestScriptUsersAreCopied: the caller may change its RunAs map once
// Notify has returned; the queued event keeps the users it was given.
func TestScriptUsersAreCopied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRunner{}
		n := New(Options{run: f.run})
		scripts := Config{Master: []string{"/m.sh"},
			RunAs: map[Script]User{ScriptMaster: {User: "alice"}}}
		n.Notify(scripts, Event{Name: "VI_1", State: fsm.Master}) // queued: Run has not started
		scripts.RunAs[ScriptMaster] = User{User: "mallory"}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { n.Run(ctx); close(done) }()
		synctest.Wait()
		cancel()
		<-done
		if len(f.calls) != 1 || f.calls[0].spec.User != "alice" {
			t.Fatalf("calls %+v, want one run as alice", f.calls)
		}
	})
}
