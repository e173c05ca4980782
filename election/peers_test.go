package election

import (
	"context"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/election/fsm"
)

// A master that gains a unicast peer sends it an advert at once, not at
// its next advert interval: the new peer may have become master while
// neither heard the other (found by the chaos soak: a node restarted
// gracefully took over 11 ms before the master listed it as a peer, and
// both held the VIP for a whole advert interval). Dropping a peer, or
// setting the same peers again, sends nothing extra.
func TestNewPeerGetsAnAdvertAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := &wire{}, newHost()
		addrC := netip.MustParseAddr("198.51.100.3")
		ic := instanceConfig("web", 200)
		ic.UnicastPeers = []netip.Addr{addrB}
		inst := newTestInstance(t, ic, addrA, w, h, &DropCounter{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = inst.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()

		time.Sleep(5 * time.Second) // alone: master after the master-down interval
		synctest.Wait()
		if inst.State() != fsm.Master {
			t.Fatalf("state = %v, want MASTER", inst.State())
		}
		time.Sleep(300 * time.Millisecond) // mid-interval
		synctest.Wait()
		count := func(dst netip.Addr) int {
			n := 0
			for _, s := range w.from(addrA) {
				if s.dst == dst {
					n++
				}
			}
			return n
		}
		before := count(addrB)

		inst.SetPeers([]netip.Addr{addrB, addrC})
		synctest.Wait()
		if got := count(addrC); got != 1 {
			t.Fatalf("new peer got %d adverts at once, want 1", got)
		}
		if got := count(addrB) - before; got != 1 {
			t.Fatalf("old peer got %d extra adverts, want 1 (the round goes to every peer)", got)
		}
		inst.SetPeers([]netip.Addr{addrB, addrC}) // no change
		inst.SetPeers([]netip.Addr{addrC})        // a peer fewer
		synctest.Wait()
		if got := count(addrC); got != 1 {
			t.Fatalf("the new peer got %d adverts after no addition, want still 1", got)
		}
	})
}
