package e2e

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// Scenario 1 of the design: DNS failover in one subnet. Two dnsmasq
// servers, unicast VRRP, a vrrp_script "is dnsmasq alive" with weight -5.
// A client keeps asking the VIP; when dnsmasq dies on the master the answer
// must come from the backup within fall × interval + one advert interval
// + 1 s, and come back when dnsmasq is restarted, with no longer gap.

const dnsVIP = "198.51.100.53"

// scenario1Conf is the keepalived.conf both daemons run. The check reads
// dnsmasq's pid file: the lab's nodes share one PID namespace, so
// `killall -0 dnsmasq` would see the other node's dnsmasq too.
func scenario1Conf(router string, prio, self, peer int, pidfile string) string {
	return fmt.Sprintf(`global_defs {
  router_id %s
  enable_script_security
  script_user root
}
vrrp_script chk_dnsmasq {
  script "/bin/sh -c 'kill -0 $(cat %s)'"
  interval 1
  fall 2
  rise 2
  weight -5
}
vrrp_instance DNS {
  state BACKUP
  interface eth0
  virtual_router_id 50
  priority %d
  advert_int 1
  unicast_src_ip 198.51.100.%d
  unicast_peer {
    198.51.100.%d
  }
  track_script {
    chk_dnsmasq
  }
  virtual_ipaddress {
    %s/24 dev eth0
  }
}
`, router, pidfile, prio, self, peer, dnsVIP)
}

// digLoop asks the VIP every 100 ms from the client and records who
// answered (each node's dnsmasq answers with its own name).
type digLoop struct {
	mu      sync.Mutex
	answers []digAnswer
	stop    chan struct{}
	done    chan struct{}
}

type digAnswer struct {
	at  time.Time
	who string // "" when dig got no answer
}

func (a digAnswer) String() string {
	who := a.who
	if who == "" {
		who = "no answer"
	}
	return a.at.Format("15:04:05.000") + " " + who
}

func startDigLoop(client *lab.Node) *digLoop {
	d := &digLoop{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for {
			out, err := testbed.Dig(client, dnsVIP, "whoami.test", "TXT")
			if err != nil {
				out = ""
			}
			d.mu.Lock()
			d.answers = append(d.answers, digAnswer{at: time.Now(), who: out})
			d.mu.Unlock()
			select {
			case <-d.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return d
}

func (d *digLoop) halt() { close(d.stop); <-d.done }

// waitFor waits until the answer comes from who, and returns when the
// first such answer after since arrived.
func (d *digLoop) waitFor(t *testing.T, who string, since time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		d.mu.Lock()
		for _, a := range d.answers {
			if a.at.After(since) && a.who == who {
				d.mu.Unlock()
				return a.at.Sub(since)
			}
		}
		d.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no answer from %s within %v of the event; last answers: %v", who, timeout, d.last(5))
	return 0
}

func (d *digLoop) last(n int) []digAnswer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.answers[max(0, len(d.answers)-n):]
}

// longestGap returns the longest time without a successful answer.
func (d *digLoop) longestGap() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	var worst time.Duration
	var lastOK time.Time
	for _, a := range d.answers {
		if a.who == "" {
			continue
		}
		if !lastOK.IsZero() && a.at.Sub(lastOK) > worst {
			worst = a.at.Sub(lastOK)
		}
		lastOK = a.at
	}
	return worst
}

func TestScenario1DNSFailover(t *testing.T) {
	lab.Require(t)
	testbed.VipdBinary(t)
	for _, pair := range []struct{ name, a, b string }{
		{"vipd-vipd", "vipd", "vipd"},
		// A keepalived master steps down on the vipd backup's fast takeover.
		{"keepalived-master-vipd-backup", "keepalived", "vipd"},
	} {
		t.Run(pair.name, func(t *testing.T) {
			t.Parallel()
			if pair.a == "keepalived" {
				testbed.RequireKeepalived(t)
			}
			scenario1(t, pair.a, pair.b)
		})
	}
}

func scenario1(t *testing.T, kindA, kindB string) {
	l := lab.New(t)
	sw := l.Switch("sw")
	a, b, client := l.Node("a"), l.Node("b"), l.Node("client")
	l.Connect(a, sw, "eth0", "198.51.100.1/24")
	l.Connect(b, sw, "eth0", "198.51.100.2/24")
	l.Connect(client, sw, "eth0", "198.51.100.10/24")
	members := []testbed.Member{{Name: "a", Node: a, Iface: "eth0"}, {Name: "b", Node: b, Iface: "eth0"}}
	vip := netip.MustParsePrefix(dnsVIP + "/24")

	pids := t.TempDir()
	pidA, pidB := filepath.Join(pids, "a.pid"), filepath.Join(pids, "b.pid")
	dnsA := testbed.StartDnsmasq(t, a, pidA, "--txt-record=whoami.test,a")
	testbed.StartDnsmasq(t, b, pidB, "--txt-record=whoami.test,b")
	startDaemon := func(kind string, n *lab.Node, conf string) *testbed.Daemon {
		if kind == "keepalived" {
			return testbed.StartKeepalived(t, n, conf)
		}
		return testbed.StartVipd(t, n, conf, ".conf")
	}
	confA := scenario1Conf("a", 101, 1, 2, pidA)
	startDaemon(kindA, a, confA)
	confB := scenario1Conf("b", 100, 2, 1, pidB)
	startDaemon(kindB, b, confB)

	testbed.WaitSoleHolder(t, members, vip, "a", time.Now(), 10*time.Second)
	digs := startDigLoop(client)
	defer digs.halt()
	digs.waitFor(t, "\"a\"", time.Time{}, 5*time.Second)

	// fall × interval + one advert interval + 1 s.
	bound := 2*time.Second + time.Second + time.Second
	stopped := time.Now()
	dnsA.Kill()
	took := digs.waitFor(t, "\"b\"", stopped, bound)
	t.Logf("dnsmasq stopped on the master: answers from b after %v (bound %v)", took, bound)

	restarted := time.Now()
	testbed.StartDnsmasq(t, a, pidA, "--txt-record=whoami.test,a")
	// a's check needs rise (2) runs, then a vipd a preempts at b's next
	// advert; a keepalived a waits its master-down interval as well.
	back := bound + time.Second
	if kindA == "keepalived" {
		back = 2*time.Second + masterDown(time.Second, 101) + time.Second
	}
	took = digs.waitFor(t, "\"a\"", restarted, back)
	t.Logf("dnsmasq back on a: answers from a again after %v", took)
	if gap := digs.longestGap(); gap > bound {
		t.Fatalf("dig got no answer for %v, more than the %v bound", gap, bound)
	}
}
