// Package testbed runs VRRP daemons — vipd and Debian's keepalived — on the
// nodes of a network-namespace lab and watches which node holds a VIP. The
// end-to-end tests (test/e2e) and the failover benchmark (bench/failover)
// share it so that both measure the same way.
//
// It is test infrastructure: only _test.go files import it.
package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// BuildTags are the build tags every build of vipd uses. grpcnotrace
// keeps gRPC from linking golang.org/x/net/trace, whose debug pages run
// html/template: a reachable text/template makes the linker keep every
// exported method of every type in the binary (it cannot tell which a
// template calls), among them all of the EC2 client's operations, and the
// binary grows from 30 to 75 MB, 6 MB more of it resident.
const BuildTags = "grpcnotrace"

// VipdBinary builds cmd/vipd once per test process, as it is shipped
// (static, with BuildTags), and returns its path.
func VipdBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vipd-testbin-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "vipd")
		cmd := exec.Command("go", "build", "-tags", BuildTags, "-o", buildPath, "./cmd/vipd")
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return buildPath
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// RequireKeepalived skips (or fails under CI=true) when keepalived is not
// installed, and returns its path.
func RequireKeepalived(tb testing.TB) string {
	tb.Helper()
	return lab.RequireProgram(tb, "keepalived", "/usr/sbin/keepalived", "/sbin/keepalived")
}

// Daemon is one VRRP daemon process running in a lab node.
type Daemon struct {
	Kind string // "vipd" or "keepalived"
	Node *lab.Node
	Log  string // path of its combined output
	// Config is the path of the configuration file it was started with;
	// rewrite it and send SIGHUP to test reloads.
	Config string
	// Socket is a vipd's API socket.
	Socket string

	cmd  *exec.Cmd
	done chan struct{}
}

// StartVipd writes cfg (YAML when ext is ".yaml", keepalived syntax when
// ".conf") and runs `vipd agent` with it in node.
func StartVipd(tb testing.TB, node *lab.Node, cfg, ext string) *Daemon {
	tb.Helper()
	return StartVipdEnv(tb, node, cfg, ext, nil)
}

// StartVipdEnv is StartVipd with more environment variables (NAME=value).
func StartVipdEnv(tb testing.TB, node *lab.Node, cfg, ext string, env []string) *Daemon {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "vipd"+ext)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	// Each daemon gets an API socket of its own: the default path is
	// shared by every namespace of the machine.
	d := startEnv(tb, node, "vipd", dir, env, VipdBinary(tb), "agent", "--config", path, "--log-level", "debug",
		"--api-socket", filepath.Join(dir, "vipd.sock"))
	d.Config = path
	d.Socket = filepath.Join(dir, "vipd.sock")
	return d
}

// StartKeepalived writes cfg and runs Debian's keepalived (VRRP only, in the
// foreground) with it in node, with pid files of its own so it never meets
// another keepalived.
func StartKeepalived(tb testing.TB, node *lab.Node, cfg string) *Daemon {
	tb.Helper()
	bin := RequireKeepalived(tb)
	dir := tb.TempDir()
	path := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	d := start(tb, node, "keepalived", dir, bin,
		"--dont-fork", "--log-console", "--log-detail", "--vrrp",
		"--use-file", path,
		"--pid", filepath.Join(dir, "keepalived.pid"),
		"--vrrp_pid", filepath.Join(dir, "vrrp.pid"),
		"--checkers_pid", filepath.Join(dir, "checkers.pid"),
	)
	d.Config = path
	return d
}

// Start runs any program in node as a Daemon (dnsmasq, a service under
// test), with its output in a log of its own.
func Start(tb testing.TB, node *lab.Node, kind, bin string, args ...string) *Daemon {
	tb.Helper()
	return start(tb, node, kind, tb.TempDir(), bin, args...)
}

// StartDnsmasq runs a dnsmasq in node (in the foreground, logging to
// stderr: --no-daemon would not write the pid file) that answers only from its own
// records (no upstream, no /etc/hosts), on every address of eth0 and lo,
// including VIPs added later (--bind-dynamic), writing its pid to pidfile.
// records are dnsmasq options such as "--txt-record=cam.ac.uk,v=spf1 -all".
func StartDnsmasq(tb testing.TB, node *lab.Node, pidfile string, records ...string) *Daemon {
	tb.Helper()
	bin := lab.RequireProgram(tb, "dnsmasq")
	dir := tb.TempDir()
	args := append([]string{
		"--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
		"--bind-dynamic", "--interface=eth0", "--interface=lo", "--user=root",
		"--pid-file=" + pidfile, "--log-queries=extra",
	}, records...)
	return start(tb, node, "dnsmasq", dir, bin, args...)
}

