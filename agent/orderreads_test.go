package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/priority"
)

// An order's digest is what it says, not how it is written: comments,
// blank lines and whether it comes from a file or the configuration do not
// change it; the names, their order and the disabled marks do.
func TestOrderDigest(t *testing.T) {
	digest := func(l priority.Order) string { return orderDigest(orderNodes(&l)) }
	inline, _ := priority.FromConfig([]string{"n1", "n2", "#n3"})
	file, _ := priority.ParseOrder("/etc/vipd/order", []byte("## who is master\nn1\n\nn2   # the backup\n# n3\n"))
	if digest(inline) != digest(file) {
		t.Errorf("the same order inline and in a file has two digests")
	}
	for _, other := range [][]string{
		{"n1", "n2", "n3"},  // n3 enabled
		{"n2", "n1", "#n3"}, // order
		{"n1", "n2"},        // n3 gone
		{"n1", "n2", "#n3", "n4"},
		{"n1n2", "#n3"}, // a separator matters
	} {
		l, _ := priority.FromConfig(other)
		if digest(l) == digest(inline) {
			t.Errorf("%v has the digest of n1 n2 #n3", other)
		}
	}
}

// shouldPublish: an order the cluster lacks is published; one the cluster
// has is published only if this node read something else last time, and
// a node with no record of a read takes the cluster's.
func TestOrderReadsShouldPublish(t *testing.T) {
	r := loadOrderReads("", slog.New(slog.DiscardHandler))
	r.record("web", "d1")
	for _, c := range []struct {
		inst, digest string
		clusterHas   bool
		want         bool
	}{
		{"web", "d1", false, true},
		{"web", "d1", true, false},
		{"web", "d2", true, true},
		{"db", "d1", true, false},
		{"db", "d1", false, true},
	} {
		if got := r.shouldPublish(c.inst, c.digest, c.clusterHas); got != c.want {
			t.Errorf("shouldPublish(%s, %s, cluster has one: %v) = %v, want %v", c.inst, c.digest, c.clusterHas, got, c.want)
		}
	}
}

// The records survive a restart; a missing, torn, foreign or unreadable
// file is an empty record (logged unless missing), never a failure.
func TestOrderReadsFile(t *testing.T) {
	dir := t.TempDir()
	path := orderReadsPath(&config.Gossip{StateFile: filepath.Join(dir, "state.json")})
	if path != filepath.Join(dir, "order-reads.json") {
		t.Fatalf("path %s: not beside the state file", path)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))

	r := loadOrderReads(path, log)
	if len(r.read) != 0 || logs.String() != "" {
		t.Fatalf("missing file: %v, logged %q", r.read, logs)
	}
	r.record("web", "d1")
	r.record("db", "d2")
	r.flush()
	again := loadOrderReads(path, log)
	if fmt.Sprint(again.read) != fmt.Sprint(map[string]string{"db": "d2", "web": "d1"}) {
		t.Errorf("after a restart: %v", again.read)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("files left in the state directory: %v", ents)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("file mode %v (%v), want 0640", fi.Mode(), err)
	}

	// Nothing changed, nothing written.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	again.record("web", "d1")
	again.flush()
	if _, err := os.Stat(path); err == nil {
		t.Errorf("an unchanged record was written again")
	}

	for name, content := range map[string]string{
		"torn":    `{"version": 1, "read": {"web": "d`,
		"foreign": `{"version": 7, "read": {"web": "d1"}}`,
		"garbage": "\x00\x01",
	} {
		if err := os.WriteFile(path, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		before := logs.count("file unusable")
		r := loadOrderReads(path, log)
		if len(r.read) != 0 {
			t.Errorf("%s file: records %v", name, r.read)
		}
		if logs.count("file unusable") != before+1 {
			t.Errorf("%s file not logged: %s", name, logs)
		}
		// And the next change writes a good file over it.
		r.record("web", "d3")
		r.flush()
		if got := loadOrderReads(path, log).read["web"]; got != "d3" {
			t.Errorf("%s file not replaced: %q", name, got)
		}
	}
}

