package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/notify"
)

// freePort returns a port free on 127.0.0.1 for both TCP and UDP just
// now (memberlist needs both).
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port on 127.0.0.1")
	return 0
}

// An exec check's output, bounded to its last checks.MaxOutput bytes (the
// verdict at the end kept, the start dropped), is what the API shows in
// the status's checks (GetStatus); the cluster view (GetCluster) shows,
// through gossip, the part gossip carries.
func TestExecCheckOutputReachesAPI(t *testing.T) {
	port := freePort(t)
	yaml := fmt.Sprintf(`node: { name: node-a }
gossip:
  cluster_name: apitest
  bind: { address: 127.0.0.1, port: %d }
checks:
  - name: probe
    interval: 1h
    timeout: 5s
    exec: { command: [/bin/sh, -c, "echo first-line; head -c 6000 /dev/zero | tr '\\0' x; echo; echo 'verdict: degraded'; exit 3"] }
`, port)
	cfg, err := config.ParseYAML("api.yaml", []byte(yaml), config.LoadOptions{Hostname: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	a := New(Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	a.cfg, a.nodeName = cfg, cfg.Node.Name
	a.track = newTracking(trackingOptions{Log: a.log, Clock: a.clock, Notifier: notify.New(notify.Options{}), Node: cfg.Node.Name})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer a.track.stop()
	if err := a.track.configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	a.track.awaitFirstResults()

	wantOutput := func(where, out string) {
		t.Helper()
		if !strings.HasSuffix(strings.TrimSpace(out), "verdict: degraded") {
			t.Errorf("%s: output does not end with the verdict: ...%q", where, out[max(0, len(out)-40):])
		}
		if len(out) > checks.MaxOutput || len(out) < checks.MaxOutput-1 {
			t.Errorf("%s: output of %d bytes, want it bounded to %d", where, len(out), checks.MaxOutput)
		}
		if strings.Contains(out, "first-line") {
			t.Errorf("%s: the start of the output was kept, the end should be", where)
		}
	}
	var pc *checks.Status
	st := a.nodeStatus()
	for i, c := range st.Checks {
		if c.Name == "probe" {
			pc = &st.Checks[i]
		}
	}
	if pc == nil {
		t.Fatal("Status lists no check probe")
	}
	wantOutput("Status", pc.LastResult.Output)
	if pc.Healthy || pc.LastResult.Err == nil || !strings.Contains(pc.LastResult.Err.Error(), "3") {
		t.Errorf("Status: healthy %t, error %v; want failing with exit status 3", pc.Healthy, pc.LastResult.Err)
	}

	link, err := newClusterLink(cfg, "test", a.log, a.track.poke, a.events, a.command)
	if err != nil {
		t.Fatal(err)
	}
	gctx, gstop := context.WithCancel(context.Background())
	defer gstop()
	if err := link.start(gctx); err != nil {
		t.Fatal(err)
	}
	defer link.stop()
	a.link.Store(link)
	link.publish(a.track, a.running)
	cl := a.Service().Cluster()
	var cs *gossip.CheckState
	for _, n := range cl.Nodes {
		if n.Member.Name != "node-a" || n.State == nil {
			continue
		}
		for i, c := range n.State.Checks {
			if c.Name == "probe" {
				cs = &n.State.Checks[i]
			}
		}
	}
	if cs == nil {
		t.Fatalf("Cluster shows no check probe for node-a: %+v", cl)
	}
	// Gossip carries the last gossip.MaxCheckOutput bytes of it (SetLocal):
	// the end of what Status shows, with the verdict.
	out := pc.LastResult.Output
	want := out[len(out)-gossip.MaxCheckOutput:]
	if cs.Output != want || !strings.Contains(cs.Output, "verdict: degraded") {
		t.Errorf("Cluster output ...%q,\nwant the last %d bytes of Status's ...%q", cs.Output[max(0, len(cs.Output)-40):],
			gossip.MaxCheckOutput, want[len(want)-40:])
	}
}
