package priority

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// seen is an Update with the (bubble) time it was published.
type seen struct {
	at time.Time
	u  Update
}

// recorder collects updates; its callback never blocks.
type recorder struct{ ch chan seen }

func newRecorder() *recorder { return &recorder{ch: make(chan seen, 64)} }

func (r *recorder) onUpdate(u Update) {
	select {
	case r.ch <- seen{at: time.Now(), u: u}:
	default:
		panic("recorder full: the test publishes more updates than expected")
	}
}

// drain returns the updates published so far.
func (r *recorder) drain() []seen {
	var out []seen
	for {
		select {
		case s := <-r.ch:
			out = append(out, s)
		default:
			return out
		}
	}
}

// fakeChanges stands in for the kernel's file notifications inside a
// testing/synctest bubble: the test says when a change is notified.
type fakeChanges struct {
	c      chan struct{}
	rearms atomic.Int32
	closed atomic.Bool
}

func newFakeChanges() *fakeChanges { return &fakeChanges{c: make(chan struct{}, 1)} }

func (f *fakeChanges) changes() <-chan struct{} { return f.c }
func (f *fakeChanges) rearm()                   { f.rearms.Add(1) }
func (f *fakeChanges) close()                   { f.closed.Store(true) }

// notify is the kernel saying that the file changed.
func (f *fakeChanges) notify() {
	select {
	case f.c <- struct{}{}:
	default:
	}
}

func (f *fakeChanges) open(string) (changeSource, error) { return f, nil }

// startWatcher runs a Watcher inside the current synctest bubble, with
// notifications that come only when the test calls notify on the returned
// fakeChanges (unless cfg.changes is set), and returns a function that
// stops it and checks that Run returned and the notifications were closed.
func startWatcher(t *testing.T, cfg WatcherConfig) (stop func(), fc *fakeChanges) {
	t.Helper()
	fc = newFakeChanges()
	if cfg.changes == nil {
		cfg.changes = fc.open
	}
	w, err := NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	return func() {
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		default:
			t.Error("Run did not return after its context was cancelled")
		}
		if cfg.Path != "" && fc.rearms.Load() > 0 && !fc.closed.Load() {
			t.Error("Run returned without closing its notifications")
		}
	}, fc
}

// startReal runs a Watcher on the real clock and the kernel's file
// notifications, outside any bubble, until the test ends.
func startReal(t *testing.T, cfg WatcherConfig) {
	t.Helper()
	w, err := NewWatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
}

// next waits (real time) for the next update; it fails the test after
// within.
func (r *recorder) next(t *testing.T, within time.Duration) seen {
	t.Helper()
	select {
	case s := <-r.ch:
		return s
	case <-time.After(within):
		t.Fatalf("no update within %v", within)
		return seen{}
	}
}

