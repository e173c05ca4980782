package notify

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/election/fsm"
)

// A group's scripts wait for those of its members' events queued before
// it, however slow; an unrelated source does not wait; and what is
// queued after the group event does not hold it back.
func TestNotifyAfterWaitsForMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRunner{behave: sleepFor(3 * time.Second)}
		h := start(Options{}, f)
		begin := time.Now()
		inst := Config{Master: []string{"/inst.sh"}}
		grp := Config{Master: []string{"/group.sh"}}
		other := Config{Master: []string{"/other.sh"}}
		h.n.Notify(inst, Event{Name: "A", State: fsm.Master})
		h.n.Notify(inst, Event{Name: "B", State: fsm.Master})
		h.n.NotifyAfter(grp, Event{Type: TypeGroup, Name: "G", State: fsm.Master},
			Source{TypeInstance, "A"}, Source{"", "B"}, Source{TypeInstance, "idle"})
		h.n.Notify(other, Event{Name: "C", State: fsm.Master})
		// Queued after the group event: the group must not wait for it.
		h.n.Notify(inst, Event{Name: "A", State: fsm.Backup})
		time.Sleep(time.Minute)
		synctest.Wait()
		h.stop()

		start := map[string]time.Duration{}
		for _, c := range f.calls {
			key := c.spec.Argv[0] + "/" + envValue(c.spec.Env, "VIPD_NAME") + "/" + envValue(c.spec.Env, "VIPD_STATE")
			start[key] = c.start.Sub(begin)
		}
		want := map[string]time.Duration{
			"/inst.sh/A/MASTER":  0,
			"/inst.sh/B/MASTER":  0,
			"/other.sh/C/MASTER": 0,
			// After A's and B's MASTER scripts (3 s each, in parallel).
			"/group.sh/G/MASTER": 3 * time.Second,
		}
		for k, d := range want {
			if got, ok := start[k]; !ok || got != d {
				t.Errorf("%s started at %v (ran %t), want %v", k, got, ok, d)
			}
		}
		if got := h.n.Stats().Dropped; got != 0 {
			t.Errorf("%d events dropped", got)
		}
	})
}

// A group event still waiting for a member's hung script when the drain
// times out is dropped and counted, not run and not left blocked.
func TestNotifyAfterDrainTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRunner{behave: sleepFor(time.Hour)}
		h := start(Options{DrainTimeout: 5 * time.Second}, f)
		h.n.Notify(Config{Stop: []string{"/inst.sh"}}, Event{Name: "A", State: fsm.Stopped})
		h.n.NotifyAfter(Config{Stop: []string{"/group.sh"}}, Event{Type: TypeGroup, Name: "G", State: fsm.Stopped},
			Source{TypeInstance, "A"})
		synctest.Wait()
		h.stop()
		for _, c := range f.calls {
			if c.spec.Argv[0] == "/group.sh" {
				t.Fatalf("the group's script ran before its member's finished")
			}
		}
		if got := h.n.Stats().Dropped; got != 1 {
			t.Errorf("dropped = %d, want the group event", got)
		}
	})
}
