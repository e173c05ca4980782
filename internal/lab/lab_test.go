package lab

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPingOverSwitch(t *testing.T) {
	l := New(t)
	a, b := l.Node("a"), l.Node("b")
	sw := l.Switch("sw")
	l.Connect(a, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(b, sw, "eth0", "198.51.100.2/24", "2001:db8::2/64")

	tests := []struct {
		name string
		from *Node
		to   string
	}{
		{"a to b over IPv4", a, "198.51.100.2"},
		{"b to a over IPv4", b, "198.51.100.1"},
		{"a to b over IPv6", a, "2001:db8::2"},
		{"b to a over IPv6", b, "2001:db8::1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.from.Ping(netip.MustParseAddr(tc.to)); err != nil {
				t.Fatal(err)
			}
		})
	}

	// An address nobody holds must not answer: proves Ping can fail.
	if err := a.Ping(netip.MustParseAddr("198.51.100.99")); err == nil {
		t.Error("ping of an unused address succeeded")
	}
}

func TestNodeSettings(t *testing.T) {
	l := New(t)
	n := l.Node("n")
	sw := l.Switch("sw")
	l.Connect(n, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")

	read := func(key string) string {
		t.Helper()
		return strings.TrimSpace(n.Run(t, "cat", "/proc/sys/"+strings.ReplaceAll(key, ".", "/")))
	}
	tests := []struct {
		name, key, want string
	}{
		{"IPv4 forwarding off", "net.ipv4.ip_forward", "0"},
		{"IPv6 forwarding off", "net.ipv6.conf.all.forwarding", "0"},
		{"DAD off on the new link", "net.ipv6.conf.eth0.accept_dad", "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(tc.key); got != tc.want {
				t.Errorf("%s = %q, want %q", tc.key, got, tc.want)
			}
		})
	}

	n.Router(true)
	for _, key := range []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"} {
		if got := read(key); got != "1" {
			t.Errorf("after Router(true): %s = %q, want 1", key, got)
		}
	}

	for _, p := range []string{"198.51.100.1/24", "2001:db8::1/64"} {
		if !n.HasAddr(t, "eth0", netip.MustParsePrefix(p)) {
			t.Errorf("HasAddr(%s) = false", p)
		}
	}
	if n.HasAddr(t, "eth0", netip.MustParsePrefix("198.51.100.1/25")) {
		t.Error("HasAddr matched a different prefix length")
	}
	for _, a := range n.Addrs(t, "eth0") {
		if a.Tentative {
			t.Errorf("address %v is tentative", a.Prefix)
		}
	}
	if mac := n.MAC(t, "eth0"); len(mac) != 6 {
		t.Errorf("MAC = %v", mac)
	}
}

func TestBridgeNotInRootNamespace(t *testing.T) {
	l := New(t)
	sw := l.Switch("sw")
	l.Connect(l.Node("a"), sw, "eth0")
	out, err := runTool("ip", "-o", "link", "show")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " p1@") || strings.Contains(line, " p1:") {
			t.Errorf("veth peer visible in the root namespace: %s", line)
		}
	}
	if !strings.Contains(sw.Node().Run(t, "ip", "-o", "link", "show", "master", BridgeName), "p1") {
		t.Error("veth peer p1 is not a port of the bridge")
	}
}

func TestCleanupRemovesNamespaces(t *testing.T) {
	var prefix string
	t.Run("lab", func(t *testing.T) {
		l := New(t)
		prefix = l.Prefix()
		sw := l.Switch("sw")
		a := l.Node("a")
		l.Connect(a, sw, "eth0", "198.51.100.1/24")
		cmd := a.Command(t.Context(), "sleep", "600")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if got := lab(t, prefix); len(got) != 2 {
			t.Fatalf("namespaces during the test = %v, want 2", got)
		}
	})
	if got := lab(t, prefix); len(got) != 0 {
		t.Errorf("namespaces left after cleanup: %v", got)
	}
}

func TestSweepStale(t *testing.T) {
	Require(t)
	// A pid above pid_max cannot be alive.
	name := namePrefix + "4194305x1-stale"
	if _, err := runTool("ip", "netns", "add", name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = deleteNamespace(name) })
	if err := sweepStale(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("stale namespace %s not swept (stat: %v)", name, err)
	}
}

func TestCapture(t *testing.T) {
	l := New(t)
	a, b := l.Node("a"), l.Node("b")
	sw := l.Switch("sw")
	l.Connect(a, sw, "eth0", "198.51.100.1/24", "2001:db8::1/64")
	l.Connect(b, sw, "eth0", "198.51.100.2/24", "2001:db8::2/64")

	tests := []struct {
		name   string
		dst    string
		filter string
		proto  int
	}{
		{"IPv4 echo", "198.51.100.2", "icmp", 1},
		{"IPv6 echo", "2001:db8::2", "icmp6", 58},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := b.Capture(t, "eth0", tc.filter)
			dst := netip.MustParseAddr(tc.dst)
			if err := a.Ping(dst); err != nil {
				t.Fatal(err)
			}
			f := c.WaitFor(t, 5*time.Second, func(f Frame) bool {
				ip, ok := f.IP()
				return ok && ip.Dst == dst && ip.Protocol == tc.proto
			})
			e, _ := f.Ethernet()
			if !bytes.Equal(e.Src, a.MAC(t, "eth0")) {
				t.Errorf("frame source %v, want a's MAC", e.Src)
			}
			ip, _ := f.IP()
			if ip.TTL != 64 {
				t.Errorf("TTL %d, want 64", ip.TTL)
			}
			if len(c.Stop()) == 0 {
				t.Error("Stop returned no frames")
			}
		})
	}
}

