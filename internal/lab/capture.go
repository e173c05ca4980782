package lab

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// Capture is a running tcpdump inside a node whose frames are parsed as
// they arrive. Create it with Node.Capture; it stops at Stop or at lab
// cleanup.
type Capture struct {
	node   *Node
	ifname string
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader has seen the end of the stream

	mu      sync.Mutex
	frames  []Frame
	readErr error
	changed chan struct{} // closed and replaced whenever frames grow
}

// Frame is one captured Ethernet frame.
type Frame struct {
	Time time.Time // capture time stamp
	Data []byte    // the whole frame, from the destination MAC on
}

// Capture starts tcpdump on ifname inside the node, with an optional pcap
// filter expression ("arp", "ip proto 112", ...), and returns once tcpdump is
// listening, so that anything sent afterwards is captured. It needs the
// tcpdump binary.
func (n *Node) Capture(t testing.TB, ifname string, filter ...string) *Capture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	args := []string{"-i", ifname, "-n", "-s", "0", "-U", "--immediate-mode", "-w", "-"}
	args = append(args, filter...)
	cmd := n.Command(ctx, "tcpdump", args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatalf("lab: %s: tcpdump: %v", n.short, err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatalf("lab: %s: tcpdump: %v", n.short, err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("lab: %s: start tcpdump: %v", n.short, err)
	}
	c := &Capture{node: n, ifname: ifname, cancel: cancel, done: make(chan struct{}), changed: make(chan struct{})}

	// tcpdump says "listening on IF" once the capture is active.
	ready := make(chan error, 1)
	var errText strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && strings.Contains(line, "listening on") {
				ready <- nil
				sent = true
				continue
			}
			if !sent {
				errText.WriteString(line + "\n")
			}
		}
		if !sent {
			ready <- fmt.Errorf("tcpdump exited before listening: %s", strings.TrimSpace(errText.String()))
		}
	}()
	go func() {
		c.read(stdout)
		_ = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.stop)

	select {
	case err := <-ready:
		if err != nil {
			c.stop()
			t.Fatalf("lab: %s: %v", n.short, err)
		}
	case <-time.After(10 * time.Second):
		c.stop()
		t.Fatalf("lab: %s: tcpdump on %s did not start listening within 10s", n.short, ifname)
	}
	return c
}

// Frames returns the frames captured so far.
func (c *Capture) Frames() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.frames...)
}

// WaitFor waits until a captured frame satisfies match and returns it, or
// fails the test after timeout. Frames captured before the call count too.
func (c *Capture) WaitFor(t testing.TB, timeout time.Duration, match func(Frame) bool) Frame {
	t.Helper()
	f, err := c.waitFor(timeout, match)
	if err != nil {
		t.Fatalf("lab: %s: capture on %s: %v", c.node.short, c.ifname, err)
	}
	return f
}

func (c *Capture) waitFor(timeout time.Duration, match func(Frame) bool) (Frame, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	next := 0
	for {
		c.mu.Lock()
		frames, changed, rerr := c.frames[next:], c.changed, c.readErr
		next = len(c.frames)
		c.mu.Unlock()
		for _, f := range frames {
			if match(f) {
				return f, nil
			}
		}
		select {
		case <-changed:
		case <-c.done:
			c.mu.Lock()
			more := len(c.frames) > next
			c.mu.Unlock()
			if !more {
				if rerr == nil {
					rerr = errors.New("tcpdump has stopped")
				}
				return Frame{}, fmt.Errorf("no matching frame among %d: %w", next, rerr)
			}
		case <-timer.C:
			return Frame{}, fmt.Errorf("no matching frame among %d within %v", next, timeout)
		}
	}
}

// Stop ends the capture and returns every frame captured.
func (c *Capture) Stop() []Frame {
	c.stop()
	return c.Frames()
}

func (c *Capture) stop() {
	c.cancel()
	<-c.done
}

// read parses the pcap stream tcpdump writes to its standard output.
func (c *Capture) read(r io.Reader) {
	err := readPcap(bufio.NewReader(r), func(f Frame) {
		c.mu.Lock()
		c.frames = append(c.frames, f)
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
	})
	c.mu.Lock()
	c.readErr = err
	c.mu.Unlock()
}

// linkTypeEthernet is the pcap link type of Ethernet (DLT_EN10MB).
const linkTypeEthernet = 1

