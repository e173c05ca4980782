package election

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election/fsm"
)

// keepalived's announcement schedule for a term as master, in full:
// garp_master_repeat rounds at once and again after garp_master_delay,
// then garp_master_refresh_repeat rounds every garp_master_refresh, each
// round garp_interval apart; leaving MASTER stops it.
func TestGARPRefreshSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w, h := &wire{}, newHost()
		ic := instanceConfig("web", 100)
		ic.GARP = config.GARP{MasterDelay: 5 * time.Second, MasterRepeat: 2, MasterRefresh: 20 * time.Second, MasterRefreshRepeat: 3, Interval: 100 * time.Millisecond}
		inst := newTestInstance(t, ic, addrA, w, h, &DropCounter{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = inst.Run(ctx); close(done) }()

		time.Sleep(4 * time.Second) // alone: master after 3.61 s
		synctest.Wait()
		if inst.State() != fsm.Master {
			t.Fatalf("state = %v, want MASTER", inst.State())
		}
		h.mu.Lock()
		start := h.announces[0]
		h.mu.Unlock()
		time.Sleep(66 * time.Second) // through three refreshes (5 s + 3 × 20 s)
		synctest.Wait()
		h.mu.Lock()
		var got []time.Duration
		for _, at := range h.announces {
			got = append(got, at.Sub(start))
		}
		h.mu.Unlock()
		ms := time.Millisecond
		want := []time.Duration{0, 100 * ms, // repeat at once
			5100 * ms, 5200 * ms, // repeat after the delay (the delay runs from the last round)
			25200 * ms, 25300 * ms, 25400 * ms, // refresh_repeat every refresh
			45400 * ms, 45500 * ms, 45600 * ms,
			65600 * ms, 65700 * ms, 65800 * ms}
		if len(got) != len(want) {
			t.Fatalf("announcements at %v, want %v", got, want)
		}
		for k := range want {
			if got[k] != want[k] {
				t.Fatalf("announcements at %v, want %v", got, want)
			}
		}
		cancel()
		<-done
		n := h.announceCount()
		time.Sleep(time.Minute)
		synctest.Wait()
		if h.announceCount() != n {
			t.Fatal("announcements went on after the instance stopped")
		}
	})
}
