package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/election/vrrp"
	"github.com/vipd/vipd/internal/lab"
	"github.com/vipd/vipd/internal/testbed"
)

// Reload and restart safety (issue 8, part 3): what an operator does to a
// running master — reload it again and again, reload it with a typo, kill
// it — must never cost the cluster an advert, a transition or a second
// holder of the VIP.

// statusJSON is the part of `vipd status -o json` these tests read
// (protojson: camelCase names, 64-bit counters as strings).
type statusJSON struct {
	Instances []instanceJSON `json:"instances"`
	Drops     []struct {
		Reason string `json:"reason"`
		Count  string `json:"count"`
	} `json:"drops"`
}

// instanceJSON is one instance in `vipd status -o json`.
type instanceJSON struct {
	Name              string `json:"name"`
	State             string `json:"state"`
	EffectivePriority int    `json:"effectivePriority"`
	Since             string `json:"since"`
	AdvertsSent       string `json:"advertsSent"`
	AdvertsReceived   string `json:"advertsReceived"`
	// Held: something keeps the instance in BACKUP (require_join, the
	// split-brain guard), Guarded when it is the guard, for Reason.
	Held    bool   `json:"held"`
	Guarded bool   `json:"guarded"`
	Reason  string `json:"reason"`
}

// vipdStatus runs `vipd status -o json` against a daemon's socket, the way
// an operator or a monitoring script reads a node.
func vipdStatus(t *testing.T, d *testbed.Daemon) statusJSON {
	t.Helper()
	var s statusJSON
	vipdJSON(t, d.Socket, &s, "status")
	return s
}

// instance returns one instance of a status, failing the test without it.
func (s statusJSON) instance(t *testing.T, name string) (state string, prio int, since string, sent, rcvd uint64) {
	t.Helper()
	for _, in := range s.Instances {
		if in.Name == name {
			sent, err1 := strconv.ParseUint(in.AdvertsSent, 10, 64)
			rcvd, err2 := strconv.ParseUint(in.AdvertsReceived, 10, 64)
			if err1 != nil || err2 != nil {
				t.Fatalf("instance %s counters %q/%q: not numbers", name, in.AdvertsSent, in.AdvertsReceived)
			}
			return in.State, in.EffectivePriority, in.Since, sent, rcvd
		}
	}
	t.Fatalf("no instance %s in status %+v", name, s)
	return
}

// startReliabilityPair starts a (priority 150) and b (100) with
// reliabilityConfig, 500 ms adverts, and waits until a is the only holder
// of vip4 (within its master-down interval + 2 s). It returns a's
// configuration, to restart or reload it with, and both daemons.
func startReliabilityPair(t *testing.T, p pair, preempt bool) (cfgA string, da, db *testbed.Daemon) {
	t.Helper()
	cfgA = reliabilityConfig("a", 150, "500ms", preempt, "")
	start := time.Now()
	da = testbed.StartVipd(t, p.a, cfgA, ".yaml")
	db = testbed.StartVipd(t, p.b, reliabilityConfig("b", 100, "500ms", preempt, ""), ".yaml")
	testbed.WaitSoleHolder(t, p.members, vip4, "a", start, masterDown(500*time.Millisecond, 150)+2*time.Second)
	return cfgA, da, db
}

// startMaster starts vipd with cfg on m's node, whose instances (priority
// 100 or more, adverts every second or more often) hold vips, and waits
// until m holds every one of them (within the master-down interval + 2 s
// of the start). It returns the daemon, its status then, and how many
// state changes it had logged, for the test to compare with later.
func startMaster(t *testing.T, m testbed.Member, cfg string, vips ...string) (*testbed.Daemon, statusJSON, int) {
	t.Helper()
	start := time.Now()
	d := testbed.StartVipd(t, m.Node, cfg, ".yaml")
	for _, v := range vips {
		testbed.WaitSoleHolder(t, []testbed.Member{m}, netip.MustParsePrefix(v), m.Name, start, masterDown(time.Second, 100)+2*time.Second)
	}
	return d, vipdStatus(t, d), d.CountLog("state change")
}