func TestReadPcap(t *testing.T) {
	rec := func(bo binary.ByteOrder, sec, frac uint32, data []byte) []byte {
		h := make([]byte, 16)
		bo.PutUint32(h[0:], sec)
		bo.PutUint32(h[4:], frac)
		bo.PutUint32(h[8:], uint32(len(data)))
		bo.PutUint32(h[12:], uint32(len(data)))
		return append(h, data...)
	}
	header := func(bo binary.ByteOrder, magic, linkType uint32) []byte {
		h := make([]byte, 24)
		bo.PutUint32(h[0:], magic)
		bo.PutUint32(h[20:], linkType)
		return h
	}
	frame := bytes.Repeat([]byte{0xab}, 60)
	tests := []struct {
		name     string
		stream   []byte
		want     int
		wantTime time.Time
		wantErr  bool
	}{
		{"little endian microseconds", append(header(binary.LittleEndian, 0xa1b2c3d4, 1), rec(binary.LittleEndian, 10, 5, frame)...), 1, time.Unix(10, 5000), false},
		{"big endian nanoseconds", append(header(binary.BigEndian, 0xa1b23c4d, 1), rec(binary.BigEndian, 10, 5, frame)...), 1, time.Unix(10, 5), false},
		{"empty stream", nil, 0, time.Time{}, false},
		{"bad magic", header(binary.LittleEndian, 0x12345678, 1), 0, time.Time{}, true},
		{"not ethernet", header(binary.LittleEndian, 0xa1b2c3d4, 113), 0, time.Time{}, true},
		{"truncated record", append(header(binary.LittleEndian, 0xa1b2c3d4, 1), rec(binary.LittleEndian, 1, 1, frame)[:30]...), 0, time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []Frame
			err := readPcap(bytes.NewReader(tc.stream), func(f Frame) { got = append(got, f) })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if len(got) != tc.want {
				t.Fatalf("%d frames, want %d", len(got), tc.want)
			}
			if tc.want > 0 && (!got[0].Time.Equal(tc.wantTime) || !bytes.Equal(got[0].Data, frame)) {
				t.Errorf("frame = %v %x", got[0].Time, got[0].Data)
			}
		})
	}
}

// lab lists the namespaces whose names start with prefix.
func lab(t *testing.T, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestProcess(t *testing.T) {
	l := New(t)
	n := l.Node("n")
	p := n.Start(t, "sh", "-c", "echo first; echo second; exec sleep 600")
	if got := p.WaitFor(t, 0, "second", 5*time.Second); got != "second" {
		t.Errorf("WaitFor returned %q", got)
	}
	if m := p.Mark(); m != 2 {
		t.Errorf("Mark = %d after two lines", m)
	}
	p.Stop()
	if out := p.Output(); out != "first\nsecond" {
		t.Errorf("Output = %q", out)
	}
	// The process ran inside the node: its namespace is the node's.
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+n.Name(), &st); err != nil {
		t.Fatal(err)
	}
	q := n.Start(t, "sh", "-c", "readlink /proc/self/ns/net")
	if line, want := q.WaitFor(t, 0, "net:", 5*time.Second), fmt.Sprintf("net:[%d]", st.Ino); line != want {
		t.Errorf("process namespace %s, want the node's %s", line, want)
	}
}

func TestBlockAndLinkState(t *testing.T) {
	l := New(t)
	sw := l.Switch("sw")
	a, b := l.Node("a"), l.Node("b")
	l.Connect(a, sw, "eth0", "198.51.100.1/24")
	l.Connect(b, sw, "eth0", "198.51.100.2/24")
	dst := netip.MustParseAddr("198.51.100.2")

	steps := []struct {
		name   string
		act    func()
		reachs bool
	}{
		{"initially", func() {}, true},
		{"blocked", func() { a.Block(t, "eth0", true) }, false},
		{"unblocked", func() { a.Block(t, "eth0", false) }, true},
		{"link down", func() { b.SetLink(t, "eth0", false) }, false},
		{"link up", func() { b.SetLink(t, "eth0", true) }, true},
	}
	for _, s := range steps {
		s.act()
		if err := a.Ping(dst); (err == nil) != s.reachs {
			t.Errorf("%s: ping error %v, want reachable %v", s.name, err, s.reachs)
		}
		if s.name == "blocked" {
			if err := a.linkReady("eth0"); err != nil {
				t.Errorf("blocked link is not up: %v", err)
			}
		}
	}
}