// A failed write is logged once, kept pending and retried every
// orderReadsRetry flushes: the first try after the cause is gone saves the
// records, the latest ones.
func TestOrderReadsWriteFailure(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "state")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil { // a file where the directory should be
		t.Fatal(err)
	}
	path := filepath.Join(blocker, "order-reads.json")
	logs := &syncBuffer{}
	r := loadOrderReads(path, slog.New(slog.NewTextHandler(logs, nil)))
	r.record("web", "d1")
	r.flush()
	r.flush()
	r.record("web", "d2")
	r.flush()
	if n := logs.count("cannot save"); n != 1 {
		t.Errorf("write failure logged %d times, want once:\n%s", n, logs)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	// Two flushes went by since the failure; the retry is the
	// orderReadsRetry-th.
	for i := 2; i < orderReadsRetry-1; i++ {
		r.flush()
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("retried after %d flushes, want %d", i+1, orderReadsRetry)
		}
	}
	r.flush()
	if got := loadOrderReads(path, slog.New(slog.DiscardHandler)).read["web"]; got != "d2" {
		t.Errorf("after the retry the file holds %q, want d2", got)
	}
	if logs.count("saved again") != 1 {
		t.Errorf("recovery not logged:\n%s", logs)
	}
}

// fakeOrders stands in for gossip.Cluster's orders: last writer wins by
// version, as there.
type fakeOrders struct {
	orders map[string]priority.Order
	clock  uint64
	sets   int
	err    error // returned by SetOrder (with no change unless ErrPersist)
}

func (f *fakeOrders) Orders() map[string]priority.Order {
	out := map[string]priority.Order{}
	for k, e := range f.orders {
		e.Nodes = slices.Clone(e.Nodes)
		out[k] = e
	}
	return out
}

func (f *fakeOrders) SetOrder(inst string, nodes []priority.OrderNode) (priority.Order, error) {
	f.sets++
	if f.err != nil && !errors.Is(f.err, gossip.ErrPersist) {
		return priority.Order{}, f.err
	}
	f.clock++
	e := priority.Order{Instance: inst, Nodes: slices.Clone(nodes), Version: f.clock, Origin: "n1"}
	f.orders[inst] = e
	return e, f.err
}

// failover is `vipd failover` on another node: a newer order.
func (f *fakeOrders) failover(inst string, names ...string) {
	f.clock++
	f.orders[inst] = priority.Order{Instance: inst, Nodes: nodesOf(names...), Version: f.clock, Origin: "n3"}
}

func nodesOf(names ...string) []priority.OrderNode {
	var out []priority.OrderNode
	for _, n := range names {
		out = append(out, priority.OrderNode{Name: n})
	}
	return out
}

func names(nodes []priority.OrderNode) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return strings.Join(out, " ")
}

