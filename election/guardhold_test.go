package election

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/election/fsm"
	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/clock"
)

// masterSeen records, for every transition, what Master() said while the
// observer ran.
type masterSeen struct {
	mu   sync.Mutex
	seen []seenTransition
}

type seenTransition struct {
	from, to fsm.State
	master   netip.Addr
}

func (o *masterSeen) Transitioned(inst *Instance, from, to fsm.State, _ string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, seenTransition{from, to, inst.Master()})
}
func (o *masterSeen) Reasserted(*Instance, netip.Addr, uint8) {}
func (o *masterSeen) YieldingChanged(*Instance, bool)         {}

func (o *masterSeen) all() []seenTransition {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]seenTransition(nil), o.seen...)
}

// An observer of a transition reads the master as believed after it: the
// instance's own address when it becomes MASTER, the better master's when
// it steps down for it (the Watch API's master_address says so).
func TestObserverSeesMasterAfterTransition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &wire{}
		obs := &masterSeen{}
		b, err := NewInstance(instanceConfig("b", 100), addrB, port{w: w, self: addrB}, Deps{
			Clock: clock.Real(), Log: quiet(), Addrs: newHost(), Announcer: newHost(), Observer: obs,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.insts = append(w.insts, b)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = b.Run(ctx) }()
		time.Sleep(5 * time.Second) // alone: master after its master-down interval
		synctest.Wait()
		if b.State() != fsm.Master {
			t.Fatalf("b alone is %v, want MASTER", b.State())
		}
		a := newTestInstance(t, instanceConfig("a", 150), addrA, w, newHost(), &DropCounter{})
		ctxA, cancelA := context.WithCancel(context.Background())
		defer cancelA()
		go func() { _ = a.Run(ctxA) }()
		time.Sleep(5 * time.Second) // a preempts b with its first advert as master
		synctest.Wait()
		if b.State() != fsm.Backup || a.State() != fsm.Master {
			t.Fatalf("b is %v and a %v, want BACKUP and MASTER", b.State(), a.State())
		}
		want := []seenTransition{{fsm.Init, fsm.Backup, netip.Addr{}}, {fsm.Backup, fsm.Master, addrB}, {fsm.Master, fsm.Backup, addrA}}
		got := obs.all()
		if len(got) != len(want) {
			t.Fatalf("transitions seen %v, want %v", got, want)
		}
		for k := range want {
			if got[k] != want[k] {
				t.Errorf("transition %d: observer saw %v, want %v", k, got[k], want[k])
			}
		}
	})
}

// HoldQuietly (the split-brain guard's hold) makes a MASTER step down
// without the priority-0 advert Hold sends: its backup keeps waiting for
// its full master-down interval rather than taking over after its skew.
func TestHoldQuietlySendsNoResignation(t *testing.T) {
	for _, quietly := range []bool{false, true} {
		name := "Hold"
		if quietly {
			name = "HoldQuietly"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := &wire{}
				a := newTestInstance(t, instanceConfig("a", 150), addrA, w, newHost(), &DropCounter{})
				b := newTestInstance(t, instanceConfig("b", 100), addrB, w, newHost(), &DropCounter{})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() { _ = a.Run(ctx) }()
				go func() { _ = b.Run(ctx) }()
				time.Sleep(10 * time.Second)
				synctest.Wait()
				if a.State() != fsm.Master || b.State() != fsm.Backup {
					t.Fatalf("a %v, b %v: want MASTER and BACKUP", a.State(), b.State())
				}
				lastAdvert := w.from(addrA)[len(w.from(addrA))-1].at
				held := time.Now()
				if quietly {
					a.HoldQuietly(true, "split-brain guard")
				} else {
					a.Hold(true, "maintenance")
				}
				synctest.Wait()
				if a.State() != fsm.Backup {
					t.Fatalf("a held is %v, want BACKUP", a.State())
				}
				var resigned bool
				for _, s := range w.from(addrA) {
					resigned = resigned || s.adv.Priority == 0
				}
				if resigned == quietly {
					t.Fatalf("priority-0 advert sent: %v, want %v", resigned, !quietly)
				}
				skewB := 156 * time.Second / 256
				time.Sleep(skewB + time.Millisecond)
				synctest.Wait()
				if !quietly {
					if b.State() != fsm.Master {
						t.Fatalf("after a's resignation and b's skew b is %v, want MASTER", b.State())
					}
					return
				}
				if b.State() != fsm.Backup {
					t.Fatalf("b took over %v after a stepped down quietly, within its skew", time.Since(held))
				}
				downB := 3*time.Second + skewB
				time.Sleep(time.Until(lastAdvert.Add(downB)) + time.Millisecond)
				synctest.Wait()
				if b.State() != fsm.Master {
					t.Fatalf("b is %v a master-down interval after a's last advert, want MASTER", b.State())
				}
			})
		})
	}
}

// LastHeard says when a source's advert last passed the checks, and
// remembers a bounded number of sources, dropping the longest silent.
func TestLastHeard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &wire{}
		a := newTestInstance(t, instanceConfig("a", 150), addrA, w, newHost(), &DropCounter{})
		b := newTestInstance(t, instanceConfig("b", 100), addrB, w, newHost(), &DropCounter{})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = a.Run(ctx) }()
		go func() { _ = b.Run(ctx) }()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		ads := w.from(addrA)
		if got, want := b.LastHeard(addrA), ads[len(ads)-1].at; !got.Equal(want) {
			t.Errorf("b.LastHeard(a) = %v, want a's last advert at %v", got, want)
		}
		if got := a.LastHeard(addrB); !got.IsZero() {
			t.Errorf("a.LastHeard(b) = %v: b, a backup, sent nothing", got)
		}
		// Adverts from more sources than it keeps: a's, the oldest
		// now, is forgotten; the newest are kept.
		adv := vrrp.Advert{Version: 3, VRID: 51, Priority: 50, Interval: time.Second}
		var last netip.Addr
		for k := range maxHeard {
			last = netip.AddrFrom4([4]byte{203, 0, 113, byte(k + 1)})
			time.Sleep(time.Millisecond)
			b.Deliver(adv, last, vrrp.MulticastIPv4, 255)
			synctest.Wait()
		}
		if got := b.LastHeard(last); got.IsZero() {
			t.Error("the newest source is not remembered")
		}
		if got := b.LastHeard(addrA); !got.IsZero() {
			t.Errorf("a, silent longest, still remembered (%v) with %d newer sources", got, maxHeard)
		}
	})
}
