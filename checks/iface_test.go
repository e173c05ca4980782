package checks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
)

func ifaceCheck(name string) *Config {
	return &Config{Name: "interface:" + name, Kind: KindInterface,
		Interface: &InterfaceConfig{Name: name}}
}

// TestIfaceProbe drives a veth pair inside a namespace: v0 is healthy only
// while it is up and has carrier, which needs its peer v1 up too.
func TestIfaceProbe(t *testing.T) {
	l := lab.New(t)
	n := l.Node("iface")
	n.Run(t, "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")

	steps := []struct {
		name   string
		do     []string // ip link set ... inside the node
		check  string
		ok     bool
		errHas string
	}{
		{name: "both down", check: "v0", errHas: "is down"},
		{name: "up without carrier", do: []string{"v0", "up"}, check: "v0", errHas: "is down"},
		{name: "up with carrier", do: []string{"v1", "up"}, check: "v0", ok: true},
		{name: "peer up too", check: "v1", ok: true},
		{name: "set down", do: []string{"v0", "down"}, check: "v0", errHas: "is down"},
		{name: "peer loses carrier", check: "v1", errHas: "is down"},
		{name: "back up", do: []string{"v0", "up"}, check: "v0", ok: true},
		{name: "missing interface", check: "nope0", errHas: "does not exist"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.do != nil {
				n.SetLink(t, s.do[0], s.do[1] == "up")
			}
			p, err := NewProber(ifaceCheck(s.check), Options{})
			if err != nil {
				t.Fatal(err)
			}
			var r Result
			// The state after `ip link set` is immediate for the flags
			// but carrier may follow a moment later.
			eventually(t, 5*time.Second, "interface state as expected", func() bool {
				if err := n.Do(func() error {
					ctx, cancel := contextWithTimeout(time.Second)
					defer cancel()
					r = p.Probe(ctx)
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				return r.OK == s.ok
			})
			wantResult(t, r, s.ok, s.errHas)
			if s.check != "nope0" && !strings.HasPrefix(r.Output, s.check+": state") {
				t.Errorf("output %q, want the link state", r.Output)
			}
		})
	}
}

func TestIfaceProbeDeadlinePassed(t *testing.T) {
	wantResult(t, probeLate(t, ifaceCheck("lo")), false, "timed out")
}

func TestIfaceConfigErrors(t *testing.T) {
	for _, name := range []string{"", "sixteen-chars-xx", "a/b", "a b", "a:1", ".", ".."} {
		t.Run(name, func(t *testing.T) {
			wantConfigError(t, ifaceCheck(name), "interface.name")
		})
	}
	wantConfigError(t, &Config{Name: "i", Kind: KindInterface}, "interface")
}

// TestIfaceProbeWatchedReusesRead: while watched, a probe that finds the
// link's flags as they were answers with the last full read (one ioctl
// instead of the link's netlink message); a change of the flags, or the
// link going away, reads it in full again.
func TestIfaceProbeWatchedReusesRead(t *testing.T) {
	l := lab.New(t)
	n := l.Node("reuse")
	n.Run(t, "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	n.SetLink(t, "v1", true)
	n.SetLink(t, "v0", true)
	pr, err := NewProber(ifaceCheck("v0"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := pr.(*ifaceProber)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := n.Do(func() error { _, err := p.Watch(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	probe := func() Result {
		t.Helper()
		var r Result
		if err := n.Do(func() error { r = p.Probe(t.Context()); return nil }); err != nil {
			t.Fatal(err)
		}
		return r
	}
	var r Result
	eventually(t, 5*time.Second, "v0 up with carrier", func() bool { r = probe(); return r.OK })
	if !strings.HasPrefix(r.Output, "v0: state up") {
		t.Fatalf("full read's output %q", r.Output)
	}
	// Mark the stored read: a probe with the same flags returns it.
	p.mu.Lock()
	p.last.Output = "stored"
	p.mu.Unlock()
	if r := probe(); !r.OK || r.Output != "stored" {
		t.Fatalf("same flags: %+v, want the stored read", r)
	}
	// New flags: a full read again.
	n.SetLink(t, "v0", false)
	if r := probe(); r.OK || r.Output == "stored" || !strings.Contains(r.Err.Error(), "is down") {
		t.Fatalf("after set down: %+v, want a full read saying down", r)
	}
	n.Run(t, "ip", "link", "del", "v0")
	if r := probe(); r.OK || !strings.Contains(r.Err.Error(), "does not exist") {
		t.Fatalf("after deletion: %+v, want does not exist", r)
	}
	if r := probe(); r.OK || !strings.Contains(r.Err.Error(), "does not exist") {
		t.Fatalf("still deleted: %+v, want does not exist", r)
	}
}
