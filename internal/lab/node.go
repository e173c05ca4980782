package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Node is a host of the lab: one network namespace.
type Node struct {
	lab   *Lab
	short string // as given to Lab.Node
	name  string // full namespace name
}

// Name returns the full name of the node's namespace, for `ip netns exec`
// or `ip -n`.
func (n *Node) Name() string { return n.name }

// Router turns IPv4 and IPv6 forwarding on or off for the whole node.
func (n *Node) Router(enable bool) {
	n.lab.t.Helper()
	v := "0"
	if enable {
		v = "1"
	}
	n.Sysctl(n.lab.t, "net.ipv4.ip_forward", v)
	n.Sysctl(n.lab.t, "net.ipv6.conf.all.forwarding", v)
}

// Run runs args[0] with args[1:] inside the node (ip netns exec) and returns
// its standard output; a failure or a non-zero exit fails the test.
func (n *Node) Run(t testing.TB, args ...string) string {
	t.Helper()
	if len(args) == 0 {
		t.Fatalf("lab: %s: Run needs a command", n.short)
	}
	out, err := runTool("ip", append([]string{"netns", "exec", n.name}, args...)...)
	if err != nil {
		t.Fatalf("lab: %s: %v", n.short, err)
	}
	return out
}

// Command returns a command that runs name inside the node; it is not
// started. It runs in a process group of its own, which is killed when ctx
// is done and at the latest when the lab is cleaned up. The caller owns
// Start and Wait.
func (n *Node) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name, name}, args...)...)
	// ip netns exec execs the program in place, so the group leader is
	// the program itself and its children share the group.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 5 * time.Second
	n.lab.track(c)
	return c
}

// Do runs fn on a new goroutine whose OS thread is locked and moved into
// the node's namespace, and returns fn's error. Sockets and netlink handles
// created inside fn belong to the node and may be used from any goroutine
// afterwards. Goroutines that fn starts run in whatever namespace their
// thread has (normally the root one), not in the node's. The thread is never
// unlocked, so the runtime destroys it when fn returns instead of reusing a
// thread in the wrong namespace.
func (n *Node) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer func() {
			if r := recover(); r != nil {
				errc <- fmt.Errorf("lab: panic in %s: %v\n%s", n.short, r, debug.Stack())
			}
		}()
		h, err := netns.GetFromName(n.name)
		if err != nil {
			errc <- fmt.Errorf("lab: open namespace %s: %w", n.name, err)
			return
		}
		err = netns.Set(h)
		h.Close()
		if err != nil {
			errc <- fmt.Errorf("lab: enter namespace %s: %w", n.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Sysctl sets a kernel parameter inside the node. key is either dotted
// ("net.ipv4.ip_forward") or a path under /proc/sys
// ("net/ipv6/conf/eth0.5/forwarding") when a component has a dot.
func (n *Node) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	path := key
	if !strings.Contains(key, "/") {
		path = strings.ReplaceAll(key, ".", "/")
	}
	// /proc/sys/net shows the namespace of the thread that opens it.
	err := n.Do(func() error {
		return os.WriteFile("/proc/sys/"+path, []byte(value), 0)
	})
	if err != nil {
		t.Fatalf("lab: %s: sysctl %s=%s: %v", n.short, key, value, err)
	}
}

// AddRoute adds a route to dst ("203.0.113.0/24", "default") through the
// gateway via.
func (n *Node) AddRoute(t testing.TB, dst, via string) {
	t.Helper()
	n.Run(t, "ip", "route", "add", dst, "via", via)
}

// SetLink brings ifname up or down.
func (n *Node) SetLink(t testing.TB, ifname string, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	n.Run(t, "ip", "link", "set", ifname, state)
}

// Block cuts ifname off (block true) or reconnects it: every frame in or
// out is dropped by nftables netdev hooks, while the link stays up. That is
// a network partition as a daemon sees one, unlike SetLink down, which it
// sees as an interface fault. It needs the nft tool. (This kernel has no
// netem or tc actions, hence nftables.)
func (n *Node) Block(t testing.TB, ifname string, block bool) {
	t.Helper()
	chain := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, ifname)
	if !block {
		n.Run(t, "nft", "delete", "chain", "netdev", "vipdlab", "in_"+chain)
		n.Run(t, "nft", "delete", "chain", "netdev", "vipdlab", "out_"+chain)
		return
	}
	n.Run(t, "nft", "add", "table", "netdev", "vipdlab")
	for _, c := range []struct{ name, hook string }{{"in_" + chain, "ingress"}, {"out_" + chain, "egress"}} {
		n.Run(t, "nft", "add", "chain", "netdev", "vipdlab", c.name,
			fmt.Sprintf(`{ type filter hook %s device "%s" priority 0; policy drop; }`, c.hook, ifname))
	}
}

// Addr is one address of an interface as `ip -j addr` reports it.
type Addr struct {
	Prefix    netip.Prefix // address and prefix length
	Label     string       // IPv4 only
	Secondary bool         // IPv4 address in the subnet of an earlier one
	Tentative bool         // IPv6 duplicate address detection still running
	DADFailed bool
	NoDAD     bool // added with IFA_F_NODAD
}