// readPcap reads a classic pcap stream (either byte order, micro- or
// nanosecond timestamps) and hands each Ethernet frame to fn. A stream that
// ends between records is a clean end.
func readPcap(r io.Reader, fn func(Frame)) error {
	var gh [24]byte
	if _, err := io.ReadFull(r, gh[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // killed before writing anything
		}
		return fmt.Errorf("pcap header: %w", err)
	}
	var bo binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(gh[0:4]) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		bo = binary.BigEndian
	case 0x4d3cb2a1:
		bo, nano = binary.BigEndian, true
	default:
		return fmt.Errorf("pcap: bad magic % x", gh[0:4])
	}
	if lt := bo.Uint32(gh[20:24]) & 0x0fffffff; lt != linkTypeEthernet {
		return fmt.Errorf("pcap: link type %d, want Ethernet", lt)
	}
	var rh [16]byte
	for {
		if _, err := io.ReadFull(r, rh[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("pcap record header: %w", err)
		}
		sec, frac, incl := bo.Uint32(rh[0:4]), bo.Uint32(rh[4:8]), bo.Uint32(rh[8:12])
		if incl > 1<<18 {
			return fmt.Errorf("pcap: record of %d bytes", incl)
		}
		data := make([]byte, incl)
		if _, err := io.ReadFull(r, data); err != nil {
			return fmt.Errorf("pcap record: %w", err)
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		fn(Frame{Time: time.Unix(int64(sec), ns), Data: data})
	}
}

// EtherType values the decoders below know.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
)

// Ethernet is a decoded Ethernet II header.
type Ethernet struct {
	Dst, Src  net.HardwareAddr // destination and source MAC
	EtherType uint16           // e.g. EtherTypeARP
	Payload   []byte           // what follows the 14-byte header
}

// Ethernet decodes the frame's Ethernet header; ok is false if the frame is
// too short.
func (f Frame) Ethernet() (e Ethernet, ok bool) {
	if len(f.Data) < 14 {
		return Ethernet{}, false
	}
	return Ethernet{
		Dst:       net.HardwareAddr(f.Data[0:6]),
		Src:       net.HardwareAddr(f.Data[6:12]),
		EtherType: binary.BigEndian.Uint16(f.Data[12:14]),
		Payload:   f.Data[14:],
	}, true
}

// IP is a decoded IPv4 header or fixed IPv6 header.
type IP struct {
	Version  int        // 4 or 6
	Src, Dst netip.Addr // header addresses
	Protocol int        // IPv4 protocol or IPv6 next header
	TTL      int        // IPv4 TTL or IPv6 hop limit
	TOS      int        // IPv4 TOS or IPv6 traffic class
	DF       bool       // IPv4 don't-fragment flag
	Payload  []byte     // trimmed to the length the header gives
}

// IP decodes the IP header of an IPv4 or IPv6 frame; ok is false for other
// frames or truncated headers. IPv6 extension headers are not walked.
func (f Frame) IP() (ip IP, ok bool) {
	e, ok := f.Ethernet()
	if !ok {
		return IP{}, false
	}
	b := e.Payload
	switch e.EtherType {
	case EtherTypeIPv4:
		if len(b) < 20 || b[0]>>4 != 4 {
			return IP{}, false
		}
		ihl := int(b[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(b[2:4]))
		if ihl < 20 || total < ihl || total > len(b) {
			return IP{}, false
		}
		return IP{
			Version:  4,
			Src:      netip.AddrFrom4([4]byte(b[12:16])),
			Dst:      netip.AddrFrom4([4]byte(b[16:20])),
			Protocol: int(b[9]),
			TTL:      int(b[8]),
			TOS:      int(b[1]),
			DF:       b[6]&0x40 != 0,
			Payload:  b[ihl:total],
		}, true
	case EtherTypeIPv6:
		if len(b) < 40 || b[0]>>4 != 6 {
			return IP{}, false
		}
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		if 40+plen > len(b) {
			return IP{}, false
		}
		return IP{
			Version:  6,
			Src:      netip.AddrFrom16([16]byte(b[8:24])),
			Dst:      netip.AddrFrom16([16]byte(b[24:40])),
			Protocol: int(b[6]),
			TTL:      int(b[7]),
			TOS:      int(binary.BigEndian.Uint16(b[0:2])>>4) & 0xff,
			Payload:  b[40 : 40+plen],
		}, true
	}
	return IP{}, false
}
