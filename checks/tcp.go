package checks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/vipd/vipd/config"
)

// tcpProber is healthy when a TCP connection to the address completes
// within the timeout. The connection is closed at once, having sent
// nothing.
type tcpProber struct {
	address string
}

func newTCPProber(c *config.Check) (*tcpProber, error) {
	addr, err := checkHostPort(c.TCP.Address, "tcp")
	if err != nil {
		return nil, &ConfigError{Check: c.Name, Kind: c.Kind, Field: "Address", Err: err}
	}
	return &tcpProber{address: addr}, nil
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

// checkHostPort validates "host:port" (a service name is resolved to its
// number now) and returns it with a numeric port.
func checkHostPort(addr, network string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q: %w", addr, err)
	}
	if host == "" {
		// Dialing ":80" silently means the local host; make it explicit.
		return "", fmt.Errorf("%q: no host", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		p, lerr := net.LookupPort(network, port)
		if lerr != nil {
			return "", fmt.Errorf("%q: port %q is neither a number in 1..65535 nor a known service", addr, port)
		}
		n = uint64(p)
	}
	if n == 0 {
		return "", errors.New("port 0 cannot be connected to")
	}
	return net.JoinHostPort(host, strconv.FormatUint(n, 10)), nil
}
