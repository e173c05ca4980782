//go:build linux

package sched

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/internal/lab"
	"golang.org/x/sys/unix"
)

// requireRoot skips a test that needs CAP_SYS_NICE on a laptop; in CI
// (root) it must run.
func requireRoot(t *testing.T) {
	t.Helper()
	lab.RequireRoot(t)
}

func attrOf(t *testing.T, tid int) *unix.SchedAttr {
	t.Helper()
	at, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		t.Fatalf("sched_getattr %d: %v", tid, err)
	}
	return at
}

// TestApplyAndChildren: Apply puts a process's threads under the policy
// once (a second pass changes nothing), and what the process forks starts
// under the normal policy, as check and notify scripts must.
func TestApplyAndChildren(t *testing.T) {
	requireRoot(t)
	for _, s := range []Settings{{Policy: RR, Priority: 7}, {Policy: FIFO, Priority: 3}, {Policy: Other, Nice: -4}} {
		t.Run(s.String(), func(t *testing.T) {
			// sh waits for a line, then forks a sleep and prints its pid.
			cmd := exec.Command("/bin/sh", "-c", `read x; sleep 30 & echo $!; wait`)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the group ends with the test
			in, _ := cmd.StdinPipe()
			outPipe, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			th, err := NewThreads(s)
			if err != nil {
				t.Fatal(err)
			}
			th.taskDir = fmt.Sprintf("/proc/%d/task", cmd.Process.Pid)
			if n, err := th.Apply(); err != nil || n != 1 {
				t.Fatalf("Apply = %d, %v; want 1 thread changed", n, err)
			}
			at := attrOf(t, cmd.Process.Pid)
			if !th.holds(at) {
				t.Fatalf("after Apply: policy %d priority %d nice %d flags %#x", at.Policy, at.Priority, at.Nice, at.Flags)
			}
			if n, err := th.Apply(); err != nil || n != 0 {
				t.Fatalf("second Apply = %d, %v; want nothing to change", n, err)
			}
			fmt.Fprintln(in, "go")
			line, err := bufio.NewReader(outPipe).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			child, err := strconv.Atoi(strings.TrimSpace(line))
			if err != nil {
				t.Fatal(err)
			}
			if at := attrOf(t, child); at.Policy != unix.SCHED_NORMAL || at.Priority != 0 || at.Nice != 0 {
				t.Fatalf("child: policy %d priority %d nice %d, want the normal policy at nice 0", at.Policy, at.Priority, at.Nice)
			}
		})
	}
}

func TestNewThreadsRejects(t *testing.T) {
	for _, s := range []Settings{{Policy: RR}, {Policy: FIFO, Priority: 100}, {Nice: 20}, {Nice: -21}, {Policy: Policy(9), Priority: 1}} {
		if _, err := NewThreads(s); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
}

func TestCapEff(t *testing.T) {
	st := []byte("Name:\tvipd\nCapInh:\t0000000000000000\nCapEff:\t0000000000004000\n")
	if ok, err := capEff(st, capIPCLock); !ok || err != nil {
		t.Errorf("capEff = %v, %v; want CAP_IPC_LOCK", ok, err)
	}
	if ok, err := capEff(st, 21); ok || err != nil {
		t.Errorf("capEff bit 21 = %v, %v", ok, err)
	}
	if _, err := capEff([]byte("Name: x\n"), 1); err == nil {
		t.Error("no CapEff line: no error")
	}
}

// The child modes of this test binary, run by the tests below.
const childEnv = "VIPD_SCHED_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "refused":
		childRefused()
	case "sweep":
		childSweep()
	}
	os.Exit(0)
}

// childRefused runs unprivileged: it prints what Apply and LockMemory say.
func childRefused() {
	// No real-time priority and little lockable memory, whatever the
	// parent's limits were.
	_ = unix.Setrlimit(unix.RLIMIT_RTPRIO, &unix.Rlimit{})
	_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: 64 << 10, Max: 64 << 10})
	th, err := NewThreads(Settings{Policy: RR, Priority: 10})
	if err == nil {
		_, err = th.Apply()
	}
	fmt.Println("apply:", err)
	_, err = LockMemory()
	fmt.Println("lock:", err)
}

// TestRefusedExplains runs a copy of this test binary as nobody: both
// settings fail with EPERM (or the limit) and say what would allow them.
func TestRefusedExplains(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} { // nobody must reach the copy
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "sched.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=refused")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		"apply: sched: set scheduling rr 10 on thread",
		"operation not permitted (real-time scheduling needs CAP_SYS_NICE or RLIMIT_RTPRIO of at least 10 (systemd: LimitRTPRIO=10, and RestrictRealtime=no)",
		"lock: sched: lock memory: RLIMIT_MEMLOCK is 65536 bytes and the process lacks CAP_IPC_LOCK (locking memory needs CAP_IPC_LOCK or an unlimited RLIMIT_MEMLOCK (systemd: LimitMEMLOCK=infinity)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("child said:\n%s\nwant %q", got, want)
		}
	}
	var e *Error
	if !errors.As(error(&Error{Err: unix.EPERM}), &e) || !errors.Is(e, unix.EPERM) {
		t.Error("Error does not unwrap to its errno")
	}
}

