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

	vrrp := ""
	if setting != "" {
		vrrp = "vrrp:\n  fast_takeover: " + setting + "\n"
	}
	yaml := "node:\n  name: ft\n" + vrrp + `instances:
  - name: web
    interface: vipdft0
    vrid: 51
    priority: 100
    vips: [198.51.100.100/24]
`
	cfg, err := config.ParseYAML("ft.yaml", []byte(yaml), config.LoadOptions{Hostname: "ft"})
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