func start(tb testing.TB, node *lab.Node, kind, dir, bin string, args ...string) *Daemon {
	tb.Helper()
	return startEnv(tb, node, kind, dir, nil, bin, args...)
}

func startEnv(tb testing.TB, node *lab.Node, kind, dir string, env []string, bin string, args ...string) *Daemon {
	tb.Helper()
	logPath := filepath.Join(dir, kind+".log")
	f, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := node.Command(context.Background(), bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		tb.Fatalf("start %s in %s: %v", kind, node.Name(), err)
	}
	d := &Daemon{Kind: kind, Node: node, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		f.Close()
		close(d.done)
	}()
	tb.Cleanup(func() {
		d.Kill()
		if tb.Failed() {
			tb.Logf("--- %s on %s log:\n%s", kind, node.Name(), d.Output())
		}
	})
	return d
}

// Pid returns the daemon's process id (ip netns exec runs it in place).
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Output returns what the daemon logged so far.
func (d *Daemon) Output() string {
	b, _ := os.ReadFile(d.Log)
	return string(b)
}

// Kill sends SIGKILL to the daemon's whole process group and waits for it
// to exit. keepalived runs its VRRP code in a child process that would stop
// gracefully (priority-0 advert) if only its parent died: a crash kills all.
func (d *Daemon) Kill() {
	if d.cmd.Process != nil && !d.Exited() {
		_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
	}
	d.Wait(5 * time.Second)
}

// Term sends SIGTERM, the graceful stop.
func (d *Daemon) Term() { d.signal(syscall.SIGTERM) }

// Signal sends sig to the daemon.
func (d *Daemon) Signal(sig syscall.Signal) { d.signal(sig) }

func (d *Daemon) signal(sig syscall.Signal) {
	if d.cmd.Process == nil {
		return
	}
	select {
	case <-d.done:
		return
	default:
	}
	// `ip netns exec` execs the daemon, so the pid is the daemon's own (the
	// group leader, see lab.Node.Command).
	_ = syscall.Kill(d.cmd.Process.Pid, sig)
}

