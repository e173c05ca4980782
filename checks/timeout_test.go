package checks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// mkfifo makes a FIFO in a temporary directory.
func mkfifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// holdWriter opens path for writing (O_RDWR, which does not wait for a
// reader) and keeps it open until the test ends: a writer that has
// written nothing yet.
func holdWriter(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// fifoTimeout is the probes' timeout on a FIFO nobody writes.
const fifoTimeout = 300 * time.Millisecond

// silentFIFO builds the prober check(path) makes for a FIFO at path whose
// writer has written nothing yet, and shows that a probe then waits until
// its timeout and fails with ErrTimeout. It returns the prober and the
// writer.
func silentFIFO(t *testing.T, check func(path string) *Config) (Prober, *os.File) {
	t.Helper()
	path := mkfifo(t)
	w := holdWriter(t, path)
	p, err := NewProber(check(path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, d := probeBounded(t, p, fifoTimeout, nil)
	wantTimeout(t, r, d, fifoTimeout)
	return p, w
}

// writeSoon writes s to w a moment after the probe about to start has
// begun to wait.
func writeSoon(w *os.File, s string) {
	go func() {
		time.Sleep(100 * time.Millisecond)
		w.WriteString(s)
	}()
}

// probeBounded runs p under timeout in a goroutine and fails the test if
// it has not returned well after the timeout: a probe that ignores its
// context must fail the test, not hang it. unblock, if set, runs then to
// free the stuck probe.
func probeBounded(t *testing.T, p Prober, timeout time.Duration, unblock func()) (Result, time.Duration) {
	t.Helper()
	// Started before the context's deadline is set: a probe that stops
	// exactly at its deadline took at least timeout from here.
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type out struct {
		r Result
		d time.Duration
	}
	ch := make(chan out, 1)
	go func() { r := p.Probe(ctx); ch <- out{r, time.Since(start)} }()
	select {
	case o := <-ch:
		return o.r, o.d
	case <-time.After(timeout + 3*time.Second):
		if unblock != nil {
			unblock()
		}
		t.Fatalf("probe still running %v after its %v timeout", timeout+3*time.Second, timeout)
		return Result{}, 0
	}
}

func wantTimeout(t *testing.T, r Result, d, timeout time.Duration) {
	t.Helper()
	if r.OK || !errors.Is(r.Err, ErrTimeout) {
		t.Fatalf("result OK %t err %v, want a timeout", r.OK, r.Err)
	}
	if d < timeout || d > timeout+time.Second {
		t.Fatalf("returned after %v, want at its %v timeout", d, timeout)
	}
}

// A file check on a FIFO whose writer has written nothing waits for the
// value until its timeout, then fails with ErrTimeout keeping the last
// value; data that arrives while it waits is read at once.
func TestFileProbeTimeout(t *testing.T) {
	p, w := silentFIFO(t, func(path string) *Config { return fileCheck(path, 0) })
	writeSoon(w, "7\n")
	r, d := probeBounded(t, p, 5*time.Second, nil)
	if r.Value != 7 || errors.Is(r.Err, ErrTimeout) || d > 2*time.Second {
		t.Fatalf("value %d err %v after %v, want 7 as soon as written", r.Value, r.Err, d)
	}

	r, d = probeBounded(t, p, fifoTimeout, nil)
	wantTimeout(t, r, d, fifoTimeout)
	if r.Value != 7 {
		t.Errorf("value after a timeout %d, want the last one, 7", r.Value)
	}
}

// A FIFO nobody has open for writing reads as empty at once (0), as a
// missing file does: no wait.
func TestFileProbeFIFOWithoutWriter(t *testing.T) {
	p, err := NewProber(fileCheck(mkfifo(t), 0), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, d := probeBounded(t, p, 5*time.Second, nil)
	if r.Value != 0 || !r.OK || d > time.Second {
		t.Fatalf("value %d OK %t err %v after %v, want 0 at once", r.Value, r.OK, r.Err, d)
	}
}

// A deadline already passed fails the file probe without reading.
func TestFileProbeDeadlinePassed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(path, []byte("5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := probeLate(t, fileCheck(path, 0)); !errors.Is(r.Err, ErrTimeout) || r.Value != 0 {
		t.Fatalf("value %d err %v, want a timeout keeping the previous value 0", r.Value, r.Err)
	}
}

// A pid file that is a FIFO nobody writes must not hang the process
// check (a blocking open waits for a writer forever): it is an empty pid
// file, at once.
func TestProcessPIDFileFIFOWithoutWriter(t *testing.T) {
	path := mkfifo(t)
	p, err := NewProber(processCheck("", path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, d := probeBounded(t, p, 500*time.Millisecond, func() {
		// Free a probe stuck in open(2).
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
	})
	if r.OK || r.Err == nil || d > 400*time.Millisecond {
		t.Fatalf("OK %t err %v after %v, want an empty pid file at once", r.OK, r.Err, d)
	}
}

// A pid file FIFO with a silent writer makes the check wait until its
// timeout, then fail with ErrTimeout; a pid written meanwhile is used.
func TestProcessPIDFileTimeout(t *testing.T) {
	p, w := silentFIFO(t, func(path string) *Config { return processCheck("", path) })
	writeSoon(w, strconv.Itoa(os.Getpid())+"\n")
	r, _ := probeBounded(t, p, 5*time.Second, nil)
	if !r.OK {
		t.Fatalf("err %v, want this test's own pid alive", r.Err)
	}
}

// Looking a process up by name stops at its deadline even when a /proc
// entry would make a read wait (here a fabricated tree whose stat is a
// FIFO with a silent writer; the real /proc can stall on a process's
// memory lock).
func TestProcessNameProbeTimeout(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "4242")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := filepath.Join(dir, "stat")
	if err := syscall.Mkfifo(stat, 0o644); err != nil {
		t.Fatal(err)
	}
	holdWriter(t, stat)
	old := procRoot
	procRoot = root
	t.Cleanup(func() { procRoot = old })
	p, err := NewProber(processCheck("anything", ""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 300 * time.Millisecond
	r, d := probeBounded(t, p, timeout, nil)
	wantTimeout(t, r, d, timeout)
}
