package history

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// Limits of the on-disk log.
const (
	// DefaultMaxSize bounds the log's files together.
	DefaultMaxSize = 16 << 20
	// DefaultMaxAge is how long an event is kept.
	DefaultMaxAge = 30 * 24 * time.Hour
	// MinMaxSize is the smallest size limit accepted.
	MinMaxSize = 64 << 10
	// MinMaxAge is the shortest age limit accepted.
	MinMaxAge = time.Minute
	// segments is how many files the size limit is spread over: the
	// oldest is deleted whole, so at most 1/segments of the limit is
	// given up early.
	segments = 8
)

// Options are the log's limits; zero values take the defaults.
type Options struct {
	// MaxSize bounds the files together, in bytes (DefaultMaxSize).
	MaxSize int64
	// MaxAge is how long events are kept (DefaultMaxAge).
	MaxAge time.Duration
}

// WithDefaults fills in the zero values.
func (o Options) WithDefaults() Options {
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	return o
}

// Validate checks the limits (after WithDefaults).
func (o Options) Validate() error {
	if o.MaxSize < MinMaxSize {
		return fmt.Errorf("max_size %d is below the minimum of %d bytes", o.MaxSize, MinMaxSize)
	}
	if o.MaxAge < MinMaxAge {
		return fmt.Errorf("max_age %v is below the minimum of %v", o.MaxAge, MinMaxAge)
	}
	return nil
}

// segment is one file of the log.
type segment struct {
	path  string
	first uint64 // the seq its name carries: the first one written to it
	size  int64
	mod   time.Time // its last write: no event in it is newer
}

const segPrefix, segSuffix = "events-", ".log"

func segName(first uint64) string { return fmt.Sprintf("%s%020d%s", segPrefix, first, segSuffix) }

// Log is the on-disk part of a node's history: segment files in one
// directory, the newest appended to. It is not safe for concurrent use
// (the Recorder serializes it).
type Log struct {
	dir   string
	opts  Options
	clock clock.Clock
	segs  []segment // oldest first; the last is appended to
	f     *os.File  // the last segment, open for appending
	next  uint64    // the next event's seq
	// Skipped counts the bytes Open found torn or corrupt and left out.
	Skipped int64
}

// Open opens (creating) the log in dir. Torn or corrupt records are
// skipped, and cut off the end of the newest file; only a directory that
// cannot be created or read is an error.
func Open(dir string, opts Options, clk clock.Clock) (*Log, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real()
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	l := &Log{dir: dir, opts: opts, clock: clk, next: 1}
	for _, de := range entries {
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 10, 64)
		if err != nil || first == 0 {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue
		}
		l.segs = append(l.segs, segment{path: filepath.Join(dir, name), first: first, size: info.Size(), mod: info.ModTime()})
	}
	slices.SortFunc(l.segs, func(a, b segment) int { return cmpU(a.first, b.first) })
	// The next seq follows the newest intact event; the newest file's torn
	// tail is cut off so that appends follow intact records.
	for i := len(l.segs) - 1; i >= 0; i-- {
		last, end, err := l.scan(l.segs[i])
		if err != nil {
			continue
		}
		if i == len(l.segs)-1 && end < l.segs[i].size {
			l.Skipped += l.segs[i].size - end
			if os.Truncate(l.segs[i].path, end) == nil {
				l.segs[i].size = end
			} else {
				// Cannot cut it: write to a new file instead.
				l.segs[i].size = l.segSize()
			}
		}
		if last > 0 {
			l.next = last + 1
			break
		}
	}
	if len(l.segs) > 0 {
		l.prune()
	}
	return l, nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// scan reads a segment's records: the last intact event's seq and where
// the intact records end.
func (l *Log) scan(s segment) (last uint64, end int64, err error) {
	b, err := readFile(s.path, l.opts.MaxSize)
	if err != nil {
		return 0, 0, err
	}
	off := 0
	for off < len(b) {
		e, n, ok, err := nextRecord(b[off:])
		if err != nil {
			break
		}
		off += n
		if ok && e.Seq > last {
			last = e.Seq
		}
	}
	return last, int64(off), nil
}

// readFile reads at most limit bytes of a file: a file grown beyond the
// log's limits by someone else is read in part, never whole.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// segSize is the size at which the log starts a new file.
func (l *Log) segSize() int64 { return max(l.opts.MaxSize/segments, MinMaxSize/segments) }

