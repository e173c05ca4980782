package checks

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"
)

// tcpProber is healthy when a TCP connection to the address completes
// within the timeout. The connection is closed at once, having sent
// nothing.
type tcpProber struct {
	address string
}

// TCPConfig is healthy when a TCP connection to Address succeeds.
type TCPConfig struct {
	// Address is host:port, the port a number.
	Address string `yaml:"address"`
}

var tcpKind = kindDef{
	kind:     KindTCP,
	settings: func(c *Config) bool { return c.TCP != nil },
	validate: func(c *Config, fail func(field, msg string)) {
		if msg := checkHostPort(c.TCP.Address); msg != "" {
			fail("tcp.address", msg)
		}
	},
	same:   func(a, b *Config) bool { return *a.TCP == *b.TCP },
	prober: func(c *Config, _ Options) (Prober, error) { return &tcpProber{address: c.TCP.Address}, nil },
}

// Probe connects once.
func (p *tcpProber) Probe(ctx context.Context) Result {
	start := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.address)
	res := Result{Duration: time.Since(start)}
	if err != nil {
		res.Err = probeErr(ctx, err)
		return res
	}
	res.OK = true
	res.Output = fmt.Sprintf("connected to %s", conn.RemoteAddr())
	conn.Close()
	return res
}

// checkHostPort checks HOST:PORT (a host, and a port number in
// 1-65535: a host left out would silently mean the local one); it returns
// what is wrong, or "".
func checkHostPort(s string) string {
	if s == "" {
		return "is required (host:port)"
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", s)
	}
	if host == "" {
		return fmt.Sprintf("%q has no host", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not a number in 1-65535", s, port)
	}
	return ""
}
