package e2e

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// cutVRRP drops IP protocol 112 in the router's forwarding path, so no
// advert crosses between the zones while gossip (UDP and TCP) still does:
// a security group that forgot VRRP.
func cutVRRP(t *testing.T, router *lab.Node) {
	t.Helper()
	router.Run(t, "nft", "add", "table", "inet", "cut112")
	router.Run(t, "nft", "add", "chain", "inet", "cut112", "vrrpcut", "{ type filter hook forward priority 0; }")
	router.Run(t, "nft", "add", "rule", "inet", "cut112", "vrrpcut", "meta", "l4proto", "112", "drop")
}

func healVRRP(t *testing.T, router *lab.Node) {
	t.Helper()
	router.Run(t, "nft", "delete", "table", "inet", "cut112")
}

// instanceHold runs `vipd status -o json` on d and returns instance web.
func instanceHold(t *testing.T, d *testbed.Daemon) instanceJSON {
	t.Helper()
	st := vipdStatus(t, d)
	for _, in := range st.Instances {
		if in.Name == "web" {
			return in
		}
	}
	t.Fatalf("vipd status on %s: no instance web in %+v", d.Node.Name(), st.Instances)
	return instanceJSON{}
}

// holderChange is a new set of VIP holders and when it was first seen.
type holderChange struct {
	at      time.Duration // since the timeline's start
	holders []string
}

// holderTimeline polls the VIP's holders every few milliseconds for d and
// returns each change of the holder set with when it happened (relative
// to from).
func holderTimeline(t *testing.T, members []testbed.Member, from time.Time, d time.Duration) []holderChange {
	t.Helper()
	var out []holderChange
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		h := testbed.Holders(t, members, gossipVIP)
		if len(out) == 0 || !slices.Equal(out[len(out)-1].holders, h) {
			out = append(out, holderChange{time.Since(from), h})
		}
		time.Sleep(5 * time.Millisecond)
	}
	return out
}

func (c holderChange) String() string {
	return fmt.Sprintf("%v@%v", c.holders, c.at.Round(10*time.Millisecond))
}

// isPrio0From reports whether f is a VRRP advert (IPv4, no options
// assumed beyond the header length) from src with priority 0.
func isPrio0From(f lab.Frame, src netip.Addr) bool {
	d := f.Data
	if len(d) < 14+20+4 || d[12] != 0x08 || d[13] != 0x00 {
		return false
	}
	ip := d[14:]
	hl := int(ip[0]&0x0f) * 4
	if ip[9] != 112 || len(ip) < hl+4 {
		return false
	}
	if a, _ := netip.AddrFromSlice(ip[12:16]); a != src {
		return false
	}
	return ip[hl+1] == gossipVRID && ip[hl+2] == 0
}

