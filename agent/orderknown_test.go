package agent

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/internal/clock"
	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// syncBuffer is a log sink that the watchers' goroutines write to while
// the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) count(sub string) int { return strings.Count(s.String(), sub) }

func orderInstance(name string, vrid uint8, o *priority.OrderConfig) *config.Instance {
	ic := testInstance(name, vrid, 100, notify.Config{})
	o.Priorities, o.Unhealthy = priority.DefaultPriorities(), priority.UnhealthyLowest
	ic.Order = o
	return ic
}

// orderTestInterval is how often the tests' order watchers re-read their
// orders: each re-read asks tracking which nodes are known.
const orderTestInterval = 50 * time.Millisecond

// startTracking configures a tracking for cfg as the agent does, on the
// real clock with order watchers re-reading every orderTestInterval, and
// returns its log. These tests run outside synctest bubbles: order files are
// followed through inotify and interface checks through netlink, whose
// readers never let a bubble's time move.
func startTracking(t *testing.T, cfg *config.Config, members func() []gossip.Member) (*tracking, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	tr := newTracking(trackingOptions{Log: slog.New(slog.NewTextHandler(logs, nil)), Clock: clock.Real(),
		Notifier: notify.New(notify.Options{}), Node: cfg.Node.Name, Members: members, OrderInterval: orderTestInterval})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); tr.stop() })
	if err := tr.configure(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	return tr, logs
}

// members is a gossip membership the test changes, counting how often it
// was asked: every read of an order asks once, so the count says that the
// watchers have looked again.
type members struct {
	mu    sync.Mutex
	names []string
	asked atomic.Int64
}

func (m *members) set(names ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.names = names
}

func (m *members) list() []gossip.Member {
	m.asked.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []gossip.Member
	for _, n := range m.names {
		out = append(out, gossip.Member{Name: n, Status: gossip.StatusAlive})
	}
	return out
}

// waitReads waits until the order watchers have read n more times.
func (m *members) waitReads(t *testing.T, n int64) {
	t.Helper()
	want := m.asked.Load() + n
	waitFor(t, fmt.Sprintf("%d more reads of the orders", n), func() bool { return m.asked.Load() >= want })
}

