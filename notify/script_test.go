package notify

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/internal/lab"
)

// These tests run real scripts through internal/proc. Each one queues its
// events, then cancels Run: Run drains the queue before returning, so when
// it has returned every script has run.

// runReal starts a real Notifier, lets feed queue events, then drains.
func runReal(t *testing.T, opts Options, feed func(n *Notifier)) *Notifier {
	t.Helper()
	n := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Run(ctx); close(done) }()
	feed(n)
	cancel()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	return n
}

// writeScript writes an executable shell script into dir.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestRealArgumentsAndEnvironment checks what a script really receives:
// keepalived's arguments, the VIPD_* variables and PATH, and nothing
// inherited from vipd's environment.
func TestRealArgumentsAndEnvironment(t *testing.T) {
	t.Setenv("VIPD_TEST_LEAK", "must-not-reach-scripts")
	dir := t.TempDir()
	// dump.sh OUT [ARGS...]: writes one "arg:" line per argument after
	// OUT, then the environment variables a script could rely on.
	dump := writeScript(t, dir, "dump.sh", `out=$1; shift
{ for a in "$@"; do echo "arg:$a"; done
  env | grep -E '^(VIPD_|PATH=|HOME=)' | sort; } > "$out"
`)
	out := func(name string) string { return filepath.Join(dir, name) }
	envLines := func(typ, name, state, prio string) []string {
		return []string{"PATH=" + os.Getenv("PATH"), "VIPD_FAILED_CHECKS=dns,http", "VIPD_NAME=" + name, "VIPD_NODE=cnh",
			"VIPD_PREV_STATE=BACKUP", "VIPD_PRIORITY=" + prio, "VIPD_REASON=master down timer expired", "VIPD_STATE=" + state, "VIPD_TYPE=" + typ}
	}
	ev := Event{Name: "VI_1", State: fsm.Master, PrevState: fsm.Backup, Priority: 100, Reason: "master down timer expired",
		FailedChecks: []string{"dns", "http"}, Node: "cnh"}
	group := ev
	group.Type, group.Name = TypeGroup, "G1"
	rx := ev
	rx.RxLowerPri = true

	tests := []struct {
		name    string
		scripts Config
		ev      Event
		files   map[string][]string // file → exact content
	}{
		{"instance master", Config{Master: []string{dump, out("m")}, Any: []string{dump, out("n")}}, ev, map[string][]string{
			"m": envLines("INSTANCE", "VI_1", "MASTER", "100"),
			"n": append([]string{"arg:INSTANCE", "arg:VI_1", "arg:MASTER", "arg:100"}, envLines("INSTANCE", "VI_1", "MASTER", "100")...),
		}},
		{"configured arguments are kept before keepalived's", Config{Any: []string{dump, out("n"), "my arg"}}, ev, map[string][]string{
			"n": append([]string{"arg:my arg", "arg:INSTANCE", "arg:VI_1", "arg:MASTER", "arg:100"}, envLines("INSTANCE", "VI_1", "MASTER", "100")...),
		}},
		{"group gets priority 0", Config{Any: []string{dump, out("n")}}, group, map[string][]string{
			"n": append([]string{"arg:GROUP", "arg:G1", "arg:MASTER", "arg:0"}, envLines("GROUP", "G1", "MASTER", "100")...),
		}},
		{"rx lower priority", Config{MasterRxLowerPri: []string{dump, out("r")}, Any: []string{dump, out("n")}}, rx, map[string][]string{
			"r": envLines("INSTANCE", "VI_1", "MASTER", "100"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, f := range []string{"m", "n", "r"} {
				_ = os.Remove(out(f))
			}
			n := runReal(t, Options{}, func(n *Notifier) { n.Notify(tc.scripts, tc.ev) })
			if st := n.Stats(); st.Failures != 0 || st.Runs != uint64(len(tc.files)) {
				t.Fatalf("Stats %+v, want %d clean runs", st, len(tc.files))
			}
			for f, want := range tc.files {
				if got := readLines(t, out(f)); !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got  %q\n want %q", f, got, want)
				}
			}
			for _, f := range []string{"m", "n", "r"} {
				if _, ok := tc.files[f]; !ok {
					if _, err := os.Stat(out(f)); err == nil {
						t.Errorf("script writing %s ran, want not", f)
					}
				}
			}
		})
	}
}

