package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/election"
	"github.com/vipd/vipd/internal/lab"
)

// childEnv marks the copy of the test binary that runs inside its own
// network namespace.
const childEnv = "VIPD_AGENT_FASTTAKEOVER_CHILD"

// An agent run from a native configuration hands its instances the
// configuration's fast_takeover: false when it says false, true when it
// says nothing. The agent runs for real (netlink, a raw socket) inside a
// network namespace of its own: the test binary re-runs itself under
// `unshare --net`.
func TestFastTakeoverReachesInstances(t *testing.T) {
	if v, ok := os.LookupEnv(childEnv); ok {
		fastTakeoverChild(t, v)
		return
	}
	lab.RequireRoot(t) // for a network namespace
	unshare := lab.RequireProgram(t, "unshare")
	for _, tc := range []struct {
		setting string // the vrrp section's fast_takeover line, "" for none
		want    bool
	}{{"false", false}, {"true", true}, {"", true}} {
		t.Run("fast_takeover="+tc.setting, func(t *testing.T) {
			cmd := exec.Command(unshare, "--net", "--", os.Args[0], "-test.run=^TestFastTakeoverReachesInstances$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+tc.setting)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				t.Fatalf("child: %v\n%s", err, out.String())
			}
			want := fmt.Sprintf("FastTakeover=%t", tc.want)
			if !strings.Contains(out.String(), want) {
				t.Fatalf("child output lacks %q:\n%s", want, out.String())
			}
		})
	}
}

// fastTakeoverChild runs in the new namespace: a veth link, an agent on
// it, and the Deps of the instance it starts printed for the parent.
func fastTakeoverChild(t *testing.T, setting string) {
	childLink(t)
	vrrp := ""
	if setting != "" {
		vrrp = "vrrp:\n  fast_takeover: " + setting + "\n"
	}
	cfg, err := config.ParseYAML("ft.yaml", []byte(childConfig("ft", vrrp)), config.LoadOptions{Hostname: "ft"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan election.Deps, 1)
	newInstance = func(ic *config.Instance, src netip.Addr, send election.Sender, d election.Deps) (*election.Instance, error) {
		select {
		case got <- d:
		default:
		}
		return election.NewInstance(ic, src, send, d)
	}
	a := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, cfg) }()
	select {
	case d := <-got:
		fmt.Printf("FastTakeover=%t\n", d.FastTakeover)
	case err := <-done:
		t.Fatalf("agent stopped before starting an instance: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no instance started within 10s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// childConfig is the child's configuration: node name, then the vrrp
// section (may be empty), and instance web on the veth link.
func childConfig(node, vrrp string) string {
	return "node:\n  name: " + node + "\n" + vrrp + `instances:
  - name: web
    interface: vipdft0
    vrid: 51
    priority: 100
    vips: [198.51.100.100/24]
`
}

// childLink gives the child's namespace its loopback and a veth pair,
// vipdft0 (198.51.100.1/24) for the agent and its peer vipdft1.
func childLink(t *testing.T) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	// A veth pair: the kernels this runs on may lack the dummy module.
	dummy := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "vipdft0"}, PeerName: "vipdft1"}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	if peer, err := netlink.LinkByName("vipdft1"); err != nil || netlink.LinkSetUp(peer) != nil {
		t.Fatalf("veth peer: %v", err)
	}
	addr, _ := netlink.ParseAddr("198.51.100.1/24")
	if err := netlink.AddrAdd(dummy, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(dummy); err != nil {
		t.Fatal(err)
	}
}

// reloadChildEnv marks the copy of the test binary that runs
// TestReloadFastTakeoverAndNodeName inside its own network namespace.
const reloadChildEnv = "VIPD_AGENT_RELOAD_CHILD"

// A reload that changes vrrp.fast_takeover reaches the instances that keep
// running, without restarting them; one that changes node.name is not
// applied to a running node (its name in gossip, history, events and
// orders): the node keeps its name, and the reload's report says so in a
// warning naming the setting. The agent runs for real inside a network
// namespace of its own, as in TestFastTakeoverReachesInstances.
func TestReloadFastTakeoverAndNodeName(t *testing.T) {
	if os.Getenv(reloadChildEnv) != "" {
		reloadChild(t)
		return
	}
	lab.RequireRoot(t) // for a network namespace
	unshare := lab.RequireProgram(t, "unshare")
	cmd := exec.Command(unshare, "--net", "--", os.Args[0], "-test.run=^TestReloadFastTakeoverAndNodeName$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), reloadChildEnv+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("child: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "--- PASS: TestReloadFastTakeoverAndNodeName") {
		t.Fatalf("the child did not run the checks:\n%s", out.String())
	}
}

// reloadChild starts an agent named ft with fast_takeover off, then
// reloads a configuration naming the node ft2 with fast_takeover on
// through the API's reload.
func reloadChild(t *testing.T) {
	childLink(t)
	parse := func(text string) *config.Config {
		t.Helper()
		cfg, err := config.ParseYAML("ft.yaml", []byte(text), config.LoadOptions{Hostname: "ft"})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	first := parse(childConfig("ft", "vrrp:\n  fast_takeover: false\n"))
	second := parse(childConfig("ft2", "vrrp:\n  fast_takeover: true\n"))
	got := make(chan *election.Instance, 1)
	newInstance = func(ic *config.Instance, src netip.Addr, send election.Sender, d election.Deps) (*election.Instance, error) {
		inst, err := election.NewInstance(ic, src, send, d)
		if err == nil {
			select {
			case got <- inst:
			default:
			}
		}
		return inst, err
	}
	ready := make(chan struct{})
	a := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		LoadConfig: func() (*config.Config, error) { return second, nil }, OnReady: func() { close(ready) }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, first) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var inst *election.Instance
	select {
	case inst = <-got:
	case err := <-done:
		t.Fatalf("agent stopped before starting an instance: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no instance started within 10s")
	}
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("the agent was not ready within 10s")
	}
	if inst.FastTakeover() {
		t.Fatal("fast takeover on before the reload; the configuration says false")
	}

	rep, err := a.Service().ReloadFile(ctx, Caller{Via: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Added)+len(rep.Removed)+len(rep.Changed) != 0 {
		t.Errorf("reload added %v, removed %v, restarted %v: want web kept running", rep.Added, rep.Removed, rep.Changed)
	}
	if !inst.FastTakeover() {
		t.Error("the running instance kept fast_takeover false after a reload that turned it on")
	}
	var named []string
	for _, w := range rep.Warnings {
		if strings.Contains(w, "node.name") {
			named = append(named, w)
		}
	}
	if len(named) != 1 || !strings.Contains(named[0], "restart") || !strings.Contains(named[0], `"ft2"`) {
		t.Errorf("reload warnings %q: want one naming node.name, the new name and a restart", rep.Warnings)
	}
	st, err := a.Service().Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Node != "ft" {
		t.Errorf("status names the node %q after the reload, want ft (kept until a restart)", st.Node)
	}
	// A second reload of the same file is no change for fast takeover, and
	// warns about the name again: it is still not applied.
	rep, err = a.Service().ReloadFile(ctx, Caller{Via: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if !inst.FastTakeover() || !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, "node.name") }) {
		t.Errorf("second reload: fast takeover %t, warnings %q", inst.FastTakeover(), rep.Warnings)
	}
}