// Wait waits up to timeout for the process to exit and reports whether it did.
func (d *Daemon) Wait(timeout time.Duration) bool {
	select {
	case <-d.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Exited reports whether the process has ended.
func (d *Daemon) Exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// WaitLog waits until the daemon's log has s, failing the test after timeout.
func (d *Daemon) WaitLog(tb testing.TB, s string, timeout time.Duration) {
	tb.Helper()
	end := time.Now().Add(timeout)
	for !d.LogContains(s) {
		if time.Now().After(end) {
			tb.Fatalf("%s on %s did not log %q within %v", d.Kind, d.Node.Name(), s, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// CountLog returns how many lines of the daemon's log contain every one of
// the given substrings.
func (d *Daemon) CountLog(subs ...string) int {
	n := 0
	for _, l := range strings.Split(d.Output(), "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if all {
			n++
		}
	}
	return n
}

// LogContains reports whether the daemon's log has s.
func (d *Daemon) LogContains(s string) bool {
	b, _ := os.ReadFile(d.Log)
	return bytes.Contains(b, []byte(s))
}

// Member is a node taking part in a VIP watch: its lab node and the
// interface the VIP is bound to.
type Member struct {
	Name  string
	Node  *lab.Node
	Iface string
}

// Holders returns the names of the members that have vip bound on an
// interface that is up. A node whose link is down, or whose daemon was killed
// but left the address behind, is excluded by passing only live members.
func Holders(tb testing.TB, members []Member, vip netip.Prefix) []string {
	tb.Helper()
	var out []string
	for _, m := range members {
		ok, err := hasAddr(m.Node.Name(), m.Iface, vip)
		if err != nil {
			tb.Fatalf("reading addresses of %s: %v", m.Name, err)
		}
		if ok {
			out = append(out, m.Name)
		}
	}
	return out
}

// WaitSoleHolder polls every millisecond until want is the only member
// holding vip, and returns how long that took from start. It fails the test
// after timeout.
func WaitSoleHolder(tb testing.TB, members []Member, vip netip.Prefix, want string, start time.Time, timeout time.Duration) time.Duration {
	tb.Helper()
	deadline := start.Add(timeout)
	var last []string
	for {
		last = Holders(tb, members, vip)
		if len(last) == 1 && last[0] == want {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %s holders are %v, want only %s", timeout, vip, last, want)
		}
		time.Sleep(time.Millisecond)
	}
}

// BecameMaster reports whether the daemon has logged that one of its
// instances became master: vipd's "state change ... to=MASTER",
// keepalived's "Entering MASTER STATE". A Daemon is one process, so this
// speaks of this process only, not of one that ran on the node before.
func (d *Daemon) BecameMaster() bool {
	if d.Kind == "keepalived" {
		return d.LogContains("Entering MASTER STATE")
	}
	return d.CountLog("state change", "to=MASTER") > 0
}

// WaitRestartedSoleHolder is WaitSoleHolder for a node whose daemon was
// killed (SIGKILL) and started again as d. The address the killed process
// left bound stays on the interface until d removes it at start, so want
// alone holding vip proves nothing by itself until d has become master:
// it waits until both are true, within timeout of start, and returns how
// long that took from start.
func WaitRestartedSoleHolder(tb testing.TB, d *Daemon, members []Member, vip netip.Prefix, want string, start time.Time, timeout time.Duration) time.Duration {
	tb.Helper()
	deadline := start.Add(timeout)
	master := false
	var checked time.Time // the log is read at most every 5 ms
	for {
		if now := time.Now(); !master && now.Sub(checked) >= 5*time.Millisecond {
			master, checked = d.BecameMaster(), now
		}
		h := Holders(tb, members, vip)
		if master && len(h) == 1 && h[0] == want {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %s holders are %v, want only %s; the restarted %s on %s logged becoming master: %t",
				timeout, vip, h, want, d.Kind, d.Node.Name(), d.BecameMaster())
		}
		time.Sleep(time.Millisecond)
	}
}

// StaySoleHolder checks that want remains the only holder of vip for the
// whole of the next d: a stability property, so it looks all along the
// window (every 2 ms, and once more when it has passed) rather than once
// after it, and fails the test at the first moment it sees another
// holder, or none. A change undone within one polling period can escape
// it.
func StaySoleHolder(tb testing.TB, members []Member, vip netip.Prefix, want string, d time.Duration) {
	tb.Helper()
	start := time.Now()
	end := start.Add(d)
	for {
		now := time.Now()
		h := Holders(tb, members, vip)
		if len(h) != 1 || h[0] != want {
			tb.Fatalf("%s holders became %v after %v of %v, want only %s", vip, h, now.Sub(start).Round(time.Millisecond), d, want)
		}
		if !now.Before(end) {
			return
		}
		time.Sleep(min(2*time.Millisecond, end.Sub(now)))
	}
}

// Names lists member names, for messages.
func Names(ms []Member) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Name)
	}
	return strings.Join(s, ",")
}

var (
	handlesMu sync.Mutex
	handles   = map[string]*netlink.Handle{}
)

// hasAddr asks the kernel through a netlink handle bound to the namespace:
// far cheaper than running `ip` every millisecond. A link that is not up
// does not count, since its node is off the segment.
func hasAddr(nsName, iface string, p netip.Prefix) (bool, error) {
	handlesMu.Lock()
	h, ok := handles[nsName]
	if !ok {
		ns, err := netns.GetFromName(nsName)
		if err != nil {
			handlesMu.Unlock()
			return false, err
		}
		h, err = netlink.NewHandleAt(ns)
		ns.Close()
		if err != nil {
			handlesMu.Unlock()
			return false, err
		}
		handles[nsName] = h
	}
	handlesMu.Unlock()
	link, err := h.LinkByName(iface)
	if err != nil {
		return false, err
	}
	if link.Attrs().Flags&net.FlagUp == 0 {
		return false, nil
	}
	fam := netlink.FAMILY_V4
	if p.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	addrs, err := h.AddrList(link, fam)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return false, err
	}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok && ip.Unmap() == p.Addr() {
			return true, nil
		}
	}
	return false, nil
}

// ForgetNamespace closes the cached netlink handle of a namespace; the lab's
// cleanup calls it before deleting namespaces.
func ForgetNamespace(nsName string) {
	handlesMu.Lock()
	defer handlesMu.Unlock()
	if h, ok := handles[nsName]; ok {
		h.Close()
		delete(handles, nsName)
	}
}