// TestRealOrderUnderBurst: a burst of events for three sources; each
// source's log shows its scripts in event order, state script first.
func TestRealOrderUnderBurst(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	// log.sh FILE WHAT [ARGS...]: appends one line per run.
	logSh := writeScript(t, dir, "log.sh", `f=$1; shift; echo "$VIPD_PRIORITY $*" >> "$f"`)
	const perSource = 30
	names := []string{"A", "B", "C"}
	states := []fsm.State{fsm.Master, fsm.Backup, fsm.Fault}
	words := []string{"MASTER", "BACKUP", "FAULT"} // what the scripts must get
	n := runReal(t, Options{}, func(n *Notifier) {
		for i := range perSource {
			for _, name := range names {
				f := filepath.Join(dir, name+".log")
				scripts := Config{
					Master: []string{logSh, f, "master"}, Backup: []string{logSh, f, "backup"}, Fault: []string{logSh, f, "fault"},
					Any: []string{logSh, f, "notify"},
				}
				n.Notify(scripts, Event{Name: name, State: states[i%3], Priority: uint8(i + 1)})
			}
		}
	})
	if st := n.Stats(); st.Runs != 2*perSource*uint64(len(names)) || st.Failures != 0 || st.Dropped != 0 {
		t.Fatalf("Stats %+v", st)
	}
	for _, name := range names {
		var want []string
		for i := range perSource {
			p, st := strconv.Itoa(i+1), words[i%3]
			want = append(want, p+" "+strings.ToLower(st), fmt.Sprintf("%s notify INSTANCE %s %s %s", p, name, st, p))
		}
		if got := readLines(t, filepath.Join(dir, name+".log")); !reflect.DeepEqual(got, want) {
			t.Errorf("%s.log:\n got  %q\n want %q", name, got, want)
		}
	}
	// No worker or process-watching goroutine may outlive Run.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("%d goroutines after Run returned, %d before", after, before)
	}
}

// TestRealHungScriptKilled: a hung notify_master (with a background child)
// is killed, process group and all, at the timeout, and the source's next
// event still runs.
func TestRealHungScriptKilled(t *testing.T) {
	dir := t.TempDir()
	pidFile, marker := filepath.Join(dir, "pid"), filepath.Join(dir, "marker")
	scripts := Config{
		Master:  []string{"/bin/sh", "-c", "sleep 100 & echo $! > " + pidFile + "; wait"},
		Backup:  []string{"/bin/sh", "-c", "echo $VIPD_STATE > " + marker},
		Timeout: 300 * time.Millisecond,
	}
	begin := time.Now()
	n := runReal(t, Options{}, func(n *Notifier) {
		n.Notify(scripts, Event{Name: "VI_1", State: fsm.Master, Priority: 100})
		n.Notify(scripts, Event{Name: "VI_1", State: fsm.Backup, Priority: 100})
	})
	if elapsed := time.Since(begin); elapsed > 10*time.Second {
		t.Fatalf("took %v: the hung script was not killed at its 300ms timeout", elapsed)
	}
	if st := n.Stats(); st.Runs != 2 || st.Timeouts != 1 || st.Failures != 1 {
		t.Fatalf("Stats %+v, want 2 runs, 1 timeout", st)
	}
	if got := readLines(t, marker); !reflect.DeepEqual(got, []string{"BACKUP"}) {
		t.Fatalf("marker %q, want BACKUP: the next event's script did not run", got)
	}
	pid, err := strconv.Atoi(readLines(t, pidFile)[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	if err := syscall.Kill(pid, 0); err == nil {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !strings.Contains(string(b), ") Z ") {
			t.Fatalf("the hung script's background child %d still runs", pid)
		}
	}
}

// TestRealScriptUsers runs real scripts as their own users: each one
// succeeds only when it runs as the uid and gid it expects.
func TestRealScriptUsers(t *testing.T) {
	lab.RequireRoot(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("this test needs a nobody user: %v", err)
	}
	// expect runs a script that fails unless it runs as uid:gid.
	expect := func(uid, gid string) []string {
		return []string{"/bin/sh", "-c", fmt.Sprintf(`test "$(id -u):$(id -g)" = "%s:%s"`, uid, gid)}
	}
	tests := []struct {
		name    string
		opts    Options
		scripts Config
	}{
		{"own user; notify as vipd", Options{}, Config{
			Master: expect(nobody.Uid, nobody.Gid),
			Any:    expect("0", "0"),
			RunAs:  map[Script]User{ScriptMaster: {User: "nobody"}},
		}},
		{"own user beats the global one", Options{User: "nobody"}, Config{
			Master: expect("0", "0"),
			Any:    expect(nobody.Uid, nobody.Gid),
			RunAs:  map[Script]User{ScriptMaster: {User: "root"}},
		}},
		{"own user and group", Options{}, Config{
			Master: expect(nobody.Uid, "0"),
			Any:    expect("0", "0"),
			RunAs:  map[Script]User{ScriptMaster: {User: "nobody", Group: "0"}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := runReal(t, tc.opts, func(n *Notifier) {
				n.Notify(tc.scripts, Event{Name: "VI_1", State: fsm.Master, Priority: 100})
			})
			if st := n.Stats(); st.Runs != 2 || st.Failures != 0 {
				t.Fatalf("Stats %+v, want 2 runs, each as its expected user", st)
			}
		})
	}
}