// childSweep: after Apply, a thread the runtime starts begins under the
// normal policy (SCHED_RESET_ON_FORK), and Run's next sweep, on a fake
// clock, puts it under the settings.
func childSweep() {
	fail := func(f string, a ...any) { fmt.Printf("FAIL "+f+"\n", a...); os.Exit(0) }
	th, err := NewThreads(Settings{Policy: RR, Priority: 5})
	if err != nil {
		fail("%v", err)
	}
	if _, err := th.Apply(); err != nil {
		fail("%v", err)
	}
	// A goroutine that keeps its thread busy in a blocking call makes
	// the runtime start another thread for the others; find it.
	before := map[int]bool{}
	ents, _ := os.ReadDir("/proc/self/task")
	for _, e := range ents {
		tid, _ := strconv.Atoi(e.Name())
		before[tid] = true
	}
	for range 2 * runtime.GOMAXPROCS(0) {
		go func() {
			runtime.LockOSThread()
			var ts = unix.Timespec{Sec: 30}
			_ = unix.Nanosleep(&ts, nil)
		}()
	}
	fresh := 0
	for deadline := time.Now().Add(5 * time.Second); fresh == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			fail("no new thread started")
		}
		ents, _ := os.ReadDir("/proc/self/task")
		for _, e := range ents {
			if tid, _ := strconv.Atoi(e.Name()); !before[tid] {
				fresh = tid
			}
		}
	}
	if at, _ := unix.SchedGetAttr(fresh, 0); at == nil || at.Policy != unix.SCHED_NORMAL {
		fail("new thread %d started under policy %v, want the normal one", fresh, at)
	}
	// Real threads and /proc: the real clock, and the first look a period
	// after Run starts.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); th.Run(ctx, clock.Real(), time.Second, nil) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		at, _ := unix.SchedGetAttr(fresh, 0)
		if at != nil && th.holds(at) {
			break
		}
		if time.Now().After(deadline) {
			fail("thread %d not swept: %+v", fresh, at)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	fmt.Println("ok")
}

func TestSweepCatchesNewThreads(t *testing.T) {
	requireRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=sweep")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// Run looks at the threads every period while the runtime's thread count
// grows and for steadyLooks periods more, then less and less often
// (reading /proc only at MaxSweepGap), and every period again as soon as
// the count grows or Kick says threads may come. Each read of /proc is
// seen here as a failure to list a missing task directory.
func TestRunBacksOffWhileThreadsStay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th, err := NewThreads(Settings{Policy: Other, Nice: 0})
		if err != nil {
			t.Fatal(err)
		}
		th.taskDir = filepath.Join(t.TempDir(), "missing")
		var threads atomic.Uint64
		threads.Store(5)
		th.threads = threads.Load
		start := time.Now()
		var mu sync.Mutex
		var reads []time.Duration // when /proc was read, since start
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			th.Run(ctx, clock.Real(), time.Second, func(error) {
				mu.Lock()
				defer mu.Unlock()
				reads = append(reads, time.Since(start))
			})
		}()
		readsSoFar := func() []time.Duration {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(reads)
		}
		second := time.Second

		// The first look reads /proc; steadyLooks more a period apart,
		// then gaps that double (2, 4, 8, 16, 32 s), none of which read
		// it, up to MaxSweepGap, which does.
		time.Sleep(second)
		if got := readsSoFar(); !slices.Equal(got, []time.Duration{second}) {
			t.Fatalf("reads %v, want one after the period", got)
		}
		quiet := second + (steadyLooks+1)*second + (2+4+8+16+32)*second + MaxSweepGap
		time.Sleep(quiet - second - time.Millisecond)
		if got := readsSoFar(); len(got) != 1 {
			t.Fatalf("reads %v while the count stayed, want none before %v", got, quiet)
		}
		time.Sleep(time.Millisecond)
		if got := readsSoFar(); !slices.Equal(got, []time.Duration{second, quiet}) {
			t.Fatalf("reads %v, want the safety read at %v", got, quiet)
		}

		// A new thread: read at the next look, then looks every period
		// again (a second thread a period later is read then).
		threads.Store(6)
		time.Sleep(MaxSweepGap)
		at := quiet + MaxSweepGap
		if got := readsSoFar(); len(got) != 3 || got[2] != at {
			t.Fatalf("reads %v, want one more at %v", got, at)
		}
		threads.Store(7)
		time.Sleep(second)
		at += second
		if got := readsSoFar(); len(got) != 4 || got[3] != at {
			t.Fatalf("reads %v, want one more at %v", got, at)
		}

		// Backed off again, Kick brings the looks back to every period.
		time.Sleep((steadyLooks+1)*second + (2+4+8)*second + second/2)
		at += (steadyLooks+1)*second + (2+4+8)*second + second/2
		if got := readsSoFar(); len(got) != 4 {
			t.Fatalf("reads %v while backing off, want none more", got)
		}
		threads.Store(8)
		th.Kick()
		time.Sleep(second)
		if got := readsSoFar(); len(got) != 5 || got[4] != at+second {
			t.Fatalf("reads %v after Kick, want one more at %v", got, at+second)
		}
		cancel()
		<-done
	})
}

// The runtime's thread count is read without a system call and counts
// the threads /proc lists.
func TestThreadCount(t *testing.T) {
	th, err := NewThreads(Settings{Policy: Other})
	if err != nil {
		t.Fatal(err)
	}
	n := th.count()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	// Threads may start between the two reads; the runtime owns them all
	// (no cgo).
	if n == 0 || n > uint64(len(ents)) {
		t.Errorf("runtime counts %d threads, /proc lists %d", n, len(ents))
	}
}
