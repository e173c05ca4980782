package history

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/vipd/vipd/internal/clock"
)

// memoryEvents bounds the events kept in memory: those not yet written
// (the disk is slow or failing), or, without a log, the history itself.
const memoryEvents = 4096

// Recorder is one node's history. Record takes an event in memory and
// returns at once, whatever the disk does, so an instance's transition
// never waits on it; Run, the writer, appends to the Log. Query reads
// both. Safe for concurrent use.
type Recorder struct {
	node  string
	clock clock.Clock
	log   *slog.Logger
	disk  *Log // nil: memory only

	io sync.Mutex // serializes disk writes and reads

	mu      sync.Mutex
	seq     uint64  // the last seq given out
	mem     []Event // oldest first: unwritten events, or (no disk) the history
	wake    chan struct{}
	dropped atomic.Uint64
}

// NewRecorder returns the history of node; disk, if not nil, is where Run
// writes it (and the Recorder owns it from now on).
func NewRecorder(node string, disk *Log, clk clock.Clock, log *slog.Logger) *Recorder {
	if clk == nil {
		clk = clock.Real()
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Recorder{node: node, clock: clk, log: log, disk: disk, wake: make(chan struct{}, 1)}
	if disk != nil {
		r.seq = disk.NextSeq() - 1
	}
	return r
}

// Node is the node whose history this is.
func (r *Recorder) Node() string { return r.node }

// Dropped counts the events lost because the writer fell more than
// memoryEvents behind (or, without a disk, the oldest forgotten).
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Record stamps e with this node, its next seq and (if unset) the time,
// keeps it, and returns it as kept. It never blocks on the disk.
func (r *Recorder) Record(e Event) Event {
	e.Node = r.node
	if e.Time.IsZero() {
		e.Time = r.clock.Now()
	}
	e.clip()
	r.mu.Lock()
	r.seq++
	e.Seq = r.seq
	if len(r.mem) >= memoryEvents {
		// Unwritten events are lost oldest first: the log shows the gap
		// in seq. Re-slicing, not copying: O(1) here, append's
		// occasional reallocation pays for it.
		r.mem = r.mem[1:]
		if r.disk != nil {
			r.dropped.Add(1)
		}
	}
	r.mem = append(r.mem, e)
	r.mu.Unlock()
	if r.disk != nil {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return e
}

// Run writes recorded events to the disk until ctx ends, then writes what
// is left and closes the log. Without a disk it returns at once.
func (r *Recorder) Run(ctx context.Context) {
	if r.disk == nil {
		return
	}
	defer func() {
		r.flush()
		r.io.Lock()
		r.disk.Close()
		r.io.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
			r.flush()
		}
	}
}

// flush appends every unwritten event. It takes the queue whole (a swap:
// Record never waits for a copy), and puts it back in front of newer
// events if the write fails. A Query runs under r.io too, so it never
// sees a batch in flight: the events are in memory or on disk.
func (r *Recorder) flush() {
	r.io.Lock()
	defer r.io.Unlock()
	r.mu.Lock()
	batch := r.mem
	r.mem = nil
	r.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := r.disk.Append(batch); err != nil {
		// Kept in memory (bounded): the next event tries again.
		r.log.Warn("history: cannot write events", "err", err, "pending", len(batch))
		r.mu.Lock()
		r.mem = append(batch, r.mem...)
		if n := len(r.mem) - memoryEvents; n > 0 {
			r.mem = r.mem[n:]
			r.dropped.Add(uint64(n))
		}
		r.mu.Unlock()
	}
}

// Query returns this node's events matching q, oldest first.
func (r *Recorder) Query(q Query) ([]Event, error) {
	if q.Node != "" && q.Node != r.node {
		return nil, nil
	}
	var out []Event
	var err error
	r.io.Lock()
	defer r.io.Unlock()
	if r.disk != nil {
		out, err = r.disk.Read(q)
	}
	r.mu.Lock()
	for i := range r.mem {
		if q.Match(&r.mem[i]) {
			out = append(out, r.mem[i])
		}
	}
	r.mu.Unlock()
	if lim := q.limit(); len(out) > lim {
		out = out[len(out)-lim:]
	}
	return out, err
}