func names(l *Order) []string {
	if l == nil {
		return nil
	}
	var out []string
	for _, e := range l.Nodes {
		n := e.Name
		if e.Disabled {
			n = "#" + n
		}
		out = append(out, n)
	}
	return out
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceAtomically writes data to a temporary file and renames it over
// path, as editors and configuration tools do.
func replaceAtomically(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// rewriteInPlaceHidden rewrites path in place and puts its timestamps back,
// so stat shows nothing: a filesystem whose clock ticks slower than the
// edits.
func rewriteInPlaceHidden(t *testing.T, path, data string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// markerOrder is what the real-time tests write last: the update that
// follows a change must be this one, so a change published twice (or
// published when it should not be) shows as an update before it. Updates
// are published in order from one goroutine, so this waits on a signal
// instead of a quiet spell.
const markerOrder = "marker\n"

// expectMarker writes the marker over path by rename and checks that the
// next update is its list.
func expectMarker(t *testing.T, rec *recorder, path string) {
	t.Helper()
	replaceAtomically(t, path, markerOrder)
	if u := rec.next(t, 5*time.Second); u.u.Err != nil || !slices.Equal(names(u.u.Order), []string{"marker"}) {
		t.Fatalf("update after the change = %+v, want the marker's list alone", u.u)
	}
}

// The kernel's notifications bring every kind of edit, once, well within a
// second, although the safety re-read is an hour away: a change they
// missed would fail the test.
func TestWatcherFollowsEdits(t *testing.T) {
	const initial = "cnh\nsby\nwcdc\n"
	tests := []struct {
		name string
		// setup makes path (by default a file with initial).
		setup   func(t *testing.T, dir, path string)
		change  func(t *testing.T, dir, path string)
		want    []string // names of the published list
		wantErr bool
	}{
		{
			name:   "rewrite in place",
			change: func(t *testing.T, _, p string) { writeFile(t, p, "cnh\n#sby\nwcdc\n") },
			want:   []string{"cnh", "#sby", "wcdc"},
		},
		{
			name:   "atomic rename of a same-size file",
			change: func(t *testing.T, _, p string) { replaceAtomically(t, p, "wcdc\nsby\ncnh\n") },
			want:   []string{"wcdc", "sby", "cnh"},
		},
		{
			name:   "same-size rewrite that stat cannot see",
			change: func(t *testing.T, _, p string) { rewriteInPlaceHidden(t, p, "sby\ncnh\nwcd\n") },
			want:   []string{"sby", "cnh", "wcd"},
		},
		{
			name: "deletion keeps the last good list",
			change: func(t *testing.T, _, p string) {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			},
			want:    []string{"cnh", "sby", "wcdc"},
			wantErr: true,
		},
		{
			// Configuration management that points a link at a new file.
			name: "link renamed to a new target",
			setup: func(t *testing.T, dir, p string) {
				writeFile(t, filepath.Join(dir, "v1"), initial)
				symlink(t, "v1", p)
			},
			change: func(t *testing.T, dir, p string) {
				writeFile(t, filepath.Join(dir, "v2"), "sby\nwcdc\ncnh\n")
				symlink(t, "v2", p+".new")
				if err := os.Rename(p+".new", p); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"sby", "wcdc", "cnh"},
		},
		{
			// A Kubernetes config map: order -> ..data/order, ..data ->
			// ..v1; an update links ..data to ..v2 by rename and removes
			// ..v1. Nothing happens to the entry "order" itself.
			name: "link's target directory swapped",
			setup: func(t *testing.T, dir, p string) {
				if err := os.Mkdir(filepath.Join(dir, "..v1"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "..v1", "order"), initial)
				symlink(t, "..v1", filepath.Join(dir, "..data"))
				symlink(t, "..data/order", p)
			},
			change: func(t *testing.T, dir, _ string) {
				if err := os.Mkdir(filepath.Join(dir, "..v2"), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "..v2", "order"), "wcdc\ncnh\n")
				symlink(t, "..v2", filepath.Join(dir, "..data_tmp"))
				if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
					t.Fatal(err)
				}
				if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"wcdc", "cnh"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "order")
			if tc.setup != nil {
				tc.setup(t, dir, path)
			} else {
				writeFile(t, path, initial)
			}
			rec := newRecorder()
			startReal(t, WatcherConfig{Path: path, Node: "cnh", Interval: time.Hour, OnUpdate: rec.onUpdate})
			first := rec.next(t, 5*time.Second)
			if first.u.Err != nil || !slices.Equal(names(first.u.Order), []string{"cnh", "sby", "wcdc"}) {
				t.Fatalf("first update = %+v, want the initial list", first.u)
			}

			changed := time.Now()
			tc.change(t, dir, path)
			u := rec.next(t, 5*time.Second)
			if d := u.at.Sub(changed); d > time.Second {
				t.Errorf("change published after %v, want within 1s", d)
			}
			if (u.u.Err != nil) != tc.wantErr {
				t.Errorf("Err = %v, want error %v", u.u.Err, tc.wantErr)
			}
			if tc.wantErr && (len(u.u.Problems) != 1 || u.u.Problems[0].Kind != ProblemUnreadable) {
				t.Errorf("problems = %v, want one unreadable", u.u.Problems)
			}
			if !slices.Equal(names(u.u.Order), tc.want) {
				t.Errorf("list = %v, want %v", names(u.u.Order), tc.want)
			}
			// Published once: the next update is the marker's.
			expectMarker(t, rec, path)
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// Notified changes that leave the list as it was publish nothing.
func TestWatcherIgnoresSameContent(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, path string)
	}{
		{"touch", func(t *testing.T, p string) {
			later := time.Unix(2_000_000_000, 0)
			if err := os.Chtimes(p, later, later); err != nil {
				t.Fatal(err)
			}
		}},
		{"rewrite with the same content", func(t *testing.T, p string) { writeFile(t, p, "cnh\nsby\n") }},
		{"atomic replace with the same content", func(t *testing.T, p string) { replaceAtomically(t, p, "cnh\nsby\n") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "order")
			writeFile(t, path, "cnh\nsby\n")
			rec := newRecorder()
			startReal(t, WatcherConfig{Path: path, Interval: time.Hour, OnUpdate: rec.onUpdate})
			if u := rec.next(t, 5*time.Second); u.u.Err != nil {
				t.Fatalf("first update = %+v", u.u)
			}
			tc.change(t, path)
			// Anything published for the change would come before this.
			expectMarker(t, rec, path)
		})
	}
}

func TestWatcherMissingFileThenCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "order")
	rec := newRecorder()
	startReal(t, WatcherConfig{Path: path, Node: "spare", Interval: time.Hour, OnUpdate: rec.onUpdate})
	got := rec.next(t, 5*time.Second)
	if got.u.Order != nil || !errors.Is(got.u.Err, fs.ErrNotExist) {
		t.Fatalf("first update = %+v, want a not-exist error without a list", got.u)
	}

	created := time.Now()
	replaceAtomically(t, path, "cnh\nsby\n")
	got = rec.next(t, 5*time.Second)
	if got.u.Err != nil || !slices.Equal(names(got.u.Order), []string{"cnh", "sby"}) {
		t.Fatalf("after creation = %+v, want the new list", got.u)
	}
	if d := got.at.Sub(created); d > time.Second {
		t.Errorf("creation published after %v", d)
	}
	// This node is not in it: reported, not fatal.
	if !slices.Equal(problemsAt(got.u.Problems), []problemAt{{ProblemSelfMissing, 0, "spare"}}) {
		t.Errorf("problems = %v, want self missing", got.u.Problems)
	}
	// The file is followed from its creation on: an edit in place (no
	// event on the directory entry but a write) is seen too.
	writeFile(t, path, "sby\ncnh\n")
	if got = rec.next(t, 5*time.Second); !slices.Equal(names(got.u.Order), []string{"sby", "cnh"}) {
		t.Fatalf("after an edit = %+v, want the edit", got.u)
	}
	expectMarker(t, rec, path)
}

