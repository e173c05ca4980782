package lab

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// namePrefix starts every namespace name a lab creates; the test binary's pid
// and a lab counter follow, so that a later run can tell its own namespaces
// from those of a run that died.
const namePrefix = "vipdt"

// BridgeName is the name of the bridge inside every switch's namespace.
const BridgeName = "br0"

// maxIfName is IFNAMSIZ minus the terminating NUL.
const maxIfName = 15

// cmdTimeout bounds every ip/sysctl helper command so a wedged tool fails the
// test instead of hanging it until the go test deadline.
const cmdTimeout = 2 * time.Minute

var (
	labSeq    atomic.Uint64
	sweepOnce sync.Once
	// shortName keeps node and switch names short and safe to pass to
	// ip(8) and to use in file names.
	shortName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}$`)
	// staleName matches the namespaces of any lab: vipdt<pid>x<n>-<name>.
	staleName = regexp.MustCompile(`^` + namePrefix + `([0-9]+)x[0-9]+-`)
)

// Lab is one test's set of namespaces. Create it with New; it is torn down
// by t.Cleanup. Its methods fail the test (t.Fatal) on any error, so call
// them from the test's own goroutine.
type Lab struct {
	t      testing.TB
	prefix string

	mu      sync.Mutex
	spaces  map[string]*Node // every node and switch namespace, by short name
	order   []string         // full namespace names, in creation order
	cmds    []*exec.Cmd      // processes from Node.Command, killed at cleanup
	vethSeq int
}

// New creates an empty lab for t, or skips/fails t as Require does. It also
// deletes namespaces left over by earlier test processes that no longer run.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	sweepOnce.Do(func() {
		if err := sweepStale(); err != nil {
			t.Logf("lab: sweeping stale namespaces: %v", err)
		}
	})
	l := &Lab{
		t:      t,
		prefix: fmt.Sprintf("%s%dx%d-", namePrefix, os.Getpid(), labSeq.Add(1)),
		spaces: make(map[string]*Node),
	}
	t.Cleanup(l.cleanup)
	return l
}

// Prefix returns the prefix of every namespace name of this lab.
func (l *Lab) Prefix() string { return l.prefix }

// Node creates a host: a namespace with lo up, IPv4 and IPv6 forwarding
// off, reverse-path filtering off, and IPv6 duplicate address detection off
// for the links it will get, so that test addresses are usable at once.
func (l *Lab) Node(name string) *Node {
	l.t.Helper()
	n := l.newNamespace(name)
	n.Sysctl(l.t, "net.ipv4.ip_forward", "0")
	for _, scope := range []string{"all", "default"} {
		n.Sysctl(l.t, "net.ipv6.conf."+scope+".forwarding", "0")
		n.Sysctl(l.t, "net.ipv6.conf."+scope+".accept_dad", "0")
		// IPv4 settings of a new namespace are copied from the root one,
		// which may filter strictly; tests routing between subnets must
		// not depend on the host's policy.
		n.Sysctl(l.t, "net.ipv4.conf."+scope+".rp_filter", "0")
	}
	return n
}

// Switch creates an L2 segment: a bridge named BridgeName in a namespace of
// its own (never in the root namespace), with multicast snooping off so
// that multicast reaches every port, and IPv6 off so that the switch itself
// sends nothing.
func (l *Lab) Switch(name string) *Switch {
	l.t.Helper()
	n := l.newNamespace(name)
	for _, scope := range []string{"all", "default"} {
		n.Sysctl(l.t, "net.ipv6.conf."+scope+".disable_ipv6", "1")
	}
	l.ip("-n", n.name, "link", "add", BridgeName, "type", "bridge",
		"stp_state", "0", "mcast_snooping", "0")
	l.ip("-n", n.name, "link", "set", BridgeName, "up")
	return &Switch{node: n}
}

// Connect cables node n to switch s with a veth pair: ifname inside the
// node, the other end a bridge port in the switch's namespace. The given
// addresses ("198.51.100.1/24", "2001:db8::1/64") are added to ifname and
// the link is brought up. Connect returns once the link is up and its IPv6
// link-local address is usable.
func (l *Lab) Connect(n *Node, s *Switch, ifname string, addrs ...string) {
	l.t.Helper()
	if len(ifname) == 0 || len(ifname) > maxIfName || strings.ContainsAny(ifname, "/ \t\n") {
		l.t.Fatalf("lab: interface name %q: want 1..%d characters, no '/' or spaces", ifname, maxIfName)
	}
	prefixes := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			l.t.Fatalf("lab: address %q for %s/%s: %v", a, n.short, ifname, err)
		}
		prefixes = append(prefixes, p)
	}

	l.mu.Lock()
	l.vethSeq++
	peer := fmt.Sprintf("p%d", l.vethSeq)
	l.mu.Unlock()

	// Created from inside the node so that nothing, not even for an
	// instant, lives in the root namespace.
	l.ip("-n", n.name, "link", "add", ifname, "type", "veth", "peer", "name", peer, "netns", s.node.name)
	l.ip("-n", s.node.name, "link", "set", peer, "master", BridgeName)
	l.ip("-n", s.node.name, "link", "set", peer, "up")
	for _, p := range prefixes {
		args := []string{"-n", n.name, "addr", "add", p.String(), "dev", ifname}
		if p.Addr().Is4() {
			args = append(args, "brd", "+")
		} else {
			args = append(args, "nodad")
		}
		l.ip(args...)
	}
	l.ip("-n", n.name, "link", "set", ifname, "up")
	n.waitLinkReady(l.t, ifname)
}

// ip runs the ip tool in the root namespace's process (namespaced by its own
// -n argument) and fails the test on error.
func (l *Lab) ip(args ...string) string {
	l.t.Helper()
	out, err := runTool("ip", args...)
	if err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	return out
}

func (l *Lab) newNamespace(name string) *Node {
	l.t.Helper()
	if !shortName.MatchString(name) {
		l.t.Fatalf("lab: name %q: want 1..32 of [a-zA-Z0-9_.-], starting with a letter or digit", name)
	}
	l.mu.Lock()
	if _, dup := l.spaces[name]; dup {
		l.mu.Unlock()
		l.t.Fatalf("lab: name %q already used in this lab", name)
	}
	n := &Node{lab: l, short: name, name: l.prefix + name}
	// Registered before it exists, so that cleanup removes it even if
	// creation half fails.
	l.spaces[name] = n
	l.order = append(l.order, n.name)
	l.mu.Unlock()

	l.ip("netns", "add", n.name)
	l.ip("-n", n.name, "link", "set", "lo", "up")
	return n
}

func (l *Lab) track(c *exec.Cmd) {
	l.mu.Lock()
	l.cmds = append(l.cmds, c)
	l.mu.Unlock()
}

// cleanup kills the lab's processes, then deletes its namespaces; veths go
// with them. It reports failures but carries on, so one stuck namespace
// does not leave the others behind.
func (l *Lab) cleanup() {
	l.mu.Lock()
	cmds := append([]*exec.Cmd(nil), l.cmds...)
	order := append([]string(nil), l.order...)
	l.mu.Unlock()

	for _, c := range cmds {
		// Signal 0 through the pidfd-backed Process tells whether the
		// process is still unreaped, so its pid (and group id) cannot
		// belong to someone else yet.
		if c.Process != nil && c.ProcessState == nil && c.Process.Signal(syscall.Signal(0)) == nil {
			// Negative pid: the whole process group (Setpgid in Command).
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	for i := len(order) - 1; i >= 0; i-- {
		if err := deleteNamespace(order[i]); err != nil {
			l.t.Errorf("lab: cleanup: %v", err)
		}
	}
}

// deleteNamespace kills whatever still runs inside the namespace (only
// processes a lab started can be there) and removes its name; the kernel
// frees it, with its interfaces, once the last reference is gone.
func deleteNamespace(name string) error {
	if _, err := os.Stat("/run/netns/" + name); os.IsNotExist(err) {
		return nil
	}
	if out, err := runTool("ip", "netns", "pids", name); err == nil {
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	_, err := runTool("ip", "netns", "del", name)
	return err
}

// sweepStale deletes the namespaces of labs whose test process is gone
// (killed before its cleanup ran).
func sweepStale() error {
	entries, err := os.ReadDir("/run/netns")
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		m := staleName.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		if err := deleteNamespace(e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d stale namespaces not deleted, first: %w", len(errs), errs[0])
	}
	return nil
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// runTool runs a helper tool with a time bound and returns its stdout; the
// error carries the command line and stderr.
func runTool(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, name, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
