package election

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/internal/clock"
)

// TestMastersAdvertiseTogether: masters sharing a scheduler, started at
// times spread over a whole interval, soon send their adverts in a few
// bursts per interval rather than one wake-up each, and none of them
// advertises late or more than an eighth of the interval early.
func TestMastersAdvertiseTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 40
		const interval = 100 * time.Millisecond
		timers := clock.NewScheduler(clock.Real())
		w := &wire{} // records; delivers to nobody
		ctx, cancel := context.WithCancel(context.Background())
		var runs sync.WaitGroup
		start := time.Now()
		for k := range n {
			ic := instanceConfig(fmt.Sprintf("vr%d", k+1), fsm.PriorityOwner)
			ic.VRID = uint8(k + 1)
			ic.AdvertInterval = interval
			ic.VIPs = []config.VIP{{Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(k + 1)}), 32)}}
			h := newHost()
			inst, err := NewInstance(ic, addrA, port{w: w, self: addrA}, Deps{
				Clock: clock.Real(), Log: quiet(), Addrs: h, Announcer: h, Timers: timers,
			})
			if err != nil {
				t.Fatal(err)
			}
			runs.Go(func() { _ = inst.Run(ctx) })
			time.Sleep(interval / n) // spread the starts over one interval
		}
		time.Sleep(20 * interval)
		cancel()
		runs.Wait()

		last := map[uint8]time.Time{}
		instants := map[int]map[time.Time]bool{} // interval number -> send times
		for _, s := range w.from(addrA) {
			if s.adv.Priority == 0 {
				continue // the resignation at stop
			}
			if prev, ok := last[s.adv.VRID]; ok {
				if gap := s.at.Sub(prev); gap > interval || gap < interval-fsm.AdvertSlack(interval) {
					t.Errorf("vr%d advertised %v after its previous advert, want within [%v, %v]", s.adv.VRID, gap, interval-fsm.AdvertSlack(interval), interval)
				}
			}
			last[s.adv.VRID] = s.at
			k := int(s.at.Sub(start) / interval)
			if instants[k] == nil {
				instants[k] = map[time.Time]bool{}
			}
			instants[k][s.at] = true
		}
		if len(last) != n {
			t.Fatalf("%d instances advertised, want %d", len(last), n)
		}
		// Once every instance has run through a full interval, each
		// interval holds at most one burst per eighth of it.
		for k := 3; k < 20; k++ {
			if got := len(instants[k]); got == 0 || got > 8 {
				t.Errorf("interval %d: adverts left at %d distinct times, want 1..8 for %d masters", k, got, n)
			}
		}
	})
}
