package checks

import (
	"errors"
	"testing"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// TestLinkQuery asks for links in a namespace with raw netlink calls and
// compares with vishvananda/netlink's answer: a veth pair's flags as they
// change, a missing link, and a reply left unread before a question.
func TestLinkQuery(t *testing.T) {
	l := lab.New(t)
	n := l.Node("lq")
	n.Run(t, "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1")
	var q *linkQuery
	if err := n.Do(func() error {
		var err error
		q, err = newLinkQuery()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer q.close()
	same := func(what, name string) {
		t.Helper()
		var got, want netlink.Link
		var gotErr, wantErr error
		if err := n.Do(func() error {
			got, gotErr = q.byName(name)
			want, wantErr = netlink.LinkByName(name)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if gotErr != nil || wantErr != nil {
			t.Fatalf("%s: errors %v, and from the library %v", what, gotErr, wantErr)
		}
		g, w := got.Attrs(), want.Attrs()
		if g.Name != w.Name || g.Index != w.Index || g.RawFlags != w.RawFlags || g.OperState != w.OperState {
			t.Errorf("%s: %s #%d flags %#x %v, the library says %s #%d flags %#x %v", what,
				g.Name, g.Index, g.RawFlags, g.OperState, w.Name, w.Index, w.RawFlags, w.OperState)
		}
		// The ioctl's flags are the message's, to 16 bits.
		var f uint16
		var fErr error
		if err := n.Do(func() error { f, fErr = q.flags(name); return nil }); err != nil {
			t.Fatal(err)
		}
		if fErr != nil || uint32(f) != w.RawFlags&0xffff {
			t.Errorf("%s: SIOCGIFFLAGS %#x (%v), the message's flags %#x", what, f, fErr, w.RawFlags)
		}
	}
	same("lo", "lo")
	same("v0 down", "v0")
	n.SetLink(t, "v0", true)
	n.SetLink(t, "v1", true)
	same("v0 up", "v0")
	if err := n.Do(func() error {
		_, err := q.byName("nope0")
		if !errors.Is(err, errNoLink) {
			t.Errorf("missing link: %v, want errNoLink", err)
		}
		if _, err := q.flags("nope0"); !errors.Is(err, errNoLink) {
			t.Errorf("missing link's flags: %v, want errNoLink", err)
		}
		// A question whose reply nobody read: the next answer is ours.
		q.seq++
		req := q.request("lo")
		if err := unix.Sendto(q.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return err
		}
		l, err := q.byName("v1")
		if err != nil || l.Attrs().Name != "v1" {
			t.Errorf("after an unread reply: %v, %v; want v1", l, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
