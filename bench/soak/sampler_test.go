package soak

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// sampleEvery is the sampler's period.
const sampleEvery = 20 * time.Millisecond

// sampler reads, every 20 ms, which nodes hold each VIP. Each read is two
// netlink requests per node on a handle bound to its namespace (the link's
// flags, then its IPv4 addresses): no process is started, so sampling five
// nodes takes well under a millisecond.
type sampler struct {
	handles []*netlink.Handle
	links   []int // eth0's index in each namespace
	alive   *atomic.Uint32

	stopc chan struct{}
	done  chan struct{}

	mu      sync.Mutex
	samples []sample
	errs    int
	err     error
}

// startSampler opens the handles and starts sampling; the handles are
// closed when sampling stops (stop, or the end of the test, before the
// lab's namespaces are deleted).
func startSampler(t *testing.T, nodes []*node, alive *atomic.Uint32) *sampler {
	t.Helper()
	s := &sampler{alive: alive, stopc: make(chan struct{}), done: make(chan struct{})}
	for _, n := range nodes {
		ns, err := netns.GetFromName(n.ns.Name())
		if err != nil {
			t.Fatal(err)
		}
		h, err := netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			t.Fatal(err)
		}
		s.handles = append(s.handles, h)
		l, err := h.LinkByName("eth0")
		if err != nil {
			t.Fatal(err)
		}
		s.links = append(s.links, l.Attrs().Index)
	}
	go s.run()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *sampler) run() {
	defer close(s.done)
	defer func() {
		for _, h := range s.handles {
			h.Close()
		}
	}()
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stopc:
			return
		case <-tick.C:
		}
		smp, err := s.read()
		s.mu.Lock()
		if err != nil {
			s.errs++
			s.err = err
		} else {
			s.samples = append(s.samples, smp)
		}
		s.mu.Unlock()
	}
}

// read takes one sample. The time stamp is taken after the reads, so a
// holder seen appearing is never dated before it appeared.
func (s *sampler) read() (sample, error) {
	var smp sample
	for i, h := range s.handles {
		link, err := h.LinkByIndex(s.links[i])
		if err != nil {
			return smp, err
		}
		if link.Attrs().Flags&net.FlagUp == 0 {
			continue // off the segment: holds nothing
		}
		addrs, err := h.AddrList(link, netlink.FAMILY_V4)
		if errors.Is(err, netlink.ErrDumpInterrupted) {
			addrs, err = h.AddrList(link, netlink.FAMILY_V4)
		}
		if err != nil {
			return smp, err
		}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			for v := range nVIPs {
				if ip.Unmap() == vips[v].Addr() {
					smp.held[v] |= 1 << i
				}
			}
		}
	}
	alive := uint8(s.alive.Load())
	for v := range nVIPs {
		smp.held[v] &= alive
	}
	smp.at = time.Now()
	return smp, nil
}

// latest returns the newest sample.
func (s *sampler) latest() (sample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return sample{}, false
	}
	return s.samples[len(s.samples)-1], true
}

// stop ends sampling and returns every sample; it may be called again.
func (s *sampler) stop() []sample {
	select {
	case <-s.stopc:
	default:
		close(s.stopc)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples
}
