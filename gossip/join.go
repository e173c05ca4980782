package gossip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// joinTarget is one entry of config.Gossip.Join: an address or a DNS name,
// with a port or not (0: the gossip port of this node).
type joinTarget struct {
	raw  string
	host string
	addr netip.Addr // valid when host is an IP literal
	port uint16
}

// parseJoinTarget accepts "host", "host:port", "IP", "IP:port" and
// "[IPv6]:port". Names are resolved at each attempt, not here.
func parseJoinTarget(s string) (joinTarget, error) {
	s = strings.TrimSpace(s)
	t := joinTarget{raw: s}
	if s == "" {
		return t, errors.New("empty join address")
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return t, fmt.Errorf("%q: port 0", s)
		}
		t.addr, t.port = ap.Addr(), ap.Port()
		t.host = t.addr.String()
		return t, nil
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		t.addr, t.host = a, a.String()
		return t, nil
	}
	host, port := s, ""
	if strings.Contains(s, ":") {
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return t, fmt.Errorf("%q: %v", s, err)
		}
		host, port = h, p
	}
	if host == "" || strings.ContainsAny(host, " /[]") {
		return t, fmt.Errorf("%q: bad host name", s)
	}
	t.host = host
	if port != "" {
		p, err := strconv.ParseUint(port, 10, 16)
		if err != nil || p == 0 {
			return t, fmt.Errorf("%q: bad port %q", s, port)
		}
		t.port = uint16(p)
	}
	return t, nil
}

// resolve returns the addresses of t, looking names up now.
func resolve(ctx context.Context, t joinTarget, defaultPort uint16) ([]netip.AddrPort, error) {
	port := t.port
	if port == 0 {
		port = defaultPort
	}
	if t.addr.IsValid() {
		return []netip.AddrPort{netip.AddrPortFrom(t.addr, port)}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", t.host)
	if err != nil {
		return nil, err
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip.Unmap(), port))
	}
	return out, nil
}

// joinLoop joins the configured members, retrying until one joins or ctx
// ends. With no join addresses this node waits to be joined.
func (c *Cluster) joinLoop(ctx context.Context, ml *memberlist.Memberlist) {
	if len(c.joins) == 0 {
		c.log.Info("gossip: no join addresses; waiting for members to join this node")
		return
	}
	retry(ctx, c.joinMin, c.joinMax, rand.Float64, func() bool {
		n := c.joinOnce(ctx, ml, c.joins)
		if n == 0 && ctx.Err() == nil {
			c.stats.joinFailures.Add(1)
		}
		return n > 0
	})
}

// retry calls try until it succeeds or ctx ends, sleeping between attempts
// a jittered exponential backoff: attempt i waits a random duration in
// [d/2, d] with d = min·2^i capped at max. The jitter keeps nodes started
// together from retrying in lockstep.
func retry(ctx context.Context, minDelay, maxDelay time.Duration, rnd func() float64, try func() bool) {
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil || try() {
			return
		}
		t := time.NewTimer(backoff(attempt, minDelay, maxDelay, rnd))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait after the attempt-th failure (0-based).
func backoff(attempt int, minDelay, maxDelay time.Duration, rnd func() float64) time.Duration {
	d := maxDelay
	if attempt < 30 {
		d = min(maxDelay, minDelay<<attempt)
	}
	return d/2 + time.Duration(rnd()*float64(d/2))
}

// joinOnce tries every join address once, skipping this node's own, and
// returns how many were joined. Each failure is logged with what it
// probably means.
func (c *Cluster) joinOnce(ctx context.Context, ml *memberlist.Memberlist, targets []joinTarget) int {
	self := c.LocalAddr()
	joined := 0
	for _, t := range targets {
		addrs, err := resolve(ctx, t, uint16(c.mc.BindPort))
		if err != nil {
			c.log.Warn("gossip: cannot resolve join address", "join", t.raw, "err", err)
			continue
		}
		for _, ap := range addrs {
			if ctx.Err() != nil {
				return joined
			}
			if ap == self {
				continue
			}
			if _, err := ml.Join([]string{ap.String()}); err != nil {
				c.logJoinFailure(t.raw, ap, err)
				continue
			}
			joined++
			c.log.Info("gossip: joined", "join", t.raw, "addr", ap)
		}
	}
	return joined
}

// logJoinFailure says why a join failed, as far as the error tells: a peer
// of another cluster or with other keys just closes the connection.
func (c *Cluster) logJoinFailure(raw string, ap netip.AddrPort, err error) {
	text := joinErrText(err)
	switch r := classify(text); {
	case r != rejectNone:
		// The peer answered in a way this node refuses: count it as the
		// peer counts this node's attempt.
		if r == rejectKey {
			c.stats.rejectedKey.Add(1)
		} else {
			c.stats.rejectedCluster.Add(1)
		}
		c.log.Error(r.explain(), "join", raw, "addr", ap, "err", text)
	case errors.Is(err, io.EOF) || strings.Contains(text, "EOF") || strings.Contains(text, "connection reset"):
		c.log.Warn("gossip: join failed: the peer closed the connection (different cluster_name or keys?)", "join", raw, "addr", ap, "err", text)
	default:
		c.log.Warn("gossip: join failed", "join", raw, "addr", ap, "err", text)
	}
}

// joinErrText flattens memberlist's multi-error ("1 error occurred:\n\t*
// ...") into one line.
func joinErrText(err error) string {
	if me, ok := err.(interface{ WrappedErrors() []error }); ok {
		var parts []string
		for _, e := range me.WrappedErrors() {
			parts = append(parts, e.Error())
		}
		if len(parts) > 0 {
			return strings.Join(parts, "; ")
		}
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
