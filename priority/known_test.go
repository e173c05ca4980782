package priority

import (
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// knownSet is a membership that a test changes while a Watcher asks it.
type knownSet struct {
	mu    sync.Mutex
	names []string
	calls int
}

func (k *knownSet) set(names ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.names = names
}

func (k *knownSet) get() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls++
	return slices.Clone(k.names)
}

func unknownNames(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		if p.Kind == ProblemUnknownNode {
			out = append(out, p.Name)
		}
	}
	return out
}

// A listed name that is not a known node is reported with its line; a
// change of the known set is published as a Recheck of the same list at
// the next safety re-read, once per change, whether the names become known or unknown; and a set
// that does not change publishes nothing.
func TestWatcherReportsUnknownNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		writeFile(t, path, "alpha\n# beta\nghost\n")
		known := &knownSet{}
		known.set("alpha", "BETA") // names compare case-insensitively
		rec := newRecorder()
		stop, fc := startWatcher(t, WatcherConfig{Path: path, Node: "alpha", Known: known.get, OnUpdate: rec.onUpdate})
		defer stop()
		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 {
			t.Fatalf("%d updates, want 1", len(got))
		}
		first := got[0].u
		if first.Recheck {
			t.Error("the first read is marked Recheck")
		}
		want := []problemAt{{ProblemUnknownNode, 3, "ghost"}}
		if !slices.Equal(problemsAt(first.Problems), want) {
			t.Fatalf("problems = %v, want ghost on line 3 unknown", first.Problems)
		}

		time.Sleep(10 * DefaultRereadInterval)
		synctest.Wait()
		if more := rec.drain(); len(more) != 0 {
			t.Fatalf("nothing changed, yet %d updates: %+v", len(more), more)
		}

		known.set("alpha", "beta", "ghost")
		time.Sleep(DefaultRereadInterval)
		synctest.Wait()
		got = rec.drain()
		if len(got) != 1 || !got[0].u.Recheck || got[0].u.Order != first.Order || len(unknownNames(got[0].u.Problems)) != 0 {
			t.Fatalf("after ghost joined: %+v, want one Recheck of the same list without problems", got)
		}

		known.set("alpha")
		time.Sleep(DefaultRereadInterval)
		synctest.Wait()
		got = rec.drain()
		if len(got) != 1 || !got[0].u.Recheck || !slices.Equal(unknownNames(got[0].u.Problems), []string{"beta", "ghost"}) {
			t.Fatalf("after beta and ghost left: %+v, want one Recheck naming both", got)
		}

		// An edit is a normal update, checked against the set as it is.
		replaceAtomically(t, path, "alpha\nghost\n")
		fc.notify()
		time.Sleep(time.Second)
		synctest.Wait()
		got = rec.drain()
		if len(got) != 1 || got[0].u.Recheck || !slices.Equal(unknownNames(got[0].u.Problems), []string{"ghost"}) {
			t.Fatalf("after the edit: %+v, want one update naming ghost", got)
		}
	})
}

// Without a Known function, or with one that knows nothing, no name is
// reported unknown.
func TestWatcherWithoutKnownSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "order")
		writeFile(t, path, "alpha\nghost\n")
		for _, known := range []func() []string{nil, func() []string { return nil }} {
			rec := newRecorder()
			stop, _ := startWatcher(t, WatcherConfig{Path: path, Node: "alpha", Known: known, OnUpdate: rec.onUpdate})
			synctest.Wait()
			got := rec.drain()
			stop()
			if len(got) != 1 || len(got[0].u.Problems) != 0 {
				t.Errorf("updates %+v, want one without problems", got)
			}
		}
	})
}

// A static list (inline in the configuration) is checked too, and
// rechecked as the known set changes.
func TestWatcherStaticListUnknownNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		known := &knownSet{}
		known.set("cnh")
		rec := newRecorder()
		stop, _ := startWatcher(t, WatcherConfig{Nodes: []string{"cnh", "#sby"}, Node: "cnh", Known: known.get, OnUpdate: rec.onUpdate})
		defer stop()
		synctest.Wait()
		got := rec.drain()
		if len(got) != 1 || !slices.Equal(problemsAt(got[0].u.Problems), []problemAt{{ProblemUnknownNode, 2, "sby"}}) {
			t.Fatalf("updates %+v, want sby (item 2) unknown", got)
		}
		known.set("cnh", "sby")
		time.Sleep(DefaultRereadInterval)
		synctest.Wait()
		got = rec.drain()
		if len(got) != 1 || !got[0].u.Recheck || len(got[0].u.Problems) != 0 {
			t.Fatalf("after sby joined: %+v, want one Recheck without problems", got)
		}
	})
}
