package checks

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

func tcpCheck(addr string) *Config {
	return &Config{Name: "tcp-test", Kind: KindTCP, TCP: &TCPConfig{Address: addr}}
}

// listener returns a loopback listener that accepts and closes
// connections, and counts them.
func listener(t *testing.T) (net.Listener, <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case accepted <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l, accepted
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestTCPProbe(t *testing.T) {
	l, accepted := listener(t)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	tests := []struct {
		name     string
		addr     string
		ok       bool
		errHas   string
		accepted bool
	}{
		{name: "listening port", addr: l.Addr().String(), ok: true, accepted: true},
		{name: "host name", addr: net.JoinHostPort("localhost", port), ok: true, accepted: true},
		{name: "closed port", addr: closedPort(t), errHas: "refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := probe(t, tcpCheck(tc.addr), 5*time.Second)
			wantResult(t, r, tc.ok, tc.errHas)
			if tc.accepted {
				select {
				case <-accepted:
				case <-time.After(5 * time.Second):
					t.Fatal("the server saw no connection")
				}
			}
		})
	}
}

func TestTCPProbeDeadlinePassed(t *testing.T) {
	l, _ := listener(t)
	wantResult(t, probeLate(t, tcpCheck(l.Addr().String())), false, "timed out")
}

// TestTCPProbeTimeout connects, inside a namespace, to an address of a
// segment where nobody else lives: ARP gets no answer, the SYN is never
// sent, and only the timeout ends the probe.
func TestTCPProbeTimeout(t *testing.T) {
	l := lab.New(t)
	n := l.Node("tcp")
	l.Connect(n, l.Switch("sw"), "eth0", "203.0.113.1/24")

	p, err := NewProber(tcpCheck("203.0.113.9:80"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var r Result
	start := time.Now()
	if err := n.Do(func() error {
		ctx, cancel := contextWithTimeout(300 * time.Millisecond)
		defer cancel()
		r = p.Probe(ctx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wantResult(t, r, false, "timed out")
	if !errors.Is(r.Err, ErrTimeout) {
		t.Errorf("err %v does not wrap ErrTimeout", r.Err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 3*time.Second {
		t.Errorf("probe took %s, want about the 300ms timeout", el)
	}
}

func TestTCPConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		check *Config
	}{
		{name: "no port", check: tcpCheck("127.0.0.1")},
		{name: "no host", check: tcpCheck(":80")},
		{name: "empty", check: tcpCheck("")},
		{name: "port out of range", check: tcpCheck("127.0.0.1:65536")},
		{name: "port zero", check: tcpCheck("127.0.0.1:0")},
		{name: "unknown service", check: tcpCheck("127.0.0.1:no-such-service-vipd")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantConfigError(t, tc.check, "tcp.address")
		})
	}
	wantConfigError(t, &Config{Name: "t", Kind: KindTCP}, "tcp")
}
