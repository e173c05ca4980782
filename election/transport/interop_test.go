package transport

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/inet"
	"github.com/vipd/vipd/internal/lab"
)

// keepalivedConf runs three instances on eth0 of node k (198.51.100.10,
// 2001:db8::10), all MASTER so that they advertise at once: VRRPv3 over
// IPv4 multicast, VRRPv3 over IPv6 multicast, and VRRPv2 unicast with a
// PASS password to node v (198.51.100.20).
const keepalivedConf = `
global_defs {
  router_id k
}
vrrp_instance V4M {
  state MASTER
  interface eth0
  version 3
  virtual_router_id 61
  priority 150
  advert_int 1
  virtual_ipaddress {
    198.51.100.61/24
  }
}
vrrp_instance V6M {
  state MASTER
  interface eth0
  virtual_router_id 62
  priority 150
  advert_int 1
  virtual_ipaddress {
    2001:db8::62/64
  }
}
vrrp_instance V2U {
  state MASTER
  interface eth0
  version 2
  virtual_router_id 63
  priority 150
  advert_int 1
  unicast_src_ip 198.51.100.10
  unicast_peer {
    198.51.100.20
  }
  authentication {
    auth_type PASS
    auth_pass s3cret
  }
  virtual_ipaddress {
    198.51.100.63/24
  }
}
`

// TestKeepalivedInterop checks both directions against Debian's keepalived
// 2.2.7: its adverts arrive on our Conns with the addresses, TTL and bytes
// the codec accepts, and adverts we send with a higher priority make each
// of its instances back off, which it only does after checking TTL,
// checksum, addresses and password.
func TestKeepalivedInterop(t *testing.T) {
	l := lab.New(t)
	sw := l.Switch("sw")
	k, v := l.Node("k"), l.Node("v")
	l.Connect(k, sw, "eth0", "198.51.100.10/24", "2001:db8::10/64")
	l.Connect(v, sw, "eth0", "198.51.100.20/24", "2001:db8::20/64")

	// Our sockets first, so that no advert is missed.
	c4 := listen(t, v, Config{Family: inet.IPv4, Interface: "eth0", Multicast: true})
	c6 := listen(t, v, Config{Family: inet.IPv6, Interface: "eth0", Multicast: true})
	kLinkLocal := primary(t, k, "eth0", inet.IPv6)
	vLinkLocal := primary(t, v, "eth0", inet.IPv6)
	keepalived := k.Keepalived(t, keepalivedConf)

	ip := netip.MustParseAddr
	tests := []struct {
		name      string
		conn      *Conn
		vrid      uint8
		version   uint8
		src, dst  netip.Addr
		auth      vrrp.AuthType
		vip       netip.Addr
		instance  string
		ourSource netip.Addr // where our higher-priority advert comes from
	}{
		{"VRRPv3 IPv4 multicast", c4, 61, 3, ip("198.51.100.10"), GroupIPv4, vrrp.AuthNone, ip("198.51.100.61"), "V4M", ip("198.51.100.20")},
		{"VRRPv3 IPv6 multicast", c6, 62, 3, kLinkLocal, GroupIPv6, vrrp.AuthNone, ip("2001:db8::62"), "V6M", vLinkLocal},
		{"VRRPv2 IPv4 unicast PASS", c4, 63, 2, ip("198.51.100.10"), ip("198.51.100.20"), vrrp.AuthPass, ip("198.51.100.63"), "V2U", ip("198.51.100.20")},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/receive", func(t *testing.T) {
			p, a := readAdvert(t, tc.conn, tc.vrid, 15*time.Second)
			if p.Src != tc.src || p.Dst != tc.dst || p.HopLimit != 255 || p.IfIndex != v.IfIndex(t, "eth0") {
				t.Errorf("packet %v -> %v hop limit %d ifindex %d; want %v -> %v hop limit 255 ifindex %d",
					p.Src, p.Dst, p.HopLimit, p.IfIndex, tc.src, tc.dst, v.IfIndex(t, "eth0"))
			}
			if a.Version != tc.version || a.Priority != 150 || a.AuthType != tc.auth || !slices.Contains(a.Addrs, tc.vip) {
				t.Errorf("advert %+v; want version %d priority 150 auth %v with %v", a, tc.version, tc.auth, tc.vip)
			}
			if tc.auth == vrrp.AuthPass && a.AuthData != vrrp.PassAuthData("s3cret") {
				t.Errorf("auth data %q, want s3cret", a.AuthData)
			}
		})
	}
	for _, tc := range tests {
		t.Run(tc.name+"/send", func(t *testing.T) {
			ours := vrrp.Advert{Version: tc.version, VRID: tc.vrid, Priority: 200, Interval: time.Second, AuthType: tc.auth, Addrs: []netip.Addr{tc.vip}}
			if tc.auth == vrrp.AuthPass {
				ours.AuthData = vrrp.PassAuthData("s3cret")
			}
			// Unicast goes back to keepalived's unicast source.
			dst := tc.dst
			if !dst.IsMulticast() {
				dst = tc.src
			}
			b, err := ours.Marshal(tc.ourSource, dst)
			if err != nil {
				t.Fatal(err)
			}
			// keepalived logged BACKUP (init) at start-up: only lines
			// after our advert count.
			mark := keepalived.Mark()
			write(t, tc.conn, b, tc.ourSource, dst)
			keepalived.WaitFor(t, mark, "("+tc.instance+") Master received advert from "+tc.ourSource.String()+" with higher priority 200", 10*time.Second)
			keepalived.WaitFor(t, mark, "("+tc.instance+") Entering BACKUP STATE", 10*time.Second)
		})
	}
}

// readAdvert reads from c until an advert for vrid decodes, skipping other
// instances' adverts.
func readAdvert(t *testing.T, c *Conn, vrid uint8, within time.Duration) (Packet, vrrp.Advert) {
	t.Helper()
	deadline := time.Now().Add(within)
	if err := c.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for {
		p, err := c.ReadPacket(buf)
		if err != nil {
			t.Fatalf("no advert for vrid %d: %v", vrid, err)
		}
		if len(p.Payload) < 2 || p.Payload[1] != vrid {
			continue
		}
		a, err := vrrp.Unmarshal(p.Payload, p.Src, p.Dst)
		if err != nil {
			t.Fatalf("advert for vrid %d from %v does not decode: %v (% x)", vrid, p.Src, err, p.Payload)
		}
		return p, a
	}
}