// With gossip, an order file's names are checked against the members: an
// unknown one is logged at warn when read, and again only when the
// membership changes what is unknown. A node alone in its cluster (not
// joined yet) reports nothing.
func TestOrderUnknownNodesAgainstGossipMembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "order")
	if err := os.WriteFile(path, []byte("node-a\nnode-b\nghost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(orderInstance("web", 51, &priority.OrderConfig{File: path}))
	m := &members{}
	m.set("node-a", "node-b")
	_, logs := startTracking(t, cfg, m.list)
	waitFor(t, "the unknown name logged", func() bool { return logs.count("unknown node ghost") == 1 })
	if n := logs.count("unknown node node-b"); n != 0 {
		t.Errorf("a member reported unknown: %s", logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("not at warn: %s", logs)
	}

	m.set("node-a", "node-b", "ghost")
	waitFor(t, "the change logged", func() bool {
		return logs.count("every node the order lists is a known member now") == 1
	})
	m.set("node-a", "ghost")
	waitFor(t, "node-b's departure logged", func() bool { return strings.Contains(logs.String(), "unknown=node-b") })
	// Every read from now on could log it again: let several happen.
	m.waitReads(t, 5)
	if n := logs.count("order lists nodes that are not known members"); n != 1 {
		t.Errorf("membership change logged %d times, want once:\n%s", n, logs)
	}

	alone := func() []gossip.Member { return []gossip.Member{{Name: "node-a", Status: gossip.StatusAlive}} }
	_, logs = startTracking(t, cfg, alone)
	waitFor(t, "the order loaded", func() bool { return logs.count("order loaded") == 1 })
	if strings.Contains(logs.String(), "unknown node") {
		t.Errorf("a node alone in its cluster reported unknown names:\n%s", logs)
	}
}

// Without gossip the known names are those the configuration holds: the
// node's own and those of inline orders. With nothing but its own name
// there is nothing to compare with, and nothing is reported.
func TestOrderUnknownNodesAgainstConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "order")
	if err := os.WriteFile(path, []byte("node-a\nnode-b\nghost\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(orderInstance("web", 51, &priority.OrderConfig{File: path}),
		orderInstance("db", 52, &priority.OrderConfig{Nodes: []string{"node-b", "node-a"}}))
	_, logs := startTracking(t, cfg, nil)
	waitFor(t, "ghost logged unknown", func() bool { return logs.count("unknown node ghost") == 1 })
	if strings.Contains(logs.String(), "unknown node node-b") {
		t.Errorf("a configured node reported unknown:\n%s", logs)
	}

	alone := baseConfig(orderInstance("web", 51, &priority.OrderConfig{File: path}))
	_, logs = startTracking(t, alone, nil)
	waitFor(t, "the order loaded", func() bool { return logs.count("order loaded") == 1 })
	if strings.Contains(logs.String(), "unknown node") {
		t.Errorf("names reported unknown with nothing to compare with:\n%s", logs)
	}
}

// A reload (configure again) re-reads every order into the same list, and
// the judgement of an edit (publishOrders) sees the same order: a reload
// is no edit. An order source replaced on reload is the only one read
// from then on (the old watcher has ended), and an order removed from the
// configuration leaves no local list behind.
func TestReconfigureRereadsOrders(t *testing.T) {
	dir := t.TempDir()
	fileA, fileB := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for p, text := range map[string]string{fileA: "node-a\nnode-b\n", fileB: "node-b\nnode-a\n"} {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := func(web *priority.OrderConfig) *config.Config {
		return baseConfig(orderInstance("web", 51, web),
			orderInstance("db", 52, &priority.OrderConfig{Nodes: []string{"node-b", "node-a"}}))
	}
	// Gossip members, only to count the watchers' reads.
	m := &members{}
	m.set("node-a", "node-b", "node-c")
	tr, logs := startTracking(t, cfg(&priority.OrderConfig{File: fileA}), m.list)
	listOf := func(inst string) *priority.Order { return tr.view(inst).order }
	digestOf := func(inst string) string {
		if l := listOf(inst); l != nil {
			return orderDigest(orderNodes(l))
		}
		return ""
	}
	waitFor(t, "both orders loaded", func() bool { return logs.count("order loaded") == 2 })
	web, db := digestOf("web"), digestOf("db")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 20 {
		if err := tr.configure(ctx, cfg(&priority.OrderConfig{File: fileA})); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the orders read again", func() bool { return logs.count("order loaded") == 2*(i+2) })
		if digestOf("web") != web || digestOf("db") != db {
			t.Fatalf("reload %d changed an order read from an unchanged source", i+1)
		}
	}
	if len(tr.watchers) != 2 {
		t.Errorf("%d watchers after the reloads, want 2", len(tr.watchers))
	}

	// Another file: from now on only it counts.
	if err := tr.configure(ctx, cfg(&priority.OrderConfig{File: fileB})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "file b read", func() bool { return listOf("web").Source == fileB })
	b := digestOf("web")
	if err := os.WriteFile(fileA, []byte("node-c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded := logs.count("order loaded")
	// The watchers read again several times (each re-read asks for the
	// members), then b is edited and its watcher reads the edit: an old
	// watcher of a still running would have read a's edit by then (one
	// more load, a's source).
	m.waitReads(t, 8)
	if err := os.WriteFile(fileB, []byte("node-a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "file b's edit read", func() bool { return digestOf("web") != b })
	if n := logs.count("order loaded"); n != loaded+1 {
		t.Errorf("an old watcher still reads: %d loads after the switch, want 1\n%s", n-loaded, logs)
	}
	if listOf("web").Source != fileB {
		t.Errorf("web's order came from %s after the switch to %s", listOf("web").Source, fileB)
	}

	// web's order removed from the configuration: no local list is left.
	plain := cfg(&priority.OrderConfig{File: fileB})
	plain.Instances[0].Order = nil
	if err := tr.configure(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if listOf("web") != nil {
		t.Errorf("web keeps the local order of a removed order section")
	}
	if listOf("db") == nil {
		t.Errorf("db lost its order on a reload that kept it")
	}
}
