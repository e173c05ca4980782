package agent

import (
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
)

// When one member of a sync group becomes MASTER on its own timer, the
// others follow at once, long before their own timers would run out: the
// group's addresses are never split between nodes for a skew time.
func TestSyncGroupMembersFollow(t *testing.T) {
	web := testInstance("web", 51, 100, config.Notify{})
	db := testInstance("db", 52, 100, config.Notify{})
	cfg := baseConfig(web, db)
	cfg.SyncGroups = []*config.SyncGroup{{Name: "G", Instances: []string{"web", "db"}}}
	h := newTrackHarness(t, cfg, nil)

	iw := h.start(web)
	waitFor(t, "web in BACKUP", func() bool { return iw.State() == fsm.Backup })
	h.clk.Advance(2 * time.Second) // db's master-down timer starts 2 s after web's
	idb := h.start(db)
	waitFor(t, "db in BACKUP", func() bool { return idb.State() == fsm.Backup })

	// web's master-down interval (3 s + skew, 3.61 s) ends; db's has
	// almost 2 s to go.
	h.clk.Advance(1700 * time.Millisecond)
	waitFor(t, "web MASTER", func() bool { return iw.State() == fsm.Master })
	if s := idb.State(); s != fsm.Backup {
		t.Fatalf("db %v before tracking applied web's move, want BACKUP", s)
	}
	h.tr.apply(h.running) // what the agent's loop does when poked
	if s := idb.State(); s != fsm.Master {
		t.Fatalf("db %v once tracking applied web's move, want MASTER at once", s)
	}
	h.tr.mu.Lock()
	reason := h.tr.peek("db").reason
	h.tr.mu.Unlock()
	if want := "sync group G: web became master"; reason != want {
		t.Errorf("db's reason %q, want %q", reason, want)
	}
	// db's own move asked web to follow, which it already had: nothing
	// is left over for later.
	h.tr.apply(h.running)
	h.tr.mu.Lock()
	pending := len(h.tr.follows.pending)
	h.tr.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d follows pending after apply, want none", pending)
	}
}