// ipAddrJSON is the part of `ip -j addr show` the lab reads.
type ipAddrJSON struct {
	IfIndex   int    `json:"ifindex"`
	IfName    string `json:"ifname"`
	OperState string `json:"operstate"`
	Address   string `json:"address"`
	AddrInfo  []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Label     string `json:"label"`
		Secondary bool   `json:"secondary"`
		Tentative bool   `json:"tentative"`
		DADFailed bool   `json:"dadfailed"`
		NoDAD     bool   `json:"nodad"`
	} `json:"addr_info"`
}

func (n *Node) link(ifname string) (ipAddrJSON, error) {
	out, err := runTool("ip", "-n", n.name, "-j", "addr", "show", "dev", ifname)
	if err != nil {
		return ipAddrJSON{}, err
	}
	var links []ipAddrJSON
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return ipAddrJSON{}, fmt.Errorf("parse ip -j addr output: %w", err)
	}
	if len(links) != 1 {
		return ipAddrJSON{}, fmt.Errorf("ip -j addr show dev %s: %d links", ifname, len(links))
	}
	return links[0], nil
}

// Addrs lists the addresses of ifname.
func (n *Node) Addrs(t testing.TB, ifname string) []Addr {
	t.Helper()
	l, err := n.link(ifname)
	if err != nil {
		t.Fatalf("lab: %s: %v", n.short, err)
	}
	var addrs []Addr
	for _, ai := range l.AddrInfo {
		a, err := netip.ParseAddr(ai.Local)
		if err != nil {
			t.Fatalf("lab: %s: address %q of %s: %v", n.short, ai.Local, ifname, err)
		}
		addrs = append(addrs, Addr{
			Prefix:    netip.PrefixFrom(a, ai.PrefixLen),
			Label:     ai.Label,
			Secondary: ai.Secondary,
			Tentative: ai.Tentative,
			DADFailed: ai.DADFailed,
			NoDAD:     ai.NoDAD,
		})
	}
	return addrs
}

// HasAddr reports whether ifname holds exactly p (address and length).
func (n *Node) HasAddr(t testing.TB, ifname string, p netip.Prefix) bool {
	t.Helper()
	for _, a := range n.Addrs(t, ifname) {
		if a.Prefix == p {
			return true
		}
	}
	return false
}

// MAC returns the hardware address of ifname.
func (n *Node) MAC(t testing.TB, ifname string) net.HardwareAddr {
	t.Helper()
	l, err := n.link(ifname)
	if err != nil {
		t.Fatalf("lab: %s: %v", n.short, err)
	}
	mac, err := net.ParseMAC(l.Address)
	if err != nil {
		t.Fatalf("lab: %s: hardware address %q of %s: %v", n.short, l.Address, ifname, err)
	}
	return mac
}

// IfIndex returns the interface index of ifname inside the node.
func (n *Node) IfIndex(t testing.TB, ifname string) int {
	t.Helper()
	l, err := n.link(ifname)
	if err != nil {
		t.Fatalf("lab: %s: %v", n.short, err)
	}
	return l.IfIndex
}

// Neighbour is one neighbour-table entry.
type Neighbour struct {
	MAC   net.HardwareAddr // nil while unresolved
	State []string         // e.g. ["REACHABLE"], ["STALE"]
}

// Neigh returns the node's neighbour entry for a on ifname, if any.
func (n *Node) Neigh(t testing.TB, ifname string, a netip.Addr) (Neighbour, bool) {
	t.Helper()
	out, err := runTool("ip", "-n", n.name, "-j", "neigh", "show", "to", a.String(), "dev", ifname)
	if err != nil {
		t.Fatalf("lab: %s: %v", n.short, err)
	}
	var entries []struct {
		Dst    string   `json:"dst"`
		LLAddr string   `json:"lladdr"`
		State  []string `json:"state"`
	}
	if strings.TrimSpace(out) == "" {
		return Neighbour{}, false
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("lab: %s: parse ip -j neigh output %q: %v", n.short, out, err)
	}
	for _, e := range entries {
		if d, err := netip.ParseAddr(e.Dst); err != nil || d != a {
			continue
		}
		nb := Neighbour{State: e.State}
		if e.LLAddr != "" {
			mac, err := net.ParseMAC(e.LLAddr)
			if err != nil {
				t.Fatalf("lab: %s: neighbour lladdr %q: %v", n.short, e.LLAddr, err)
			}
			nb.MAC = mac
		}
		return nb, true
	}
	return Neighbour{}, false
}

// errNotReady is returned while polling a link that is not ready yet.
var errNotReady = errors.New("not ready")

// waitLinkReady waits until ifname is operationally up and has a usable
// IPv6 link-local address: carrier is reported asynchronously, and the
// link-local address only appears after it.
func (n *Node) waitLinkReady(t testing.TB, ifname string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		last = n.linkReady(ifname)
		if last == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("lab: %s: %s did not come up: %v", n.short, ifname, last)
}

func (n *Node) linkReady(ifname string) error {
	l, err := n.link(ifname)
	if err != nil {
		return err
	}
	if l.OperState != "UP" {
		return fmt.Errorf("%w: operstate %s", errNotReady, l.OperState)
	}
	for _, ai := range l.AddrInfo {
		if a, err := netip.ParseAddr(ai.Local); err == nil && a.Is6() && a.IsLinkLocalUnicast() && !ai.Tentative {
			return nil
		}
	}
	return fmt.Errorf("%w: no usable IPv6 link-local address", errNotReady)
}
