package priority

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
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

// startWatcher runs a Watcher inside the current synctest bubble and
// returns a function that stops it and checks that Run returned.
func startWatcher(t *testing.T, cfg WatcherConfig) (stop func()) {
	t.Helper()
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

func TestWatcherSeesChangesWithinASecond(t *testing.T) {
	const initial = "cnh\nsby\nwcdc\n"
	tests := []struct {
		name    string
		change  func(t *testing.T, path string)
		want    []string // names of the published list
		wantErr bool
	}{
		{
			name:   "rewrite in place",
			change: func(t *testing.T, p string) { writeFile(t, p, "cnh\n#sby\nwcdc\n") },
			want:   []string{"cnh", "#sby", "wcdc"},
		},
		{
			name:   "atomic rename of a same-size file",
			change: func(t *testing.T, p string) { replaceAtomically(t, p, "wcdc\nsby\ncnh\n") },
			want:   []string{"wcdc", "sby", "cnh"},
		},
		{
			name:   "same-size rewrite that stat cannot see",
			change: func(t *testing.T, p string) { rewriteInPlaceHidden(t, p, "sby\ncnh\nwcd\n") },
			want:   []string{"sby", "cnh", "wcd"},
		},
		{
			name: "deletion keeps the last good list",
			change: func(t *testing.T, p string) {
				if err := os.Remove(p); err != nil {
					t.Fatal(err)
				}
			},
			want:    []string{"cnh", "sby", "wcdc"},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "order")
				writeFile(t, path, initial)
				rec := newRecorder()
				stop := startWatcher(t, WatcherConfig{Path: path, Node: "cnh", Clock: clock.Real(), OnUpdate: rec.onUpdate})
				defer stop()

				synctest.Wait()
				first := rec.drain()
				if len(first) != 1 || first[0].u.Err != nil || !slices.Equal(names(first[0].u.Order), []string{"cnh", "sby", "wcdc"}) {
					t.Fatalf("first updates = %+v, want the initial list", first)
				}

				// Let a few polls go by so the change is not on a poll edge.
				time.Sleep(100 * time.Millisecond)
				changed := time.Now()
				tc.change(t, path)
				time.Sleep(time.Second)
				synctest.Wait()

				got := rec.drain()
				if len(got) != 1 {
					t.Fatalf("got %d updates after the change, want 1: %+v", len(got), got)
				}
				u := got[0]
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

				// Nothing more while the file stays as it is.
				time.Sleep(3 * time.Second)
				synctest.Wait()
				if more := rec.drain(); len(more) != 0 {
					t.Errorf("%d more updates while nothing changed: %+v", len(more), more)
				}
			})
		})
	}
}

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
			synctest.Test(t, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "order")
				writeFile(t, path, "cnh\nsby\n")
				rec := newRecorder()
				stop := startWatcher(t, WatcherConfig{Path: path, Clock: clock.Real(), OnUpdate: rec.onUpdate})
				defer stop()
				synctest.Wait()
				if n := len(rec.drain()); n != 1 {
					t.Fatalf("%d initial updates, want 1", n)
				}
				tc.change(t, path)
				time.Sleep(2 * time.Second)
				synctest.Wait()
				if more := rec.drain(); len(more) != 0 {
					t.Errorf("updates for unchanged content: %+v", more)
				}
			})
		})
	}
}

func TestWatcherMissingFileThenCreated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		rec := newRecorder()
		stop := startWatcher(t, WatcherConfig{Path: path, Node: "spare", Clock: clock.Real(), OnUpdate: rec.onUpdate})
		defer stop()

		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 || got[0].u.Order != nil || !errors.Is(got[0].u.Err, fs.ErrNotExist) {
			t.Fatalf("first updates = %+v, want one not-exist error without a list", got)
		}

		// The error is reported once, not at every poll.
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if more := rec.drain(); len(more) != 0 {
			t.Fatalf("error repeated: %+v", more)
		}

		created := time.Now()
		replaceAtomically(t, path, "cnh\nsby\n")
		time.Sleep(time.Second)
		synctest.Wait()
		got = rec.drain()
		if len(got) != 1 || got[0].u.Err != nil || !slices.Equal(names(got[0].u.Order), []string{"cnh", "sby"}) {
			t.Fatalf("after creation = %+v, want the new list", got)
		}
		if d := got[0].at.Sub(created); d > time.Second {
			t.Errorf("creation published after %v", d)
		}
		// This node is not in it: reported, not fatal.
		if !slices.Equal(problemsAt(got[0].u.Problems), []problemAt{{ProblemSelfMissing, 0, "spare"}}) {
			t.Errorf("problems = %v, want self missing", got[0].u.Problems)
		}
	})
}

func TestWatcherRecoversAfterDeletion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		writeFile(t, path, "cnh\nsby\n")
		rec := newRecorder()
		stop := startWatcher(t, WatcherConfig{Path: path, Clock: clock.Real(), OnUpdate: rec.onUpdate})
		defer stop()
		synctest.Wait()
		rec.drain()

		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := rec.drain(); len(got) != 1 || got[0].u.Err == nil {
			t.Fatalf("after deletion = %+v, want one error", got)
		}

		// The same content coming back clears the error.
		writeFile(t, path, "cnh\nsby\n")
		time.Sleep(time.Second)
		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 || got[0].u.Err != nil || !slices.Equal(names(got[0].u.Order), []string{"cnh", "sby"}) {
			t.Fatalf("after recreation = %+v, want the list without error", got)
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
				stop := startWatcher(t, WatcherConfig{Path: path, Clock: clock.Real(), OnUpdate: rec.onUpdate})
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

// TestWatcherPollsOnItsClock: the watcher's polls run on the clock it is
// given; nothing is read between polls, and a change shows at the next one.
func TestWatcherPollsOnItsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		writeFile(t, path, "cnh\n")
		clk := &timerCounter{Clock: clock.Real()}
		rec := newRecorder()
		stop := startWatcher(t, WatcherConfig{Path: path, Clock: clk, OnUpdate: rec.onUpdate})
		defer stop()
		synctest.Wait()
		if n := len(rec.drain()); n != 1 {
			t.Fatalf("%d initial updates, want 1", n)
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
	})
}

func TestWatcherStaticList(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newRecorder()
		stop := startWatcher(t, WatcherConfig{Nodes: []string{"cnh", "#sby", "bad name"}, Node: "wcdc", OnUpdate: rec.onUpdate})
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