// reliabilityConfig is one node's YAML: instance web (multicast VRRPv3,
// VIP vip4) tracking an exec check, so that a reload also has a check
// runner to keep, plus extra instance text.
func reliabilityConfig(name string, prio int, interval string, preempt bool, extra string) string {
	return fmt.Sprintf(`node: {name: %s}
checks:
  - name: alive
    interval: 500ms
    timeout: 1s
    exec: {command: ["/bin/true"]}
instances:
  - name: web
    interface: eth0
    vrid: 51
    priority: %d
    advert_interval: %s
    version: 3
    preempt: %t
    track: [alive]
    vips: [%s]
%s`, name, prio, interval, preempt, vip4, extra)
}

// TestReliabilityReloadStorm: 100 SIGHUPs with an unchanged configuration
// on a master change nothing. The backup's capture shows no gap longer
// than 1.5 advert intervals (a lost advert makes a gap of two), the
// master's adverts_sent grows by elapsed / interval, the backup accepts
// every one, and neither node logs a transition.
func TestReliabilityReloadStorm(t *testing.T) {
	t.Parallel()
	const interval = 500 * time.Millisecond
	p := newPair(t, false)
	_, da, db := startReliabilityPair(t, p, true)
	// Settle: b has heard a and counts from here.
	testbed.StaySoleHolder(t, p.members, vip4, "a", interval)

	capture := p.b.Capture(t, "eth0", "ip", "proto", "112", "and", "src", "host", "198.51.100.1")
	transA, transB := da.CountLog("state change"), db.CountLog("state change")
	before := vipdStatus(t, da)
	bBefore := vipdStatus(t, db)
	t0 := time.Now()
	stateA, prioA, sinceA, sentA0, _ := before.instance(t, "web")
	_, _, _, _, rcvdB0 := bBefore.instance(t, "web")
	if stateA != "INSTANCE_STATE_MASTER" || prioA != 150 {
		t.Fatalf("a before the reloads: %s priority %d", stateA, prioA)
	}

	// One reload every 100 ms, each waited for: a signal sent while a
	// reload runs could be coalesced with it, and then 100 signals would
	// not mean 100 reloads. 100 ms is under the advert interval, so an
	// advert timer restarted by every reload would starve the adverts.
	const reloads = 100
	done0 := da.CountLog("configuration reloaded")
	for i := 1; i <= reloads; i++ {
		next := time.Now().Add(100 * time.Millisecond)
		da.Signal(syscall.SIGHUP)
		end := time.Now().Add(5 * time.Second)
		for da.CountLog("configuration reloaded") < done0+i {
			if da.Exited() || time.Now().After(end) {
				t.Fatalf("reload %d did not finish within 5 s (exited: %v)", i, da.Exited())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if h := testbed.Holders(t, p.members, vip4); len(h) != 1 || h[0] != "a" {
			t.Fatalf("after reload %d: %s holders are %v, want only a", i, vip4, h)
		}
		time.Sleep(time.Until(next))
	}
	// One more interval, so the last reload's neighbourhood is captured.
	testbed.StaySoleHolder(t, p.members, vip4, "a", interval)

	after := vipdStatus(t, da)
	elapsed := time.Since(t0)
	bAfter := vipdStatus(t, db)
	frames := capture.Stop()

	stateA2, prioA2, sinceA2, sentA1, _ := after.instance(t, "web")
	stateB2, _, _, _, rcvdB1 := bAfter.instance(t, "web")
	if stateA2 != "INSTANCE_STATE_MASTER" || prioA2 != 150 || sinceA2 != sinceA {
		t.Errorf("a after %d reloads: %s priority %d since %s; before: MASTER 150 since %s", reloads, stateA2, prioA2, sinceA2, sinceA)
	}
	if stateB2 != "INSTANCE_STATE_BACKUP" {
		t.Errorf("b after the reloads: %s, want BACKUP", stateB2)
	}
	if n := da.CountLog("state change"); n != transA {
		t.Errorf("a logged %d state changes during the reloads", n-transA)
	}
	if n := db.CountLog("state change"); n != transB {
		t.Errorf("b (the backup) logged %d state changes during the reloads", n-transB)
	}
	if n := da.CountLog("configuration reloaded") - done0; n != reloads {
		t.Errorf("%d reloads logged, want %d", n, reloads)
	}
	for _, bad := range []string{"level=ERROR", "reload incomplete", "configuration not reloaded"} {
		if n := da.CountLog(bad); n != 0 {
			t.Errorf("a logged %q %d times", bad, n)
		}
	}

	// The wire, as the backup sees it.
	var times []time.Time
	for _, f := range frames {
		if ip, ok := f.IP(); ok && ip.Protocol == 112 && ip.Src == netip.MustParseAddr("198.51.100.1") {
			times = append(times, f.Time)
		}
	}
	want := float64(elapsed) / float64(interval)
	if len(times) < int(want)-1 {
		t.Errorf("the backup captured %d adverts in %v, want about %.0f", len(times), elapsed.Round(time.Millisecond), want)
	}
	var maxGap time.Duration
	for i := 1; i < len(times); i++ {
		if g := times[i].Sub(times[i-1]); g > maxGap {
			maxGap = g
		}
		if g := times[i].Sub(times[i-1]); g > interval*3/2 {
			t.Errorf("gap of %v between adverts at %s and %s: an advert was lost", g.Round(time.Millisecond),
				times[i-1].Format("15:04:05.000"), times[i].Format("15:04:05.000"))
		}
	}
	sent := sentA1 - sentA0
	if d := float64(sent) - want; d < -2 || d > 2 {
		t.Errorf("a sent %d adverts in %v, want %.1f ± 2", sent, elapsed.Round(time.Millisecond), want)
	}
	if rcvd := rcvdB1 - rcvdB0; rcvd+1 < sent || rcvd > sent+1 {
		t.Errorf("b accepted %d adverts while a sent %d", rcvd, sent)
	}
	if len(bAfter.Drops) != 0 {
		t.Errorf("b dropped adverts: %+v", bAfter.Drops)
	}
	t.Logf("%d reloads in %v: a sent %d adverts (%.1f expected), b captured %d and accepted %d, largest gap %v",
		reloads, elapsed.Round(time.Millisecond), sent, want, len(times), rcvdB1-rcvdB0, maxGap.Round(time.Millisecond))
}

// curlReload posts to /v1/reload on a daemon's socket with curl and
// returns the HTTP status and the JSON body.
func curlReload(t *testing.T, d *testbed.Daemon) (int, map[string]any) {
	t.Helper()
	out := run(t, requireTool(t, "curl"), "-sS", "--unix-socket", d.Socket, "-X", "POST",
		"-H", "Content-Type: application/json", "-d", "{}", "-w", "\n%{http_code}", "http://vipd/v1/reload")
	body, code, ok := strings.Cut(strings.TrimRight(out, "\n"), "\n")
	if !ok {
		t.Fatalf("curl output without a status line: %q", out)
	}
	n, err := strconv.Atoi(code)
	if err != nil {
		t.Fatalf("curl status %q: %v", code, err)
	}
	return n, decodeJSON(t, body)
}

// TestReliabilityBadReload: a configuration with an error, reloaded by
// SIGHUP and by the API, is refused with its PATH:LINE (the log; the API's
// 400 INVALID_ARGUMENT), and the running configuration stays: same state,
// priority and mastership, no transition. A good file afterwards reloads.
func TestReliabilityBadReload(t *testing.T) {
	t.Parallel()
	requireTool(t, "curl")
	const interval = 500 * time.Millisecond
	p := newPair(t, false)
	_, da, _ := startReliabilityPair(t, p, true)
	_, _, since, _, _ := vipdStatus(t, da).instance(t, "web")
	trans := da.CountLog("state change")

	// Each broken file differs from the running one where it is broken:
	// the priority drops below b's, so applying any of it would hand the
	// VIP over.
	broken := []struct {
		name, text, where string // where: "LINE: field" the error must name
	}{
		{"unknown key", strings.Replace(reliabilityConfig("a", 90, "500ms", true, ""), "    preempt: true\n", "    preempt: true\n    preemt_delay: 1s\n", 1),
			":15: instances[0].preemt_delay"},
		{"vrid out of range", strings.Replace(reliabilityConfig("a", 90, "500ms", true, ""), "vrid: 51", "vrid: 300", 1),
			":10: instances[0].vrid"},
		{"oversize advert interval", reliabilityConfig("a", 90, "9999h", true, ""),
			":12: instances[0].advert_interval"},
	}
	for _, b := range broken {
		rewrite(t, da.Config, b.text)
		where := da.Config + b.where

		// SIGHUP: logged with the position, not applied.
		n := da.CountLog("configuration not reloaded")
		da.Signal(syscall.SIGHUP)
		end := time.Now().Add(3 * time.Second)
		for da.CountLog("configuration not reloaded") == n {
			if time.Now().After(end) {
				t.Fatalf("%s: SIGHUP: no \"configuration not reloaded\" within 3 s", b.name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if da.CountLog("configuration not reloaded", where) == 0 {
			t.Errorf("%s: the log does not name %s", b.name, where)
		}

		// The API: 400, INVALID_ARGUMENT (3), the same position.
		code, body := curlReload(t, da)
		msg, _ := body["message"].(string)
		if code != 400 || body["code"] != float64(3) || !strings.Contains(msg, where) {
			t.Errorf("%s: POST /v1/reload = %d %v, want 400, code 3, a message naming %s", b.name, code, body, where)
		}

		testbed.StaySoleHolder(t, p.members, vip4, "a", interval)
		state, prio, since2, _, _ := vipdStatus(t, da).instance(t, "web")
		if state != "INSTANCE_STATE_MASTER" || prio != 150 || since2 != since {
			t.Fatalf("%s: after the refused reload a is %s priority %d since %s, want MASTER 150 since %s", b.name, state, prio, since2, since)
		}
	}
	if da.Exited() {
		t.Fatal("vipd exited on a broken reload")
	}
	if n := da.CountLog("state change"); n != trans {
		t.Errorf("a logged %d state changes during refused reloads", n-trans)
	}

	// A good file after the bad ones: the API reload applies it (a new
	// instance starts) and web stays untouched.
	rewrite(t, da.Config, reliabilityConfig("a", 150, "500ms", true, `  - name: api
    interface: eth0
    vrid: 52
    priority: 150
    advert_interval: 500ms
    version: 3
    vips: [198.51.100.101/24]
`))
	code, body := curlReload(t, da)
	if added, _ := body["added"].([]any); code != 200 || len(added) != 1 || added[0] != "api" {
		t.Fatalf("POST /v1/reload with a good file = %d %v, want 200 with added [api]", code, body)
	}
	testbed.WaitSoleHolder(t, p.members, netip.MustParsePrefix("198.51.100.101/24"), "a", time.Now(), masterDown(interval, 150)+time.Second)
	if _, _, s, _, _ := vipdStatus(t, da).instance(t, "web"); s != since {
		t.Errorf("web restarted by a reload that did not change it (since %s, was %s)", s, since)
	}
}

// TestReliabilityCrashRestart: a master killed with SIGKILL leaves its VIP
// bound; the restarted daemon must clear it, so that the VIP is never held
// by two nodes and ends with exactly one: the restarted node when it
// preempts (restarted at once, before the backup's master-down timer ends,
// as a supervisor with a short restart delay would), the backup when
// preempt is off (restarted after the backup took over).
func TestReliabilityCrashRestart(t *testing.T) {
	const interval = 500 * time.Millisecond
	for _, preempt := range []bool{true, false} {
		t.Run(fmt.Sprintf("preempt=%t", preempt), func(t *testing.T) {
			t.Parallel()
			p := newPair(t, false)
			cfgA, da, db := startReliabilityPair(t, p, preempt)

			da.Kill()
			if !p.a.HasAddr(t, "eth0", vip4) {
				t.Fatal("the killed master did not leave its VIP behind: the test would prove nothing")
			}
			want, settled := "a", func() bool { return da.CountLog("state change", "to=MASTER") > 0 }
			if !preempt {
				// Wait for b's takeover (a's stale address aside).
				testbed.WaitSoleHolder(t, p.members[1:], vip4, "b", time.Now(), masterDown(interval, 100)+slack)
				want = "b"
				settled = func() bool { return da.CountLog("state change", "to=BACKUP") > 0 }
			}
			masters := db.CountLog("state change", "to=MASTER")
			restarted := time.Now()
			da = testbed.StartVipd(t, p.a, cfgA, ".yaml")

			// Until the new process has started its instance (INIT →
			// BACKUP, which releases the VIPs), the killed one's address is
			// still bound: nothing runs there to remove it. It must go
			// then, within a second of the restart.
			deadline := restarted.Add(time.Second)
			for da.CountLog("state change", "from=INIT", "to=BACKUP") == 0 || p.a.HasAddr(t, "eth0", vip4) && !settled() {
				if time.Now().After(deadline) {
					t.Fatalf("the stale VIP is still on a %v after the restart", time.Since(restarted).Round(time.Millisecond))
				}
				time.Sleep(time.Millisecond)
			}
			stale := time.Since(restarted)

			// From then until the restarted node has settled (MASTER or
			// BACKUP as expected), never two holders; time without any is
			// the restart's cost.
			var empty time.Duration
			last := time.Now()
			deadline = restarted.Add(2*masterDown(interval, 100) + 2*time.Second)
			for !settled() {
				h := testbed.Holders(t, p.members, vip4)
				now := time.Now()
				if len(h) > 1 {
					t.Fatalf("%v after the restart %s is held by %v", now.Sub(restarted).Round(time.Millisecond), vip4, h)
				}
				if len(h) == 0 {
					empty += now.Sub(last)
				}
				last = now
				if now.After(deadline) {
					t.Fatalf("the restarted a did not settle within %v", deadline.Sub(restarted))
				}
				time.Sleep(time.Millisecond)
			}
			took := testbed.WaitSoleHolder(t, p.members, vip4, want, restarted, 2*masterDown(interval, 100)+2*time.Second)
			// Exactly one holder from then on, for several master-down
			// intervals: no late duplicate, no stale address.
			testbed.StaySoleHolder(t, p.members, vip4, want, 3*masterDown(interval, 100))
			state, _, _, _, _ := vipdStatus(t, da).instance(t, "web")
			wantState := map[bool]string{true: "INSTANCE_STATE_MASTER", false: "INSTANCE_STATE_BACKUP"}[preempt]
			if state != wantState {
				t.Errorf("restarted a is %s, want %s", state, wantState)
			}
			t.Logf("restarted a: stale VIP gone %v after the restart; %s sole holder after %v; no holder for %v; b became master %d time(s) meanwhile",
				stale.Round(time.Millisecond), want, took.Round(time.Millisecond), empty.Round(time.Millisecond), db.CountLog("state change", "to=MASTER")-masters)
		})
	}
}

// inetChecksum is the Internet checksum (RFC 1071) of the given byte
// slices taken as one.
func inetChecksum(parts ...[]byte) uint16 {
	var sum uint32
	var odd []byte
	for _, p := range parts {
		p = append(odd, p...)
		odd = nil
		for ; len(p) >= 2; p = p[2:] {
			sum += uint32(p[0])<<8 | uint32(p[1])
		}
		if len(p) == 1 {
			odd = []byte{p[0]}
		}
	}
	if len(odd) == 1 {
		sum += uint32(odd[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// fixChecksum recomputes a VRRP message's checksum after the test edited
// it, so that the receiver's check behind the checksum is what refuses it
// (v3 over IPv4 sums a pseudo-header, v2 only the message).
func fixChecksum(m []byte, src, dst netip.Addr) []byte {
	m[6], m[7] = 0, 0
	var c uint16
	if m[0]>>4 == 2 {
		c = inetChecksum(m)
	} else {
		s, d := src.As4(), dst.As4()
		c = inetChecksum(s[:], d[:], []byte{0, 112, byte(len(m) >> 8), byte(len(m))}, m)
	}
	m[6], m[7] = byte(c>>8), byte(c)
	return m
}

// sendRaw sends payload as IP protocol 112 from node (out of ifname) to
// dst with the given TTL, through a raw socket opened in the node's
// namespace: the kernel writes the IP header, as for a real VRRP speaker.
func sendRaw(t *testing.T, node *lab.Node, ifname string, dst netip.Addr, ttl int, payload []byte) {
	t.Helper()
	ifindex := node.IfIndex(t, ifname)
	err := node.Do(func() error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, 112)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		if dst.IsMulticast() {
			if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, ttl); err != nil {
				return err
			}
			if err := syscall.SetsockoptIPMreqn(fd, syscall.IPPROTO_IP, syscall.IP_MULTICAST_IF, &syscall.IPMreqn{Ifindex: int32(ifindex)}); err != nil {
				return err
			}
		} else if err := syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, syscall.IP_TTL, ttl); err != nil {
			return err
		}
		return syscall.Sendto(fd, payload, 0, &syscall.SockaddrInet4{Addr: dst.As4()})
	})
	if err != nil {
		t.Fatalf("sending a crafted advert from %s: %v", node.Name(), err)
	}
}

// TestReliabilityHostileAdverts: a node on the segment sends a vipd master
// every kind of advert it must refuse — malformed, wrong version, type or
// VRID, wrong TTL, wrong password, no password, wrong v2 interval, unicast
// from a stranger — each with a priority above the master's, so that one
// accepted advert would make it step down. Every one must show in
// `vipd status` as a drop under its reason, exactly as many as were sent,
// and the master must never transition; a well-formed advert sent the
// same way is accepted, so the drops are the daemon's choice and not a
// lost packet.
func TestReliabilityHostileAdverts(t *testing.T) {
	t.Parallel()
	p := newPair(t, false)
	x := p.b // plays the stranger, 198.51.100.2; a runs the daemon
	cfg := `node: {name: a}
instances:
  - name: mc
    interface: eth0
    vrid: 51
    priority: 100
    advert_interval: 500ms
    version: 3
    vips: [198.51.100.100/24]
  - name: v2
    interface: eth0
    vrid: 52
    priority: 100
    advert_interval: 1s
    version: 2
    auth: {type: pass, password: s3cret}
    vips: [198.51.100.101/24]
  - name: uc
    interface: eth0
    vrid: 53
    priority: 100
    advert_interval: 500ms
    version: 3
    unicast: {source: 198.51.100.1, peers: [198.51.100.3]}
    vips: [198.51.100.102/24]
`
	da, before, trans := startMaster(t, p.members[0], cfg, "198.51.100.100/24", "198.51.100.101/24", "198.51.100.102/24")

	src, mcast, uni := netip.MustParseAddr("198.51.100.2"), netip.MustParseAddr("224.0.0.18"), netip.MustParseAddr("198.51.100.1")
	marshal := func(adv vrrp.Advert, dst netip.Addr) []byte {
		m, err := adv.Marshal(src, dst)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	v3 := func(vrid uint8) vrrp.Advert {
		return vrrp.Advert{Version: 3, VRID: vrid, Priority: 254, Interval: 500 * time.Millisecond}
	}
	v2 := func(password string, interval time.Duration) vrrp.Advert {
		adv := vrrp.Advert{Version: 2, VRID: 52, Priority: 254, Interval: interval, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.101")}}
		if password != "" {
			adv.AuthType, adv.AuthData = vrrp.AuthPass, vrrp.PassAuthData(password)
		}
		return adv
	}
	edit := func(m []byte, dst netip.Addr, f func([]byte)) []byte { f(m); return fixChecksum(m, src, dst) }
	cases := []struct {
		name   string
		dst    netip.Addr
		ttl    int
		msg    []byte
		reason string
	}{
		{"bad checksum", mcast, 255, nil, "bad_checksum"}, // msg set below
		{"five bytes", mcast, 255, []byte{0x31, 51, 254, 0, 0}, "short"},
		{"version 4", mcast, 255, edit(marshal(v3(51), mcast), mcast, func(m []byte) { m[0] = 0x41 }), "bad_version"},
		{"type 2", mcast, 255, edit(marshal(v3(51), mcast), mcast, func(m []byte) { m[0] = 0x32 }), "bad_type"},
		{"vrid 0", mcast, 255, edit(marshal(v3(51), mcast), mcast, func(m []byte) { m[1] = 0 }), "bad_vrid"},
		{"interval 0", mcast, 255, edit(marshal(v3(51), mcast), mcast, func(m []byte) { m[4], m[5] = 0, 0 }), "bad_interval"},
		{"address count beyond the message", mcast, 255, edit(marshal(v3(51), mcast), mcast, func(m []byte) { m[3] = 3 }), "bad_length"},
		{"v2 auth type AH", mcast, 255, edit(marshal(v2("s3cret", time.Second), mcast), mcast, func(m []byte) { m[4] = 2 }), "unsupported_auth"},
		{"unknown vrid", mcast, 255, marshal(v3(77), mcast), "unknown_vrid"},
		{"multicast TTL 254", mcast, 254, marshal(v3(51), mcast), "bad_ttl"},
		{"v2 advert to a v3 instance", mcast, 255, marshal(vrrp.Advert{Version: 2, VRID: 51, Priority: 254, Interval: time.Second}, mcast), "bad_version"},
		{"wrong password", mcast, 255, marshal(v2("guess", time.Second), mcast), "auth_mismatch"},
		{"no password", mcast, 255, marshal(v2("", time.Second), mcast), "auth_mismatch"},
		{"v2 interval 2s against 1s", mcast, 255, marshal(v2("s3cret", 2*time.Second), mcast), "interval_mismatch"},
		{"unicast from a stranger", uni, 64, marshal(v3(53), uni), "not_a_peer"},
	}
	bad := marshal(v3(51), mcast)
	bad[6] ^= 0xff
	cases[0].msg = bad

	const repeat = 3
	want := map[string]uint64{}
	for _, c := range cases {
		for range repeat {
			sendRaw(t, x, "eth0", c.dst, c.ttl, c.msg)
		}
		want[c.reason] += repeat
	}
	// The control: a well-formed advert of a lower priority, sent the same
	// way, is accepted (a master hearing it answers with its own advert).
	sendRaw(t, x, "eth0", mcast, 255, marshal(vrrp.Advert{Version: 3, VRID: 51, Priority: 50, Interval: 500 * time.Millisecond}, mcast))

	var after statusJSON
	end := time.Now().Add(3 * time.Second)
	for {
		after = vipdStatus(t, da)
		got := map[string]uint64{}
		for _, d := range after.Drops {
			n, _ := strconv.ParseUint(d.Count, 10, 64)
			got[d.Reason] = n
		}
		ok := true
		for r, n := range want {
			ok = ok && got[r] == n
		}
		if ok {
			for r, n := range got {
				if want[r] == 0 {
					t.Errorf("drops for a reason not sent: %s = %d", r, n)
				}
			}
			break
		}
		if time.Now().After(end) {
			t.Fatalf("drops by reason: %v, want %v", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each drop is also logged at debug level, with its reason.
	for r, n := range want {
		if got := da.CountLog("level=DEBUG", " dropped", "reason="+r+" "); got != int(n) {
			t.Errorf("%d debug log lines for drops of reason %s, want %d", got, r, n)
		}
	}
	_, _, _, _, rcvd0 := before.instance(t, "mc")
	state, prio, _, _, rcvd1 := after.instance(t, "mc")
	if rcvd1 != rcvd0+1 {
		t.Errorf("mc accepted %d adverts, want 1 (the well-formed one)", rcvd1-rcvd0)
	}
	if state != "INSTANCE_STATE_MASTER" || prio != 100 {
		t.Errorf("mc is %s priority %d after the hostile adverts", state, prio)
	}
	for _, name := range []string{"v2", "uc"} {
		if s, _, _, _, _ := after.instance(t, name); s != "INSTANCE_STATE_MASTER" {
			t.Errorf("%s is %s after the hostile adverts", name, s)
		}
	}
	if n := da.CountLog("state change"); n != trans {
		t.Errorf("a logged %d state changes while refusing adverts", n-trans)
	}
	if da.Exited() {
		t.Fatal("vipd exited")
	}
}

// TestReliabilityHostileConfigFiles: configuration files built to exhaust
// a parser — larger than the 16 MiB read limit, nested 100 000 deep, a
// YAML alias bomb, a file that includes itself — are refused by `vipd
// config check` within seconds with an error naming the file (and line),
// never a panic, a hang or an out-of-memory kill (10 s allowed, for a
// loaded CI machine; each takes well under 2 s).
func TestReliabilityHostileConfigFiles(t *testing.T) {
	t.Parallel()
	bin := testbed.VipdBinary(t)
	dir := t.TempDir()
	bomb := "instances:\n  - name: a\n    interface: eth0\n    vrid: 1\n    vips: &a0 [198.51.100.1, 198.51.100.2, 198.51.100.3, 198.51.100.4, 198.51.100.5, 198.51.100.6, 198.51.100.7, 198.51.100.8, 198.51.100.9, 198.51.100.10]\n"
	for i := 1; i <= 8; i++ {
		bomb += fmt.Sprintf("  - name: b%d\n    interface: eth0\n    vrid: %d\n    vips: &a%d [%s]\n", i, i+1, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
	}
	cases := []struct {
		name, file, text, want string
	}{
		{"YAML over 16 MiB", "big.yaml", "node: {name: a}\n" + strings.Repeat("#", 17<<20) + "\n", "big.yaml is larger than 16777216 bytes"},
		{"keepalived.conf over 16 MiB", "big.conf", "vrrp_instance VI_1 {\n" + strings.Repeat("# x\n", (17<<20)/4) + "}\n", "big.conf is larger than 16777216 bytes"},
		{"YAML nested 100000 deep", "deep.yaml", "node: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n", "deep.yaml: YAML syntax: exceeded max depth"},
		{"YAML alias bomb", "bomb.yaml", bomb, "bomb.yaml:9: instances[1].vips[0]: YAML aliases are not supported"},
		{"keepalived.conf including itself", "loop.conf", "include loop.conf\n", "loop.conf:1: include: includes nest more than 32 deep"},
		// keepalived reads a block keyword inside a block as an unknown
		// line and its brace as stray: a warning a line, no recursion.
		{"keepalived.conf blocks nested 30000 deep", "deep.conf", strings.Repeat("vrrp_instance VI_1 {\n", 30000) + strings.Repeat("}\n", 30000),
			`deep.conf:2: warning: vrrp_instance[VI_1].vrrp_instance: unknown keyword "vrrp_instance"; line ignored`},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.file)
		rewrite(t, path, c.text)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		began := time.Now()
		out, err := exec.CommandContext(ctx, bin, "config", "check", "--config", path).CombinedOutput()
		took := time.Since(began)
		timedOut := ctx.Err() != nil
		cancel()
		text := string(out)
		var ee *exec.ExitError
		switch {
		case timedOut:
			t.Errorf("%s: config check still running after 20 s", c.name)
		case err == nil:
			t.Errorf("%s: config check accepted it:\n%.500s", c.name, text)
		case !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.Contains(text, "panic") || strings.Contains(text, "goroutine "):
			t.Errorf("%s: config check failed badly (%v):\n%.2000s", c.name, err, text)
		case !strings.Contains(text, c.want):
			t.Errorf("%s: output lacks %q:\n%.500s", c.name, c.want, text)
		case took > 10*time.Second:
			t.Errorf("%s: refused, but after %v", c.name, took)
		}
		t.Logf("%s: refused in %v: %.150s", c.name, took.Round(time.Millisecond), strings.SplitN(text, "\n", 2)[0])
	}
}