func TestWatcherRecoversAfterDeletion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "order")
	writeFile(t, path, "cnh\nsby\n")
	rec := newRecorder()
	startReal(t, WatcherConfig{Path: path, Interval: time.Hour, OnUpdate: rec.onUpdate})
	rec.next(t, 5*time.Second)

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if got := rec.next(t, 5*time.Second); got.u.Err == nil {
		t.Fatalf("after deletion = %+v, want an error", got.u)
	}

	// The same content coming back clears the error.
	writeFile(t, path, "cnh\nsby\n")
	got := rec.next(t, 5*time.Second)
	if got.u.Err != nil || !slices.Equal(names(got.u.Order), []string{"cnh", "sby"}) {
		t.Fatalf("after recreation = %+v, want the list without error", got.u)
	}
	expectMarker(t, rec, path)
}

// Watchers share one inotify instance: one that stops leaves the others'
// watches of a common directory in place, and the last one closes it.
func TestWatchersShareNotifications(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	writeFile(t, a, "cnh\n")
	writeFile(t, b, "sby\n")
	recA, recB := newRecorder(), newRecorder()
	wa, err := NewWatcher(WatcherConfig{Path: a, Interval: time.Hour, OnUpdate: recA.onUpdate})
	if err != nil {
		t.Fatal(err)
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() { doneA <- wa.Run(ctxA) }()
	startReal(t, WatcherConfig{Path: b, Interval: time.Hour, OnUpdate: recB.onUpdate})
	recA.next(t, 5*time.Second)
	recB.next(t, 5*time.Second)

	notifierMu.Lock()
	n := shared
	notifierMu.Unlock()
	if n == nil || n.users != 2 {
		t.Fatalf("notifier %+v, want one shared by both watchers", n)
	}
	cancelA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	writeFile(t, b, "wcdc\n")
	if got := recB.next(t, 5*time.Second); !slices.Equal(names(got.u.Order), []string{"wcdc"}) {
		t.Fatalf("b after a stopped = %+v, want the edit", got.u)
	}
	expectMarker(t, recB, b)
	n.mu.Lock()
	users := n.users
	n.mu.Unlock()
	if users != 1 {
		t.Errorf("%d users after one watcher stopped, want 1", users)
	}
}

// The last watcher to stop closes the notifications and their goroutine.
func TestNotifierClosesWithLastWatcher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "order")
	writeFile(t, path, "cnh\n")
	for range 2 { // a second round opens a new one
		src, err := openChanges(path)
		if err != nil {
			t.Fatal(err)
		}
		notifierMu.Lock()
		n := shared
		notifierMu.Unlock()
		src.rearm()
		src.close()
		select {
		case <-n.done:
		case <-time.After(5 * time.Second):
			t.Fatal("the notifier's goroutine still runs after the last close")
		}
		notifierMu.Lock()
		left := shared
		notifierMu.Unlock()
		if left != nil {
			t.Fatal("a closed notifier is still shared")
		}
	}
}

