package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/gossip"
	"github.com/vipd/vipd/internal/atomicfile"
	"github.com/vipd/vipd/priority"
)

// A node's order file or inline order is only a proposal: the order in
// force is the cluster's, and `vipd failover` or `vipd order` replace it.
// The local order wins over the cluster's only when it was edited, so
// re-reading it (a SIGHUP, a restart, a file touched or rewritten as it
// was, a file unreadable for a while) must not publish it again: that
// would undo a failover. orderReads remembers, per instance, a digest of
// the order this node last read, in a small file beside the gossip state
// file, so a restart can tell an edit made while the node was down from a
// plain re-read.

// orderReadsVersion is the version of the file's JSON.
const orderReadsVersion = 1

// orderReadsFile is the file's JSON.
type orderReadsFile struct {
	Version int `json:"version"`
	// Read maps an instance to the digest of its order as last read.
	Read map[string]string `json:"read"`
}

// orderReads is what this node last read of each instance's local order.
// It is used on the agent's goroutine only.
type orderReads struct {
	path string // "" keeps the digests in memory only
	log  *slog.Logger
	read map[string]string

	dirty   bool // read changed since the last good write
	failing bool // the last write failed (logged once until one succeeds)
	skip    int  // flushes to let pass before retrying a failed write
}

// orderReadsRetry is how many flushes (sync rounds: one per event, at
// least every 5 s, see wake.go) pass between two tries of a failed write:
// a broken disk is not hammered.
const orderReadsRetry = 40

// orderReadsPath is the file beside the gossip state file.
func orderReadsPath(g *config.Gossip) string {
	state := config.DefaultGossipStateFile
	if g != nil && g.StateFile != "" {
		state = g.StateFile
	}
	return filepath.Join(filepath.Dir(state), "order-reads.json")
}

// loadOrderReads reads path. A missing file is a node that has read
// nothing yet; a torn or corrupt one is logged and treated the same, which
// errs on the side of the cluster's order: an order the cluster already
// has is then not overridden.
func loadOrderReads(path string, log *slog.Logger) *orderReads {
	r := &orderReads{path: path, log: log, read: map[string]string{}}
	if path == "" {
		return r
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return r
	}
	var f orderReadsFile
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err == nil && f.Version != orderReadsVersion {
		err = fmt.Errorf("version %d, want %d", f.Version, orderReadsVersion)
	}
	if err != nil {
		log.Warn("orders last read: file unusable, starting empty (the cluster's orders win over local ones until edited)",
			"path", path, "err", err)
		return r
	}
	for inst, d := range f.Read {
		r.read[inst] = d
	}
	return r
}

// orderNodes is how a local order is published.
func orderNodes(l *priority.Order) []priority.OrderNode {
	nodes := make([]priority.OrderNode, 0, len(l.Nodes))
	for _, e := range l.Nodes {
		nodes = append(nodes, priority.OrderNode{Name: e.Name, Disabled: e.Disabled})
	}
	return nodes
}

// orderDigest identifies an order by what it says: the nodes, in order,
// and which are disabled. Comments, blank lines, where the list comes
// from (file or configuration) do not count, so editing only those is not
// an edit of the order.
func orderDigest(nodes []priority.OrderNode) string {
	var b strings.Builder
	for _, n := range nodes {
		if n.Disabled {
			b.WriteByte('#')
		}
		b.WriteString(n.Name)
		b.WriteByte('\n')
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// shouldPublish decides whether this node publishes its local order of
// inst (with digest d) cluster-wide: when the cluster has no order for it
// yet, or when the local order is an edit — its digest differs from the
// one this node last read. Never having read it (a first start, or the
// record lost) is not an edit: the cluster's order stands.
func (r *orderReads) shouldPublish(inst, d string, clusterHas bool) bool {
	if !clusterHas {
		return true
	}
	last, ok := r.read[inst]
	return ok && last != d
}

// record notes d as what was last read of inst.
func (r *orderReads) record(inst, d string) {
	if r.read[inst] == d {
		return
	}
	r.read[inst] = d
	r.dirty = true
}

// forgetExcept drops the records of instances not in keep (removed
// instances, or orders removed from them).
func (r *orderReads) forgetExcept(keep func(inst string) bool) {
	for inst := range r.read {
		if !keep(inst) {
			delete(r.read, inst)
			r.dirty = true
		}
	}
}

// flush writes the records if they changed. A failed write is logged once
// and retried every orderReadsRetry flushes; until it succeeds, a restart
// may take a re-read for an edit or the reverse.
func (r *orderReads) flush() {
	if !r.dirty || r.path == "" {
		return
	}
	if r.skip > 0 {
		r.skip--
		return
	}
	if err := writeOrderReads(r.path, r.read); err != nil {
		if !r.failing {
			r.log.Error("orders last read: cannot save (a restart may misjudge an order file as edited or not)", "path", r.path, "err", err)
		}
		r.failing, r.skip = true, orderReadsRetry-1
		return
	}
	if r.failing {
		r.log.Info("orders last read: saved again", "path", r.path)
	}
	r.dirty, r.failing = false, false
}

// writeOrderReads saves read atomically: a synced temporary file renamed
// over path, so a crash leaves the old file or the new one.
func writeOrderReads(path string, read map[string]string) error {
	b, err := json.MarshalIndent(orderReadsFile{Version: orderReadsVersion, Read: read}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o640)
}

// orderCluster is what publishing local orders needs of the gossip
// cluster (gossip.Cluster).
type orderCluster interface {
	Orders() map[string]priority.Order
	SetOrder(instance string, nodes []priority.OrderNode) (priority.Order, error)
}

// publishOrders publishes the local orders that shouldPublish says to,
// records every order judged as read, and returns the cluster's orders
// with what it published. local maps an instance to its order as read
// here. It runs on the agent's goroutine.
func publishOrders(c orderCluster, reads *orderReads, local map[string]*priority.Order, log *slog.Logger) map[string]priority.Order {
	orders := c.Orders()
	for inst, list := range local {
		nodes := orderNodes(list)
		d := orderDigest(nodes)
		cur, clusterHas := orders[inst]
		if !reads.shouldPublish(inst, d, clusterHas) || clusterHas && slices.Equal(cur.Nodes, nodes) {
			reads.record(inst, d)
			continue
		}
		e, err := c.SetOrder(inst, nodes)
		switch {
		case errors.Is(err, gossip.ErrPersist):
			log.Warn("order published but not saved in the state file", "instance", inst, "err", err)
		case errors.Is(err, gossip.ErrInvalid):
			// Publishing it again cannot help: taken as read, so it is
			// not retried (and logged) on every round until edited.
			log.Warn("cannot publish order", "instance", inst, "err", err)
			reads.record(inst, d)
			continue
		case err != nil:
			log.Warn("cannot publish order", "instance", inst, "err", err)
			continue
		}
		reads.record(inst, d)
		log.Info("order published cluster-wide", "instance", inst, "version", e.Version)
		orders[inst] = e
	}
	reads.flush()
	return orders
}
