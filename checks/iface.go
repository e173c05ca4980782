package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vipd/vipd/config"
)

// ifaceProber is healthy while an interface is up and running, keepalived's
// track_interface: both IFF_UP (administratively up) and IFF_RUNNING (the
// kernel's operational state is up: carrier present, not dormant) must be
// set, as keepalived's IF_FLAGS_UP tests. A missing interface is down.
//
// The interface is looked up in the network namespace of the thread that
// calls Probe; vipd runs in one namespace, so that is vipd's.
type ifaceProber struct {
	name string
}

func newIfaceProber(c *config.Check) (*ifaceProber, error) {
	n := c.Interface.Name
	var err error
	switch {
	case n == "":
		err = errors.New("no interface given")
	case len(n) > unix.IFNAMSIZ-1:
		err = fmt.Errorf("%q: longer than %d characters", n, unix.IFNAMSIZ-1)
	case n == "." || n == ".." || strings.ContainsAny(n, "/: \t\n\x00"):
		err = fmt.Errorf("%q is not an interface name", n)
	}
	if err != nil {
		return nil, &ConfigError{Check: c.Name, Kind: c.Kind, Field: "Name", Err: err}
	}
	return &ifaceProber{name: n}, nil
}

// Probe reads the link's flags once.
func (p *ifaceProber) Probe(ctx context.Context) Result {
	start := time.Now()
	res := p.probe(ctx)
	res.Duration = time.Since(start)
	return res
}

func (p *ifaceProber) probe(ctx context.Context) Result {
	if err := ctx.Err(); err != nil {
		return Result{Err: probeErr(ctx, err)}
	}
	link, err := netlink.LinkByName(p.name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return Result{Err: fmt.Errorf("interface %s does not exist", p.name)}
		}
		return Result{Err: fmt.Errorf("interface %s: %w", p.name, err)}
	}
	a := link.Attrs()
	desc := fmt.Sprintf("%s: state %s, up %t, running %t", p.name, a.OperState,
		a.RawFlags&unix.IFF_UP != 0, a.RawFlags&unix.IFF_RUNNING != 0)
	if a.RawFlags&(unix.IFF_UP|unix.IFF_RUNNING) != unix.IFF_UP|unix.IFF_RUNNING {
		return Result{Output: desc, Err: fmt.Errorf("interface %s is down", p.name)}
	}
	return Result{OK: true, Output: desc}
}