// Several notifications in a row (a file written in steps) make one read,
// settleDelay after the last; a writer that never stops is read maxSettle
// after it began.
func TestWatcherSettles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		writeFile(t, path, "cnh\nsby\n")
		rec := newRecorder()
		stop, fc := startWatcher(t, WatcherConfig{Path: path, OnUpdate: rec.onUpdate})
		defer stop()
		synctest.Wait()
		rec.drain()

		start := time.Now()
		writeFile(t, path, "") // truncated first, as a shell's > does
		fc.notify()
		time.Sleep(settleDelay / 2)
		writeFile(t, path, "sby\ncnh\n")
		fc.notify()
		time.Sleep(settleDelay - time.Millisecond)
		synctest.Wait()
		if got := rec.drain(); len(got) != 0 {
			t.Fatalf("read before the writes settled: %+v", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 || !slices.Equal(names(got[0].u.Order), []string{"sby", "cnh"}) {
			t.Fatalf("after settling = %+v, want one update with the whole file", got)
		}
		if d := got[0].at.Sub(start); d != settleDelay/2+settleDelay {
			t.Errorf("read %v after the first write, want %v", d, settleDelay/2+settleDelay)
		}

		// A writer that notifies every 50 ms: read once maxSettle after it
		// began.
		start = time.Now()
		writeFile(t, path, "wcdc\n")
		for time.Since(start) < maxSettle+settleDelay {
			fc.notify()
			time.Sleep(settleDelay / 2)
			synctest.Wait()
			if len(rec.ch) > 0 {
				break
			}
		}
		got = rec.drain()
		if len(got) != 1 || !slices.Equal(names(got[0].u.Order), []string{"wcdc"}) {
			t.Fatalf("endless writer: %+v, want one update", got)
		}
		if d := got[0].at.Sub(start); d != maxSettle {
			t.Errorf("endless writer read after %v, want %v", d, maxSettle)
		}
	})
}

// A change the kernel did not report (a filesystem that does not, say) is
// read at the safety re-read, and the file's watch is renewed before every
// read.
func TestWatcherSafetyReread(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		writeFile(t, path, "cnh\nsby\n")
		rec := newRecorder()
		stop, fc := startWatcher(t, WatcherConfig{Path: path, OnUpdate: rec.onUpdate})
		defer stop()
		synctest.Wait()
		rec.drain()
		start := time.Now()
		rearms := fc.rearms.Load()
		if rearms == 0 {
			t.Fatal("the first read came before the file was watched")
		}

		rewriteInPlaceHidden(t, path, "sby\ncnh\n")
		time.Sleep(DefaultRereadInterval - time.Millisecond)
		synctest.Wait()
		if got := rec.drain(); len(got) != 0 {
			t.Fatalf("read before the re-read: %+v", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 || !slices.Equal(names(got[0].u.Order), []string{"sby", "cnh"}) {
			t.Fatalf("at the re-read = %+v, want the change", got)
		}
		if d := got[0].at.Sub(start); d != DefaultRereadInterval {
			t.Errorf("re-read after %v, want %v", d, DefaultRereadInterval)
		}
		if fc.rearms.Load() != rearms+1 {
			t.Errorf("%d rearms for one read, want 1", fc.rearms.Load()-rearms)
		}
	})
}

// With the instances' Scheduler, the safety re-read rides another alarm's
// wake-up in the last quarter of its interval instead of one of its own.
func TestWatcherRereadRidesScheduler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		writeFile(t, path, "cnh\nsby\n")
		timers := clock.NewScheduler(clock.Real())
		other := timers.NewAlarm(func(time.Time) {})
		defer other.Close()
		rec := newRecorder()
		stop, _ := startWatcher(t, WatcherConfig{Path: path, Timers: timers, OnUpdate: rec.onUpdate})
		defer stop()
		synctest.Wait()
		rec.drain()
		start := time.Now()
		rewriteInPlaceHidden(t, path, "sby\ncnh\n")
		ride := DefaultRereadInterval * 7 / 8 // within the last quarter
		other.Set(start.Add(ride))
		time.Sleep(ride)
		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 || !slices.Equal(names(got[0].u.Order), []string{"sby", "cnh"}) {
			t.Fatalf("at the other alarm = %+v, want the change read with it", got)
		}
		if d := got[0].at.Sub(start); d != ride {
			t.Errorf("re-read after %v, want %v (with the other alarm)", d, ride)
		}
	})
}

