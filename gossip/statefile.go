package gossip

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vipd/vipd/internal/atomicfile"
	"github.com/vipd/vipd/priority"
)

// stateFileVersion is the version of the state file's JSON. Fields added
// since are optional (a file without them loads as before), so the
// version stays 1.
const stateFileVersion = 1

// stateFile is the JSON saved in config.Gossip.StateFile: the orders, so
// a restarted node keeps the latest order even if it starts alone, and the
// members last known, so that it can find the cluster again even if its
// join list names nobody else (or nobody alive).
type stateFile struct {
	Version int          `json:"version"`
	Orders  []fileOrder  `json:"orders"`
	Members []fileMember `json:"members,omitempty"`
}

// fileOrder is one order as the state file has it.
type fileOrder struct {
	Instance string          `json:"instance"`
	Nodes    []fileOrderNode `json:"nodes"`
	Version  uint64          `json:"version"`
	Origin   string          `json:"origin"`
}

// fileOrderNode is one node of a fileOrder.
type fileOrderNode struct {
	Name     string `json:"name"`
	Disabled bool   `json:"disabled,omitempty"`
}

// toFileOrder and fromFileOrder convert at the state file's edge; only
// what gossip carries of an order is saved.
func toFileOrder(o priority.Order) fileOrder {
	f := fileOrder{Instance: o.Instance, Version: o.Version, Origin: o.Origin}
	if o.Nodes != nil {
		f.Nodes = make([]fileOrderNode, 0, len(o.Nodes))
	}
	for _, n := range o.Nodes {
		f.Nodes = append(f.Nodes, fileOrderNode{Name: n.Name, Disabled: n.Disabled})
	}
	return f
}

func fromFileOrder(f fileOrder) priority.Order {
	o := priority.Order{Instance: f.Instance, Version: f.Version, Origin: f.Origin}
	if f.Nodes != nil {
		o.Nodes = make([]priority.OrderNode, 0, len(f.Nodes))
	}
	for _, n := range f.Nodes {
		o.Nodes = append(o.Nodes, priority.OrderNode{Name: n.Name, Disabled: n.Disabled})
	}
	return o
}

// fileMember is one member as the state file has it: its name and gossip
// address ("ip:port").
type fileMember struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
}

// savedMember is a member remembered across restarts.
type savedMember struct {
	Name string
	Addr netip.AddrPort
}

// savedState is what readStateFile returns.
type savedState struct {
	orders  map[string]priority.Order
	members []savedMember
}

// readStateFile loads the orders and members saved at path. A missing file
// is an empty state (first start); anything unreadable or corrupt is an
// error, since starting empty would silently forget an order. A member
// entry that is unusable (no name, no address) is skipped: it is only a
// hint of where to look for the cluster.
func readStateFile(path string) (savedState, error) {
	st := savedState{orders: map[string]priority.Order{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, &StateFileError{Path: path, Err: err}
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return st, &StateFileError{Path: path, Err: err}
	}
	if f.Version != stateFileVersion {
		return st, &StateFileError{Path: path, Err: fmt.Errorf("version %d, want %d", f.Version, stateFileVersion)}
	}
	for _, fo := range f.Orders {
		e := fromFileOrder(fo)
		if err := validateOrder(e); err != nil {
			return st, &StateFileError{Path: path, Err: err}
		}
		if _, dup := st.orders[e.Instance]; dup {
			return st, &StateFileError{Path: path, Err: fmt.Errorf("two orders for %q", e.Instance)}
		}
		st.orders[e.Instance] = e
	}
	for _, m := range f.Members {
		ap, err := netip.ParseAddrPort(m.Addr)
		if checkName("member", m.Name) == nil && err == nil && ap.Port() != 0 && ap.Addr().Zone() == "" {
			st.members = append(st.members, savedMember{Name: m.Name, Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())})
		}
	}
	return st, nil
}

// writeStateFile saves orders atomically: a temporary file in the same
// directory, written and synced, renamed over path, then the directory
// synced, so a crash leaves either the old file or the new one.
func writeStateFile(path string, orders map[string]priority.Order, members []savedMember) error {
	f := stateFile{Version: stateFileVersion}
	for _, o := range sortedOrders(orders) {
		f.Orders = append(f.Orders, toFileOrder(o))
	}
	for _, m := range members {
		f.Members = append(f.Members, fileMember{Name: m.Name, Addr: m.Addr.String()})
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o640)
}

// persist writes the current orders and members now. Writers are
// serialised and each takes its snapshot after acquiring the lock, so the
// last write holds the latest state.
func (c *Cluster) persist() error {
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	c.dirty.Store(false)
	c.mu.Lock()
	snap := make(map[string]priority.Order, len(c.orders))
	for k, e := range c.orders {
		snap[k] = e
	}
	members := c.savedMembersLocked()
	c.mu.Unlock()
	if err := writeStateFile(c.stateFile, snap, members); err != nil {
		c.dirty.Store(true)
		c.log.Error("gossip: cannot save the state file", "path", c.stateFile, "err", err)
		return fmt.Errorf("%w %s: %v", ErrPersist, c.stateFile, err)
	}
	return nil
}

// savedMembersLocked lists, sorted by name, the members worth remembering
// across a restart: every other member this node knows that has not left
// on purpose, and the remembered ones it has not met again yet. Called
// with c.mu held.
func (c *Cluster) savedMembersLocked() []savedMember {
	var out []savedMember
	seen := map[string]bool{c.name: true}
	for name, m := range c.members {
		if seen[name] || m.Status == StatusLeft || !m.Addr.IsValid() {
			continue
		}
		seen[name] = true
		out = append(out, savedMember{Name: name, Addr: m.Addr})
	}
	for _, m := range c.remembered {
		if !seen[m.Name] {
			seen[m.Name] = true
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b savedMember) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// persistSoon asks persistLoop to save the state: merges happen on
// memberlist's goroutines, which must not wait for a disk.
func (c *Cluster) persistSoon() {
	c.dirty.Store(true)
	select {
	case c.persistWake <- struct{}{}:
	default:
	}
}

// persistLoop saves the orders when asked, and once more on the way out
// if a change is still unsaved.
func (c *Cluster) persistLoop(done <-chan struct{}) {
	for {
		select {
		case <-done:
			if c.dirty.Load() {
				_ = c.persist()
			}
			return
		case <-c.persistWake:
			if c.dirty.Load() {
				_ = c.persist()
			}
		}
	}
}
