package gossip

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// joinOnce tries every join address once, skipping this node's own, and
// returns how many were joined. Each failure is logged with what it
// probably means.
func (c *Cluster) joinOnce(ctx context.Context, ml *memberlist.Memberlist, targets []joinTarget) int {
	var list []target
	for _, t := range targets {
		list = append(list, c.resolveJoin(ctx, t, true)...)
	}
	joined := 0
	for _, r := range c.tryAll(ctx, ml, list, true) {
		if r.ok {
			joined++
		}
	}
	return joined
}

// resolveJoin returns the addresses of a join entry other than this
// node's own, as rejoin targets. A failed lookup is logged (as a warning
// when loud, else for debugging) and gives none.
func (c *Cluster) resolveJoin(ctx context.Context, t joinTarget, loud bool) []target {
	addrs, err := resolve(ctx, t, uint16(c.mc.BindPort))
	if err != nil {
		level := slog.LevelDebug
		if loud {
			level = slog.LevelWarn
		}
		c.log.Log(ctx, level, "gossip: cannot resolve join address", "join", t.raw, "err", err)
		return nil
	}
	var out []target
	for _, ap := range addrs {
		if !c.isSelf(ap) {
			out = append(out, target{what: "join", raw: t.raw, addr: ap})
		}
	}
	return out
}

// isSelf reports whether ap is this node's gossip address: the address
// peers reach it at, or the one it is bound to.
func (c *Cluster) isSelf(ap netip.AddrPort) bool {
	if ap == c.LocalAddr() {
		return true
	}
	if b, err := netip.ParseAddr(c.mc.BindAddr); err == nil && !b.IsUnspecified() && ap == netip.AddrPortFrom(b, uint16(c.mc.BindPort)) {
		return true
	}
	return false
}

// logJoinFailure says why a join failed, as far as the error tells: a peer
// of another cluster or with other keys just closes the connection. A
// rejection is an error whatever loud says.
func (c *Cluster) logJoinFailure(t target, err error, loud bool) {
	text := joinErrText(err)
	attrs := []any{"join", t.raw, "addr", t.addr, "err", text}
	if t.name != "" {
		attrs = []any{"node", t.name, "addr", t.addr, "err", text}
	}
	switch r := classify(text); {
	case r != rejectNone:
		// The peer answered in a way this node refuses: count it as the
		// peer counts this node's attempt.
		if r == rejectKey {
			c.stats.rejectedKey.Add(1)
		} else {
			c.stats.rejectedCluster.Add(1)
		}
		c.log.Error(r.explain(), attrs...)
	case errors.Is(err, io.EOF) || strings.Contains(text, "EOF") || strings.Contains(text, "connection reset"):
		// What a peer with other keys or another cluster name does: loud
		// even while reconnecting.
		c.log.Warn("gossip: join failed: the peer closed the connection (different cluster_name or keys?)", attrs...)
	default:
		c.log.Log(context.Background(), logLevel(loud), "gossip: join failed", attrs...)
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
