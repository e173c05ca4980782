package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ifaceProber is healthy while an interface is up and running, keepalived's
// track_interface: both IFF_UP (administratively up) and IFF_RUNNING (the
// kernel's operational state is up: carrier present, not dormant) must be
// set, as keepalived's IF_FLAGS_UP tests. A missing interface is down.
//
// The interface is looked up in the network namespace of the thread that
// calls Probe; vipd runs in one namespace, so that is vipd's.
//
// It is a Watcher: a netlink subscription to the kernel's link
// notifications (RTNLGRP_LINK) says when the interface may have changed,
// so that the Runner probes then rather than every interval.
type ifaceProber struct {
	name string

	// While watched, probes ask through one netlink socket kept open,
	// with raw system calls (linkquery.go), instead of opening one each
	// time.
	mu    sync.Mutex
	query *linkQuery
	// last is the last full probe's result while watched, and lastKey the
	// flags it saw: a probe that finds the same flags (the safety re-read,
	// every few seconds, nearly always) answers with it after one ioctl,
	// instead of the link's whole netlink message read and parsed. Under
	// mu.
	last    *Result
	lastKey uint32
}

// noLinkKey is lastKey for a missing interface (real flags fit in 16 bits).
const noLinkKey = 1 << 16

// InterfaceConfig fails while the interface's link is down.
type InterfaceConfig struct {
	// Name is the interface watched.
	Name string `yaml:"name"`
}

var interfaceKind = kindDef{
	kind:     KindInterface,
	settings: func(c *Config) bool { return c.Interface != nil },
	validate: func(c *Config, fail func(field, msg string)) {
		if msg := ifNameProblem(c.Interface.Name); msg != "" {
			fail("interface.name", fmt.Sprintf("%q %s", c.Interface.Name, msg))
		}
	},
	same:   func(a, b *Config) bool { return *a.Interface == *b.Interface },
	prober: func(c *Config, _ Options) (Prober, error) { return &ifaceProber{name: c.Interface.Name}, nil },
}

// ifNameProblem says what keeps name from being an interface name the
// kernel accepts (at most IFNAMSIZ-1 bytes, not "." or "..", no '/', ':',
// white space or NUL), or "".
func ifNameProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > unix.IFNAMSIZ-1:
		return fmt.Sprintf("is longer than %d characters", unix.IFNAMSIZ-1)
	case name == "." || name == "..":
		return "is not a valid interface name"
	case strings.ContainsAny(name, "/: \t\n\r\v\f\x00"):
		return "contains a character interface names cannot have ('/', ':' or space)"
	}
	return ""
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
	key, known := p.flagsKey()
	if known {
		p.mu.Lock()
		last := p.last
		same := last != nil && p.lastKey == key
		p.mu.Unlock()
		if same {
			// The verdict rests on the flags alone; the description (the
			// operational state's word) is the last full read's.
			return *last
		}
	}
	res := p.read()
	if known {
		p.mu.Lock()
		if p.query != nil { // still watched
			p.last, p.lastKey = &res, key
		}
		p.mu.Unlock()
	}
	return res
}

// flagsKey reads the link's flags through the query socket, while
// watched: the flags, or noLinkKey for a missing link; known is false
// when unwatched or the ioctl failed otherwise.
func (p *ifaceProber) flagsKey() (key uint32, known bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.query == nil {
		return 0, false
	}
	f, err := p.query.flags(p.name)
	switch {
	case errors.Is(err, errNoLink):
		return noLinkKey, true
	case err != nil:
		return 0, false
	}
	return uint32(f), true
}

// read looks the link up in full and judges it.
func (p *ifaceProber) read() Result {
	link, err := p.link()
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, errNoLink) {
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

// link looks the interface up: through the query socket while watched,
// else (or if its reply was not ready) through a socket of its own.
func (p *ifaceProber) link() (netlink.Link, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.query != nil {
		l, err := p.query.byName(p.name)
		if !errors.Is(err, errNoReply) {
			return l, err
		}
	}
	return netlink.LinkByName(p.name)
}

// Watch subscribes to the link notifications of the calling thread's
// network namespace and signals each one about this interface: by name,
// or by index, so that a rename away or a deletion counts too. If the
// subscription breaks (its socket buffer overflowed, so notifications were
// lost) it signals and subscribes again; the channel closes when that
// fails or ctx ends.
func (p *ifaceProber) Watch(ctx context.Context) (<-chan struct{}, error) {
	sub, err := subscribeLinks()
	if err != nil {
		return nil, fmt.Errorf("interface %s: link notifications: %w", p.name, err)
	}
	var index atomic.Int32 // the interface's index, once known; 0 until then
	if l, err := netlink.LinkByName(p.name); err == nil {
		index.Store(int32(l.Attrs().Index))
	}
	// A query socket that cannot be had leaves probes opening their own.
	if q, err := newLinkQuery(); err == nil {
		p.mu.Lock()
		p.query = q
		p.mu.Unlock()
	}
	out := make(chan struct{}, 1)
	signal := func() {
		select {
		case out <- struct{}{}:
		default: // one pending signal stands for all
		}
	}
	go func() {
		defer close(out)
		defer func() {
			p.mu.Lock()
			if p.query != nil {
				p.query.close()
				p.query = nil
			}
			p.last = nil
			p.mu.Unlock()
		}()
		for {
			sub.follow(ctx, func(u netlink.LinkUpdate) {
				a := u.Link.Attrs()
				switch {
				case a.Name == p.name:
					if u.Header.Type == unix.RTM_DELLINK {
						index.Store(0)
					} else {
						index.Store(int32(a.Index))
					}
					signal()
				case a.Index != 0 && int32(a.Index) == index.Load():
					signal() // renamed away
				}
			})
			if ctx.Err() != nil {
				return
			}
			signal()
			if sub, err = subscribeLinks(); err != nil {
				return
			}
		}
	}()
	return out, nil
}

// linkSub is one netlink subscription to link notifications.
type linkSub struct {
	updates chan netlink.LinkUpdate
	done    chan struct{}
}

// subscribeLinks subscribes in the calling thread's network namespace.
func subscribeLinks() (*linkSub, error) {
	s := &linkSub{updates: make(chan netlink.LinkUpdate, 16), done: make(chan struct{})}
	if err := netlink.LinkSubscribeWithOptions(s.updates, s.done, netlink.LinkSubscribeOptions{}); err != nil {
		return nil, err
	}
	return s, nil
}

// follow hands each update to fn until ctx ends or the subscription
// breaks, then closes the subscription and returns once netlink's
// goroutines have ended (they close updates).
func (s *linkSub) follow(ctx context.Context, fn func(netlink.LinkUpdate)) {
	defer func() {
		close(s.done)
		for range s.updates {
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-s.updates:
			if !ok {
				return
			}
			fn(u)
		}
	}
}
