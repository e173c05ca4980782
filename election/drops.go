package election

import (
	"sync"

	"github.com/vipd/vipd/election/vrrp"
)

// DropCounter counts discarded packets by reason. The zero value is ready;
// it is safe for concurrent use.
type DropCounter struct {
	mu sync.Mutex
	m  map[vrrp.DropReason]uint64
}

// Add counts one drop.
func (d *DropCounter) Add(r vrrp.DropReason) {
	d.mu.Lock()
	if d.m == nil {
		d.m = map[vrrp.DropReason]uint64{}
	}
	d.m[r]++
	d.mu.Unlock()
}

// Get returns the count for one reason.
func (d *DropCounter) Get(r vrrp.DropReason) uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[r]
}

// Snapshot returns a copy of all non-zero counts.
func (d *DropCounter) Snapshot() map[vrrp.DropReason]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[vrrp.DropReason]uint64, len(d.m))
	for k, v := range d.m {
		out[k] = v
	}
	return out
}
