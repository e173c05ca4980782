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
	vipdv1 "github.com/vipd/vipd/proto/vipd/v1"
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
// GetStatus's checks; GetCluster shows, through gossip, the part gossip
// carries.
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
	a.track = newTracking(a.log, a.clock, notify.New(notify.Options{}))
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
	var pc *vipdv1.Check
	for _, c := range a.status().Checks {
		if c.Name == "probe" {
			pc = c
		}
	}
	if pc == nil {
		t.Fatal("GetStatus lists no check probe")
	}
	wantOutput("GetStatus", pc.LastOutput)
	if pc.Healthy || !strings.Contains(pc.LastError, "3") {
		t.Errorf("GetStatus: healthy %t, error %q; want failing with exit status 3", pc.Healthy, pc.LastError)
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
	resp, err := a.Service().GetCluster(ctx, &vipdv1.GetClusterRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var cs *vipdv1.CheckSummary
	for _, n := range resp.Nodes {
		for _, c := range n.Checks {
			if n.Member.GetName() == "node-a" && c.Name == "probe" {
				cs = c
			}
		}
	}
	if cs == nil {
		t.Fatalf("GetCluster shows no check probe for node-a: %v", resp)
	}
	// Gossip carries the last gossip.MaxCheckOutput bytes of it (SetLocal):
	// the end of what GetStatus shows, with the verdict.
	want := pc.LastOutput[len(pc.LastOutput)-gossip.MaxCheckOutput:]
	if cs.Output != want || !strings.Contains(cs.Output, "verdict: degraded") {
		t.Errorf("GetCluster output ...%q,\nwant the last %d bytes of GetStatus's ...%q", cs.Output[max(0, len(cs.Output)-40):],
			gossip.MaxCheckOutput, want[len(want)-40:])
	}
}
