package gossip

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateFileVersion is the version of the state file's JSON.
const stateFileVersion = 1

// stateFile is the JSON saved in config.Gossip.StateFile: the orders, so
// a restarted node keeps the latest order even if it starts alone.
type stateFile struct {
	Version int          `json:"version"`
	Orders  []OrderEntry `json:"orders"`
}

// readStateFile loads the orders saved at path. A missing file is an
// empty state (first start); anything unreadable or corrupt is an error,
// since starting empty would silently forget an order.
func readStateFile(path string) (map[string]OrderEntry, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]OrderEntry{}, nil
	}
	if err != nil {
		return nil, &StateFileError{Path: path, Err: err}
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, &StateFileError{Path: path, Err: err}
	}
	if f.Version != stateFileVersion {
		return nil, &StateFileError{Path: path, Err: fmt.Errorf("version %d, want %d", f.Version, stateFileVersion)}
	}
	orders := make(map[string]OrderEntry, len(f.Orders))
	for _, e := range f.Orders {
		if err := validateOrder(e); err != nil {
			return nil, &StateFileError{Path: path, Err: err}
		}
		if _, dup := orders[e.Instance]; dup {
			return nil, &StateFileError{Path: path, Err: fmt.Errorf("two orders for %q", e.Instance)}
		}
		orders[e.Instance] = e
	}
	return orders, nil
}

// writeStateFile saves orders atomically: a temporary file in the same
// directory, written and synced, renamed over path, then the directory
// synced, so a crash leaves either the old file or the new one.
func writeStateFile(path string, orders map[string]OrderEntry) (err error) {
	b, err := json.MarshalIndent(stateFile{Version: stateFileVersion, Orders: sortedOrders(orders)}, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return err
	}
	if err = tmp.Chmod(0o640); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// persist writes the current orders now. Writers are serialised and each
// takes its snapshot after acquiring the lock, so the last write holds the
// latest orders.
func (c *Cluster) persist() error {
	c.persistMu.Lock()
	defer c.persistMu.Unlock()
	c.dirty.Store(false)
	c.mu.Lock()
	snap := make(map[string]OrderEntry, len(c.orders))
	for k, e := range c.orders {
		snap[k] = e
	}
	c.mu.Unlock()
	if err := writeStateFile(c.stateFile, snap); err != nil {
		c.dirty.Store(true)
		c.log.Error("gossip: cannot save orders", "path", c.stateFile, "err", err)
		return fmt.Errorf("%w %s: %v", ErrPersist, c.stateFile, err)
	}
	return nil
}

// persistSoon asks persistLoop to save the orders: merges happen on
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