// NextSeq is the seq the next event must carry.
func (l *Log) NextSeq() uint64 { return l.next }

// Append writes events (with consecutive seqs from NextSeq) at the end of
// the log, starting a new file and deleting old ones as the limits say.
func (l *Log) Append(evs []Event) error {
	if len(evs) == 0 {
		return nil
	}
	var buf []byte
	for i := range evs {
		var err error
		if buf, err = appendRecord(buf, &evs[i]); err != nil {
			return err
		}
	}
	now := l.clock.Now()
	if n := len(l.segs); n == 0 || l.segs[n-1].size+int64(len(buf)) > l.segSize() && l.segs[n-1].size > 0 ||
		now.Sub(l.segs[n-1].mod) > l.opts.MaxAge {
		if err := l.rotate(evs[0].Seq); err != nil {
			return err
		}
	}
	if l.f == nil {
		f, err := os.OpenFile(l.segs[len(l.segs)-1].path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("history: %w", err)
		}
		l.f = f
	}
	s := &l.segs[len(l.segs)-1]
	n, err := l.f.Write(buf)
	if err != nil && n > 0 {
		// A torn batch in the middle of a file would hide every later
		// record from the reader: cut it off, or failing that, start a
		// new file next time.
		if l.f.Truncate(s.size) != nil {
			s.size = l.segSize() + int64(n)
		}
		n = 0
	}
	s.size += int64(n)
	s.mod = now
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	l.next = evs[len(evs)-1].Seq + 1
	return nil
}

// rotate starts a new segment whose first event is first, and prunes.
func (l *Log) rotate(first uint64) error {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	path := filepath.Join(l.dir, segName(first))
	if n := len(l.segs); n > 0 && l.segs[n-1].path == path {
		// A segment that was cut to nothing at open keeps its name.
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	l.f = f
	l.segs = append(l.segs, segment{path: path, first: first, mod: l.clock.Now()})
	l.prune()
	return nil
}

// prune deletes the oldest files while the log, with room for the newest
// to grow to its full size, is over MaxSize, and every file but the
// newest whose last write is older than MaxAge.
func (l *Log) prune() {
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	room := l.segSize() - l.segs[len(l.segs)-1].size
	cutoff := l.clock.Now().Add(-l.opts.MaxAge)
	for len(l.segs) > 1 && (total+room > l.opts.MaxSize || l.segs[0].mod.Before(cutoff)) {
		if err := os.Remove(l.segs[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			break
		}
		total -= l.segs[0].size
		l.segs = l.segs[1:]
	}
}

// Read returns the events matching q, oldest first (the newest q.Limit of
// them). Events older than MaxAge are left out even before their file is
// deleted.
func (l *Log) Read(q Query) ([]Event, error) {
	lim := q.limit()
	cutoff := l.clock.Now().Add(-l.opts.MaxAge)
	var out []Event
	var last uint64 // a batch written twice (a retry after an error) is read once
	for _, s := range l.segs {
		if s.mod.Before(cutoff) || !q.Since.IsZero() && s.mod.Before(q.Since) {
			continue // nothing in it is recent enough
		}
		b, err := readFile(s.path, l.opts.MaxSize)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return out, fmt.Errorf("history: %w", err)
		}
		out = appendMatching(out, b, &q, cutoff, lim, &last)
	}
	return out, nil
}

// appendMatching decodes a segment's bytes and appends the events that
// match q and are newer than cutoff, keeping at most lim (the newest).
// last is the highest seq read so far: anything not above it is a
// repeat.
func appendMatching(out []Event, b []byte, q *Query, cutoff time.Time, lim int, last *uint64) []Event {
	for off := 0; off < len(b); {
		e, n, ok, err := nextRecord(b[off:])
		if err != nil {
			break
		}
		off += n
		if !ok || e.Seq <= *last {
			continue
		}
		*last = e.Seq
		if e.Time.Before(cutoff) || !q.Match(&e) {
			continue
		}
		out = append(out, e)
		if len(out) > 2*lim {
			out = append(out[:0], out[len(out)-lim:]...)
		}
	}
	if len(out) > lim {
		out = append(out[:0], out[len(out)-lim:]...)
	}
	return out
}

// Close closes the file being appended to.
func (l *Log) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
