package agent

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/notify"
)

// When one member of a sync group becomes MASTER on its own timer, the
// others follow at once, long before their own timers would run out: the
// group's addresses are never split between nodes for a skew time.
func TestSyncGroupMembersFollow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		web := testInstance("web", 51, 100, notify.Config{})
		db := testInstance("db", 52, 100, notify.Config{})
		cfg := baseConfig(web, db)
		cfg.SyncGroups = []*config.SyncGroup{{Name: "G", Instances: []string{"web", "db"}}}
		h := newTrackHarness(t, cfg, nil)

		iw := h.start(web)
		synctest.Wait()
		if s := iw.State(); s != fsm.Backup {
			t.Fatalf("web %v after its start, want BACKUP", s)
		}
		time.Sleep(2 * time.Second) // db's master-down timer starts 2 s after web's
		idb := h.start(db)
		synctest.Wait()
		if s := idb.State(); s != fsm.Backup {
			t.Fatalf("db %v after its start, want BACKUP", s)
		}

		// web's master-down interval (3 s + skew, 3.61 s) ends; db's has
		// almost 2 s to go.
		time.Sleep(1700 * time.Millisecond)
		synctest.Wait()
		if s := iw.State(); s != fsm.Master {
			t.Fatalf("web %v after its master-down interval, want MASTER", s)
		}
		if s := idb.State(); s != fsm.Backup {
			t.Fatalf("db %v before tracking applied web's move, want BACKUP", s)
		}
		h.tr.apply(h.running) // what the agent's loop does when poked
		if s := idb.State(); s != fsm.Master {
			t.Fatalf("db %v once tracking applied web's move, want MASTER at once", s)
		}
		synctest.Wait() // db's transition reported
		if got, want := h.tr.view("db").reason, "sync group G: web became master"; got != want {
			t.Errorf("db's reason %q, want %q", got, want)
		}
		// db's own move asked web to follow, which it already had: nothing
		// is left over for later.
		h.tr.apply(h.running)
		for _, name := range []string{"web", "db"} {
			if f := h.tr.view(name).follow; f != "" {
				t.Errorf("%s still to follow after apply (%q), want nothing pending", name, f)
			}
		}
	})
}