// Dig asks server for name/typ from node with Debian's dig, the way an
// operator would (`dig @SERVER +time=1 +tries=1 +short NAME TYPE`), and
// returns its trimmed output. An error means dig got no answer.
func Dig(node *lab.Node, server, name, typ string) (string, error) {
	cmd := node.Command(context.Background(), "dig", "@"+server, "+time=1", "+tries=1", "+short", name, typ)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("dig @%s %s %s: %v", server, name, typ, err)
	}
	s := strings.TrimSpace(string(out))
	if strings.HasPrefix(s, ";;") {
		return "", fmt.Errorf("dig @%s %s %s: %s", server, name, typ, s)
	}
	return s, nil
}

// slogTimeLayout is how log/slog's text handler writes its time= field.
const slogTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// LogTimes returns the time stamps (vipd's slog time= field, millisecond
// resolution) of the log lines that contain every one of the given
// substrings, in log order. Lines without a readable time stamp are
// skipped. The time is when the daemon logged, so it measures the daemon's
// own reaction, not when a test happened to read the log.
func (d *Daemon) LogTimes(subs ...string) []time.Time {
	var out []time.Time
	for _, l := range strings.Split(d.Output(), "\n") {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(l, s)
		}
		if !all || !strings.HasPrefix(l, "time=") {
			continue
		}
		f, _, _ := strings.Cut(strings.TrimPrefix(l, "time="), " ")
		if t, err := time.Parse(slogTimeLayout, f); err == nil {
			out = append(out, t)
		}
	}
	return out
}

// GossipInstanceYAML is one item of a vipd.yaml's instances list: an
// instance on eth0 whose unicast peers come from gossip (`peers: gossip`),
// VRRPv3, preempting, sending from source, with vip as its one VIP. The
// caller adds its priority or its order, indented as the other fields
// (four spaces).
func GossipInstanceYAML(name string, vrid int, advert time.Duration, source netip.Addr, vip netip.Prefix) string {
	return fmt.Sprintf(`  - name: %s
    interface: eth0
    vrid: %d
    version: 3
    advert_interval: %v
    preempt: true
    unicast: {source: %s}
    peers: gossip
    vips: [%s]
`, name, vrid, advert, source, vip)
}

// TwoAZ is a lab of two "availability zone" subnets, az1 198.51.100.0/24
// and az2 203.0.113.0/24, each a switch, joined by a router node that holds
// .254 in both. Nodes get the next free address of their zone on eth0 and
// a default route through the router, so traffic between zones is routed
// (TTL decremented) as between real zones.
type TwoAZ struct {
	Lab    *lab.Lab
	Router *lab.Node

	sw   [2]*lab.Switch
	next [2]int
}

// azPrefixes are the two zones' subnets, az1 first.
var azPrefixes = [2]netip.Prefix{
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
}

// NewTwoAZ builds the router and the two zone switches in a new lab (which
// skips or fails tb as lab.Require does).
func NewTwoAZ(tb testing.TB) *TwoAZ {
	tb.Helper()
	l := lab.New(tb)
	z := &TwoAZ{Lab: l, Router: l.Node("r")}
	for i := range z.sw {
		z.sw[i] = l.Switch(fmt.Sprintf("az%d", i+1))
		l.Connect(z.Router, z.sw[i], fmt.Sprintf("eth%d", i), zoneAddr(i, 254).String()+"/24")
	}
	z.Router.Router(true)
	return z
}

func zoneAddr(zone, host int) netip.Addr {
	b := azPrefixes[zone].Addr().As4()
	b[3] = byte(host)
	return netip.AddrFrom4(b)
}

// AddNode creates node name in zone az (1 or 2) with the zone's next free
// address (from .1 up) on eth0, and returns it with that address.
func (z *TwoAZ) AddNode(tb testing.TB, name string, az int) (*lab.Node, netip.Addr) {
	tb.Helper()
	if az != 1 && az != 2 {
		tb.Fatalf("testbed: zone %d: want 1 or 2", az)
	}
	i := az - 1
	z.next[i]++
	if z.next[i] >= 254 {
		tb.Fatalf("testbed: zone az%d is full", az)
	}
	addr := zoneAddr(i, z.next[i])
	n := z.Lab.Node(name)
	z.Lab.Connect(n, z.sw[i], "eth0", addr.String()+"/24")
	n.AddRoute(tb, "default", zoneAddr(i, 254).String())
	return n, addr
}