func TestWatcherUnreadable(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{"too large", func(t *testing.T, p string) { writeFile(t, p, string(make([]byte, MaxOrderFileSize+1))) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "order")
				tc.setup(t, path)
				rec := newRecorder()
				stop, _ := startWatcher(t, WatcherConfig{Path: path, Clock: clock.Real(), OnUpdate: rec.onUpdate})
				defer stop()
				synctest.Wait()
				got := rec.drain()
				if len(got) != 1 || got[0].u.Err == nil || got[0].u.Order != nil {
					t.Fatalf("updates = %+v, want one error without a list", got)
				}
			})
		})
	}
}

// timerCounter is the real clock (the bubble's time, in a synctest test)
// counting the timers made through it, to show that a component's timers
// go through the clock it is given.
type timerCounter struct {
	clock.Clock
	timers atomic.Int32
}

func (c *timerCounter) NewTimer(d time.Duration) clock.Timer {
	c.timers.Add(1)
	return c.Clock.NewTimer(d)
}

// Without file notifications the watcher polls on its clock: nothing is
// read between polls, a change shows at the next one, and one that stat
// cannot see within a second (a full read every verifyEvery polls).
func TestWatcherPollsWithoutNotifications(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		writeFile(t, path, "cnh\n")
		clk := &timerCounter{Clock: clock.Real()}
		rec := newRecorder()
		var logs syncBuf
		stop, _ := startWatcher(t, WatcherConfig{
			Path: path, Clock: clk, OnUpdate: rec.onUpdate,
			Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
			changes: func(string) (changeSource, error) { return nil, errors.New("inotify limit reached") },
		})
		defer stop()
		synctest.Wait()
		if n := len(rec.drain()); n != 1 {
			t.Fatalf("%d initial updates, want 1", n)
		}
		if !strings.Contains(logs.String(), "inotify limit reached") {
			t.Errorf("no warning that the file is polled: %q", logs.String())
		}

		writeFile(t, path, "sby\ncnh\n")
		time.Sleep(DefaultPollInterval - time.Millisecond)
		synctest.Wait()
		if got := rec.drain(); len(got) != 0 {
			t.Fatalf("published before the poll: %+v", got)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 || !slices.Equal(names(got[0].u.Order), []string{"sby", "cnh"}) {
			t.Fatalf("after one poll = %+v, want the new list", got)
		}
		if clk.timers.Load() == 0 {
			t.Fatal("the watcher polled without a timer of its clock")
		}

		changed := time.Now()
		rewriteInPlaceHidden(t, path, "cnh\nsby\n")
		time.Sleep(time.Second)
		synctest.Wait()
		got = rec.drain()
		if len(got) != 1 || !slices.Equal(names(got[0].u.Order), []string{"cnh", "sby"}) {
			t.Fatalf("after a hidden rewrite = %+v, want it read within a second", got)
		}
		if d := got[0].at.Sub(changed); d > time.Second {
			t.Errorf("hidden rewrite read after %v", d)
		}
	})
}

// syncBuf is a log sink written by the watcher's goroutine.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWatcherStaticList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		stop, _ := startWatcher(t, WatcherConfig{Nodes: []string{"cnh", "#sby", "bad name"}, Node: "wcdc", OnUpdate: rec.onUpdate})
		defer stop()
		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 {
			t.Fatalf("%d updates, want 1", len(got))
		}
		u := got[0].u
		if u.Order == nil || u.Order.Source != ConfigSource || !slices.Equal(names(u.Order), []string{"cnh", "#sby"}) {
			t.Errorf("list = %+v, want cnh, #sby from config", u.Order)
		}
		want := []problemAt{{ProblemSeveralNames, 3, ""}, {ProblemSelfMissing, 0, "wcdc"}}
		if !slices.Equal(problemsAt(u.Problems), want) {
			t.Errorf("problems = %v, want %v", u.Problems, want)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if more := rec.drain(); len(more) != 0 {
			t.Errorf("static list published again: %+v", more)
		}
	})
}

func TestNewWatcherErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  WatcherConfig
	}{
		{"no callback", WatcherConfig{Path: "/x"}},
		{"negative interval", WatcherConfig{Path: "/x", Interval: -time.Second, OnUpdate: func(Update) {}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if w, err := NewWatcher(tc.cfg); err == nil || w != nil {
				t.Errorf("NewWatcher = %v, %v; want an error", w, err)
			}
		})
	}
	if _, err := NewWatcher(WatcherConfig{Path: "/x"}); !errors.Is(err, ErrNoCallback) {
		t.Errorf("missing callback error = %v, want ErrNoCallback", err)
	}
}