// TestGuardHoldsCutOffSide: five nodes, the master n1 and a backup n2 in
// az1, three backups n3 n4 n5 in az2. The router drops VRRP between the
// zones while gossip flows. n3 (best of az2) stops hearing n1 and becomes
// a second master; the split-brain guard must then hold the whole of az2,
// not one node after the other: within master-down + guard interval +
// gossip spread + 1 s of the cut n1 is the only holder, and stays so for
// the rest of the cut, every az2 node shows the guard's hold in `vipd
// status`, and n3 steps down without a priority-0 advert (which would only
// hand the VIP to n4). After the heal VRRP decides again: the holds end,
// n1 keeps the VIP, and when n1 then crashes n3 takes over within its
// master-down interval and keeps the VIP (the dead n1's stale state holds
// nobody).
func TestGuardHoldsCutOffSide(t *testing.T) {
	t.Parallel()
	nodes := gossipLab(t,
		gossipSpec{"n1", 1, 200}, gossipSpec{"n2", 1, 100},
		gossipSpec{"n3", 2, 150}, gossipSpec{"n4", 2, 130}, gossipSpec{"n5", 2, 120})
	timings := nodes[0].effective()
	// Long enough for every node to learn, by gossip, that n1 is master.
	members := startCluster(t, nodes, timings.PushPullInterval+5*time.Second, 2*gossipAdvert)

	n3, n4 := nodes[2], nodes[3]
	capture := n4.node.Capture(t, "eth0", "ip", "proto", "112")
	cut := time.Now()
	cutVRRP(t, nodes[0].router)
	bound := masterDown(gossipAdvert, 150) + guardInterval() + spreadBound(timings, len(nodes)) + time.Second
	// Watch past the bound for longer than the old cycle (a backup taking
	// over after its skew, guarded in turn a guard interval later) takes.
	timeline := holderTimeline(t, members, cut, bound+2*guardInterval())
	t.Logf("VRRP cut between the zones: holders %v (bound %v)", timeline, bound)
	var sole time.Duration
	second := false
	for _, c := range timeline {
		if len(c.holders) == 1 && c.holders[0] == "n1" {
			if sole == 0 || second {
				sole, second = c.at, false
			}
			continue
		}
		second = true
	}
	switch {
	case second:
		t.Fatalf("at the end of the cut the holders are %v, want only n1", timeline[len(timeline)-1].holders)
	case sole > bound:
		t.Errorf("n1 sole holder for good only %v after the cut, bound %v (timeline %v)", sole, bound, timeline)
	default:
		t.Logf("n1 sole holder for good %v after the cut (bound %v)", sole, bound)
	}
	// Before the fix each az2 node took the VIP in turn.
	var cutOff []string
	for _, c := range timeline {
		for _, h := range c.holders {
			if h != "n1" && !slices.Contains(cutOff, h) {
				cutOff = append(cutOff, h)
			}
		}
	}
	if len(cutOff) > 1 {
		t.Errorf("%v held the VIP one after the other during the cut, want at most the best of az2 (n3), before the guard", cutOff)
	}
	for _, g := range nodes[2:] {
		if s := instanceHold(t, g.d); !s.Guarded || !s.Held || s.State != "INSTANCE_STATE_BACKUP" || !strings.Contains(s.Reason, "split-brain guard") {
			t.Errorf("%s during the cut: vipd status says %+v, want BACKUP, held and guarded with the guard's reason", g.name, s)
		}
	}
	if s := instanceHold(t, nodes[1].d); s.Guarded {
		t.Errorf("n2 hears n1 yet is guarded: %+v", s)
	}
	for _, f := range capture.Stop() {
		if isPrio0From(f, n3.addr) && f.Time.After(cut) {
			t.Errorf("n3 sent a priority-0 advert to n4 at %v after the cut: the guard handed the VIP on to its own side", f.Time.Sub(cut))
		}
	}

	healed := time.Now()
	healVRRP(t, nodes[0].router)
	// The az2 nodes hear n1 again: VRRP decides, and the holds end within
	// an advert and a sync tick.
	for _, g := range nodes[2:] {
		deadline := healed.Add(gossipAdvert + time.Second + slack)
		for instanceHold(t, g.d).Guarded {
			if time.Now().After(deadline) {
				t.Fatalf("%s still guarded %v after the heal", g.name, time.Since(healed))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("VRRP healed: every hold released after %v", time.Since(healed))
	testbed.StaySoleHolder(t, members, gossipVIP, "n1", masterDown(gossipAdvert, 150)+slack)

	// Nothing is left held: a crash of n1 is a plain VRRP failover.
	killed := time.Now()
	nodes[0].d.Kill()
	took := testbed.WaitSoleHolder(t, members[1:], gossipVIP, "n3", killed, masterDown(gossipAdvert, 150)+slack)
	t.Logf("after the heal, n1 killed: n3 took over after %v", took)
	testbed.StaySoleHolder(t, members[1:], gossipVIP, "n3", guardInterval()+time.Second)
}
