package vip

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"

	"github.com/vipd/vipd/internal/lab"
)

// stackGrowth runs call on n goroutines at once and reports how much the
// stacks in use grew while all of them, having returned from call, are
// still alive.
func stackGrowth(t *testing.T, n int, call func() error) uint64 {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var (
		wg      sync.WaitGroup
		release = make(chan struct{})
		errs    = make(chan error, n)
	)
	wg.Add(n)
	for range n {
		go func() {
			errs <- call()
			wg.Done()
			<-release
		}()
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if after.StackInuse < before.StackInuse {
		return 0
	}
	return after.StackInuse - before.StackInuse
}

// vishvananda/netlink receives into a 64 kB array on the stack: a
// goroutine making the request itself would keep a 128 kB stack. The
// Manager's and the Announcer's requests run on their own goroutine, so
// that fifty callers (instances adding or announcing their VIPs at once)
// keep small stacks.
func TestNetlinkCallersKeepSmallStacks(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24")
	m := newManager(t, n)
	a := newAnnouncer(t)
	vip := VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("198.51.100.10/32")}
	// The announcer opens its sockets in the namespace of its first caller.
	announce(t, n, a, "eth0", vip.Prefix.Addr())

	const callers = 50
	const limit = callers * 32 << 10 // a quarter of what 128 kB stacks would hold
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"Manager.Has", func() error { _, err := m.Has(vip); return err }},
		{"Manager.Add", func() error { return m.Add(vip) }},
		{"Announcer.Announce", func() error { return a.Announce("eth0", []netip.Addr{vip.Prefix.Addr()}) }},
	} {
		if grew := stackGrowth(t, callers, c.call); grew > limit {
			t.Errorf("%s from %d goroutines grew the stacks by %d kB, want under %d kB", c.name, callers, grew>>10, limit>>10)
		}
	}
}

// After Close, the Manager and the Announcer refuse requests instead of
// waiting for a goroutine that is gone.
func TestNetlinkAfterClose(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24")
	m := newManager(t, n)
	a := NewAnnouncer()
	vip := VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("198.51.100.10/32")}
	announce(t, n, a, "eth0", vip.Prefix.Addr())
	m.Close()
	a.Close()
	if err := m.Add(vip); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Add after Close: %v, want net.ErrClosed", err)
	}
	if _, err := m.Has(vip); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Has after Close: %v, want net.ErrClosed", err)
	}
	if err := a.Announce("eth0", []netip.Addr{vip.Prefix.Addr()}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Announce after Close: %v, want net.ErrClosed", err)
	}
}

// serial runs one function at a time, and nothing after stop.
func TestSerial(t *testing.T) {
	s := newSerial()
	var (
		mu      sync.Mutex
		running int
		most    int
		wg      sync.WaitGroup
	)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.do(func() {
				mu.Lock()
				running++
				most = max(most, running)
				mu.Unlock()
				runtime.Gosched()
				mu.Lock()
				running--
				mu.Unlock()
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if most != 1 {
		t.Errorf("%d functions ran at once, want 1", most)
	}
	s.stop()
	s.stop() // twice is fine
	ran := false
	if err := s.do(func() { ran = true }); !errors.Is(err, net.ErrClosed) || ran {
		t.Errorf("do after stop: %v, ran %t; want net.ErrClosed and not run", err, ran)
	}
}
