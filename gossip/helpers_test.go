package gossip

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
)

// testConfig is a loopback cluster with the local profile and timings
// short enough for tests (a probe every 100 ms).
func testConfig(t *testing.T, cluster string) *config.Gossip {
	t.Helper()
	return &config.Gossip{
		ClusterName: cluster,
		BindAddr:    netip.MustParseAddr("127.0.0.1"),
		Profile:     ProfileLocal,
		Timings: config.GossipTimings{
			ProbeInterval:    100 * time.Millisecond,
			ProbeTimeout:     50 * time.Millisecond,
			GossipInterval:   20 * time.Millisecond,
			PushPullInterval: 500 * time.Millisecond,
		},
		AZ:        "az-1",
		StateFile: filepath.Join(t.TempDir(), "state.json"),
	}
}

func testKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func b64(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// recorder is a slog.Handler that keeps every record, for assertions and
// for the failure dump (memberlist may log after a test ends, so records
// are not sent to t.Log as they come).
type recorder struct {
	mu   sync.Mutex
	recs []string
	lvls []slog.Level
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.recs = append(r.recs, b.String())
	r.lvls = append(r.lvls, rec.Level)
	r.mu.Unlock()
	return nil
}

// has reports whether a record at level or above contains substr.
func (r *recorder) has(level slog.Level, substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range r.recs {
		if r.lvls[i] >= level && strings.Contains(s, substr) {
			return true
		}
	}
	return false
}

func (r *recorder) dump(t *testing.T, name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range r.recs {
		if r.lvls[i] >= slog.LevelInfo {
			t.Logf("%s: %v %s", name, r.lvls[i], s)
		}
	}
}

// eventLog collects OnChange events.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

func (l *eventLog) count(kind EventKind, node string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.evs {
		if e.Kind == kind && (node == "" || e.Node == node) {
			n++
		}
	}
	return n
}

// node is one started Cluster of a test.
type node struct {
	name   string
	c      *Cluster
	rec    *recorder
	events *eventLog
	cancel context.CancelFunc
}

// newNode creates a Cluster on a kernel-chosen loopback port, with fast
// join retries; it is not started.
func newNode(t *testing.T, name string, cfg *config.Gossip) *node {
	t.Helper()
	n := &node{name: name, rec: &recorder{}, events: &eventLog{}}
	c, err := New(cfg, name, Options{Log: slog.New(n.rec), Meta: NodeMeta{Version: "test", APIAddr: name + ":9100"}, OnChange: n.events.add})
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	c.mc.BindPort = 0 // memberlist picks a free port for TCP and UDP
	c.mc.AdvertisePort = 0
	c.joinMin, c.joinMax = 20*time.Millisecond, 200*time.Millisecond
	n.c = c
	t.Cleanup(func() {
		if t.Failed() {
			n.rec.dump(t, name)
		}
	})
	return n
}

// start starts n; Cleanup leaves.
func (n *node) start(t *testing.T) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if err := n.c.Start(ctx); err != nil {
		t.Fatalf("Start(%s): %v", n.name, err)
	}
	t.Cleanup(func() {
		_ = n.c.Leave(200 * time.Millisecond)
		cancel()
	})
	return n
}

// startNode creates and starts a node.
func startNode(t *testing.T, name string, cfg *config.Gossip) *node {
	t.Helper()
	return newNode(t, name, cfg).start(t)
}

// joining returns a copy of cfg, with a state file of its own, that joins
// the given nodes.
func joining(t *testing.T, cfg config.Gossip, to ...*node) *config.Gossip {
	t.Helper()
	cfg.StateFile = filepath.Join(t.TempDir(), "state.json")
	cfg.Join = nil
	for _, n := range to {
		cfg.Join = append(cfg.Join, n.c.LocalAddr().String())
	}
	return &cfg
}

// waitFor polls cond until it holds or timeout passes. These tests run
// real memberlist over loopback sockets, so they wait on real time.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdsFor fails if cond stops holding within d.
func holdsFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s stopped holding", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// aliveNames lists the alive members n sees.
func aliveNames(c *Cluster) []string {
	var out []string
	for _, m := range c.Members() {
		if m.Status == StatusAlive {
			out = append(out, m.Name)
		}
	}
	return out
}

func sameStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

const slogWarn = slog.LevelWarn

func slogFor(r *recorder) *slog.Logger { return slog.New(r) }