// The scenario, one layer down: a failover is not undone by the
// order being read again (a hundred reloads, a restart, the same file
// rewritten with other comments), whether inline or from a file; an edit
// is published once, also when made while the node was down.
func TestPublishOrdersOnlyEdits(t *testing.T) {
	for _, form := range []string{"inline", "file"} {
		t.Run(form, func(t *testing.T) {
			read := func(text string) map[string]*priority.Order {
				var l priority.Order
				if form == "inline" {
					l, _ = priority.FromConfig(strings.Fields(text))
				} else {
					l, _ = priority.ParseOrder("/o", []byte("## order\n"+strings.ReplaceAll(text, " ", "\n")+"\n"))
				}
				return map[string]*priority.Order{"web": &l}
			}
			path := filepath.Join(t.TempDir(), "order-reads.json")
			logs := &syncBuffer{}
			log := slog.New(slog.NewTextHandler(logs, nil))
			c := &fakeOrders{orders: map[string]priority.Order{}}

			// First start: the cluster has no order, this node's is published.
			reads := loadOrderReads(path, log)
			publishOrders(c, reads, read("n1 n2 n3"), log)
			if c.sets != 1 || names(c.orders["web"].Nodes) != "n1 n2 n3" {
				t.Fatalf("first start: %d publications, cluster order %v", c.sets, c.orders["web"])
			}

			c.failover("web", "n3", "n1", "n2")
			for range 100 { // SIGHUPs: the order is read anew each time
				publishOrders(c, reads, read("n1 n2 n3"), log)
			}
			if c.sets != 1 || names(c.orders["web"].Nodes) != "n3 n1 n2" {
				t.Fatalf("after reloads: %d publications, cluster order %s", c.sets, names(c.orders["web"].Nodes))
			}

			// A restart with the order unchanged.
			reads = loadOrderReads(path, log)
			publishOrders(c, reads, read("n1 n2 n3"), log)
			if c.sets != 1 {
				t.Fatalf("a restart with an unchanged order published it")
			}

			// An edit while running: published once, then read again only.
			publishOrders(c, reads, read("n2 n1 n3"), log)
			for range 10 {
				publishOrders(c, reads, read("n2 n1 n3"), log)
			}
			if c.sets != 2 || names(c.orders["web"].Nodes) != "n2 n1 n3" {
				t.Fatalf("edit: %d publications, cluster order %s", c.sets, names(c.orders["web"].Nodes))
			}

			// An edit while the node was down: published at start.
			c.failover("web", "n3", "n2", "n1")
			reads = loadOrderReads(path, log)
			publishOrders(c, reads, read("n1 n3 n2"), log)
			if c.sets != 3 || names(c.orders["web"].Nodes) != "n1 n3 n2" {
				t.Fatalf("edit while down: %d publications, cluster order %s", c.sets, names(c.orders["web"].Nodes))
			}

			// The record lost (no file): the cluster's order stands.
			c.failover("web", "n3", "n1", "n2")
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			reads = loadOrderReads(path, log)
			publishOrders(c, reads, read("n2 n3 n1"), log)
			if c.sets != 3 {
				t.Fatalf("with no record, a node overrode the cluster's order")
			}
			// ... and what it read then is the record from now on.
			publishOrders(c, loadOrderReads(path, log), read("n2 n3 n1"), log)
			publishOrders(c, loadOrderReads(path, log), read("n1 n2 n3"), log)
			if c.sets != 4 || names(c.orders["web"].Nodes) != "n1 n2 n3" {
				t.Fatalf("edit after a lost record: %d publications, cluster order %s", c.sets, names(c.orders["web"].Nodes))
			}
			if n := logs.count("order published cluster-wide"); n != c.sets {
				t.Errorf("%d publications logged, %d made", n, c.sets)
			}
		})
	}
}

// An edit equal to the cluster's order is not published again; one the
// cluster refuses as invalid is not retried until edited again; any other
// failure is retried at the next round; a failure to save the state file
// still counts as published.
func TestPublishOrdersFailures(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	list := func(names ...string) map[string]*priority.Order {
		l, _ := priority.FromConfig(names)
		return map[string]*priority.Order{"web": &l}
	}
	c := &fakeOrders{orders: map[string]priority.Order{}}
	reads := loadOrderReads("", log)
	publishOrders(c, reads, list("n1", "n2"), log)
	c.failover("web", "n2", "n1")
	publishOrders(c, reads, list("n2", "n1"), log)
	if c.sets != 1 {
		t.Errorf("an edit equal to the cluster's order was published (%d)", c.sets)
	}

	c.err = fmt.Errorf("%w: too many nodes", gossip.ErrInvalid)
	for range 3 {
		publishOrders(c, reads, list("n1", "n2", "n3"), log)
	}
	if c.sets != 2 {
		t.Errorf("an invalid order tried %d times, want once", c.sets-1)
	}

	c.err = errors.New("not started")
	publishOrders(c, reads, list("n3", "n2", "n1"), log)
	c.err = nil
	got := publishOrders(c, reads, list("n3", "n2", "n1"), log)
	if c.sets != 4 || names(got["web"].Nodes) != "n3 n2 n1" {
		t.Errorf("a failed publication not retried: %d, %v", c.sets, got["web"])
	}

	c.err = fmt.Errorf("%w: disk full", gossip.ErrPersist)
	publishOrders(c, reads, list("n1", "n3", "n2"), log)
	c.err = nil
	publishOrders(c, reads, list("n1", "n3", "n2"), log)
	if c.sets != 5 {
		t.Errorf("an order in effect but not saved was published again (%d)", c.sets)
	}
}
