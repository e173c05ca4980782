package vip

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/vipd/vipd/internal/lab"
)

// newManager opens a Manager inside node n.
func newManager(t *testing.T, n *lab.Node) *Manager {
	t.Helper()
	var m *Manager
	if err := n.Do(func() (err error) { m, err = NewManager(); return err }); err != nil {
		t.Fatalf("NewManager in %s: %v", n.Name(), err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func findAddr(addrs []lab.Addr, p netip.Prefix) (lab.Addr, bool) {
	for _, a := range addrs {
		if a.Prefix == p {
			return a, true
		}
	}
	return lab.Addr{}, false
}

func TestManagerAddRemove(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24", "2001:db8::1/64")
	// The lab turns DAD off; turn it back on so that NODAD is what keeps
	// the VIPs usable.
	n.Sysctl(t, "net.ipv6.conf.eth0.accept_dad", "1")
	n.Run(t, "ip", "addr", "add", "2001:db8::99/64", "dev", "eth0")
	if a, _ := findAddr(n.Addrs(t, "eth0"), netip.MustParsePrefix("2001:db8::99/64")); !a.Tentative {
		t.Fatal("control address without nodad is not tentative: the NODAD checks below would prove nothing")
	}
	m := newManager(t, n)

	tests := []struct {
		name string
		vip  VIP
	}{
		{"IPv4 in the subnet with a label", VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("198.51.100.10/24"), Label: "eth0:vip"}},
		{"IPv4 host route without label", VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("203.0.113.10/32")}},
		{"IPv6 /64", VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("2001:db8::10/64")}},
		{"IPv6 /128", VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("2001:db8:1::10/128")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			has := func(want bool) {
				t.Helper()
				got, err := m.Has(tc.vip)
				if err != nil || got != want {
					t.Fatalf("Has = %v, %v; want %v", got, err, want)
				}
				if onLink := n.HasAddr(t, "eth0", tc.vip.Prefix); onLink != want {
					t.Fatalf("ip addr shows the VIP: %v, want %v", onLink, want)
				}
			}
			has(false)
			for i := range 2 { // the second Add must be a no-op
				if err := m.Add(tc.vip); err != nil {
					t.Fatalf("Add #%d: %v", i+1, err)
				}
			}
			has(true)

			a, _ := findAddr(n.Addrs(t, "eth0"), tc.vip.Prefix)
			if tc.vip.Label != "" && a.Label != tc.vip.Label {
				t.Errorf("label %q, want %q", a.Label, tc.vip.Label)
			}
			if tc.vip.Prefix.Addr().Is6() && (!a.NoDAD || a.Tentative) {
				t.Errorf("IPv6 VIP flags: nodad %v tentative %v; want nodad, not tentative", a.NoDAD, a.Tentative)
			}

			for i := range 2 { // the second Remove must be a no-op
				if err := m.Remove(tc.vip); err != nil {
					t.Fatalf("Remove #%d: %v", i+1, err)
				}
			}
			has(false)
		})
	}
}

func TestManagerRemoveIgnoresLabel(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24")
	m := newManager(t, n)
	n.Run(t, "ip", "addr", "add", "198.51.100.10/24", "dev", "eth0", "label", "eth0:old")
	v := VIP{Interface: "eth0", Prefix: netip.MustParsePrefix("198.51.100.10/24"), Label: "eth0:new"}
	if err := m.Remove(v); err != nil {
		t.Fatal(err)
	}
	if n.HasAddr(t, "eth0", v.Prefix) {
		t.Error("an address with another label survived Remove")
	}
}

func TestManagerErrors(t *testing.T) {
	l := lab.New(t)
	n := l.Node("n")
	l.Connect(n, l.Switch("sw"), "eth0", "198.51.100.1/24", "2001:db8::1/64")
	m := newManager(t, n)
	p := netip.MustParsePrefix

	invalid := []struct {
		name string
		vip  VIP
	}{
		{"no interface", VIP{Prefix: p("198.51.100.10/24")}},
		{"interface name too long", VIP{Interface: "abcdefghijklmnop", Prefix: p("198.51.100.10/24")}},
		{"no prefix", VIP{Interface: "eth0"}},
		{"unspecified", VIP{Interface: "eth0", Prefix: p("0.0.0.0/0")}},
		{"multicast", VIP{Interface: "eth0", Prefix: p("224.0.0.18/32")}},
		{"IPv4-mapped", VIP{Interface: "eth0", Prefix: p("::ffff:198.51.100.10/120")}},
		{"IPv6 with label", VIP{Interface: "eth0", Prefix: p("2001:db8::10/64"), Label: "eth0:v6"}},
		{"label not starting with the interface", VIP{Interface: "eth0", Prefix: p("198.51.100.10/24"), Label: "vip"}},
		{"label too long", VIP{Interface: "eth0", Prefix: p("198.51.100.10/24"), Label: "eth0:0123456789a"}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			var ie *InvalidError
			if err := tc.vip.Validate(); !errors.As(err, &ie) {
				t.Errorf("Validate: %v, want an InvalidError", err)
			}
			if err := m.Add(tc.vip); !errors.As(err, &ie) {
				t.Errorf("Add: %v, want an InvalidError", err)
			}
			if err := m.Remove(tc.vip); !errors.As(err, &ie) {
				t.Errorf("Remove: %v, want an InvalidError", err)
			}
			if _, err := m.Has(tc.vip); !errors.As(err, &ie) {
				t.Errorf("Has: %v, want an InvalidError", err)
			}
		})
	}

	missing := VIP{Interface: "nosuch0", Prefix: p("198.51.100.10/24")}
	t.Run("missing interface", func(t *testing.T) {
		if err := m.Add(missing); !errors.Is(err, ErrNoInterface) {
			t.Errorf("Add: %v, want ErrNoInterface", err)
		}
		if _, err := m.Has(missing); !errors.Is(err, ErrNoInterface) {
			t.Errorf("Has: %v, want ErrNoInterface", err)
		}
		if err := m.Remove(missing); err != nil {
			t.Errorf("Remove: %v, want success (nothing to remove)", err)
		}
	})
	t.Run("IPv6 address present with another length", func(t *testing.T) {
		err := m.Add(VIP{Interface: "eth0", Prefix: p("2001:db8::1/128")})
		var oe *OpError
		if !errors.Is(err, ErrConflict) || !errors.As(err, &oe) || oe.Op != "add" {
			t.Errorf("Add: %v, want an add OpError wrapping ErrConflict", err)
		}
	})
}
