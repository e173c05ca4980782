package priority

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// DefaultPollInterval is how often a Watcher looks at its order file. With
// the periodic full read (every verifyEvery polls) an edit is seen within
// a second whatever the filesystem.
const DefaultPollInterval = 250 * time.Millisecond

// verifyEvery forces a full read every that many polls even when stat shows
// nothing new: a same-size rewrite in place within the filesystem's
// timestamp granularity (coarse on NFS, FAT, some kernels) changes no stat
// field.
const verifyEvery = 3

// MaxOrderFileSize bounds what is read from an order file; a larger file is
// reported unreadable, so a mistaken path (a log, a device) cannot eat
// memory.
const MaxOrderFileSize = 1 << 20

// Update is what a Watcher publishes.
type Update struct {
	// Order is the order in force: the newest good read of the file, or the
	// static list. It is nil until the file has been read once.
	Order *Order
	// Problems are those of Order (ParseOrder's, and this node missing), or
	// a single ProblemUnreadable when Err is set.
	Problems []Problem
	// Err is set when the file could not be read; Order is then the last
	// good one (or nil).
	Err error
	// Recheck marks an update published only because the known nodes
	// changed (WatcherConfig.Known): Order is the one already published,
	// and Problems its problems against the new set.
	Recheck bool
}

// WatcherConfig configures a Watcher.
type WatcherConfig struct {
	// Path is the order file to watch. When empty the Watcher serves the
	// static list Nodes (an order given inline in the configuration).
	Path string
	// Nodes is the inline order, used when Path is empty.
	Nodes []string
	// Node is this node's name, to report when it is not in the order.
	Node string
	// Known, if set, returns the names of the nodes that exist (the
	// gossip members, say): listed names outside it are reported as
	// ProblemUnknownNode. It is asked at every poll, so a change in the
	// set is reported (Update.Recheck) even when the file stays the same.
	// A nil result means no set to compare with: nothing is reported.
	// It is called from Run's goroutine and must not block.
	Known func() []string
	// Clock drives polling; nil means clock.Real().
	Clock clock.Clock
	// Interval is the time between polls; 0 means DefaultPollInterval.
	Interval time.Duration
	// OnUpdate is called from Run's goroutine with the first list and
	// after every change of the file's content or readability. It must
	// not block: hand the update over (to a channel with room, or under a
	// short lock) and return.
	OnUpdate func(Update)
}

// Watcher follows an order file by polling it, so that editors that
// replace a file by renaming a new one over it, and files on any
// filesystem, are seen (inotify would lose the first and miss some of the
// second). Run is its only goroutine.
type Watcher struct {
	cfg WatcherConfig
}

// ErrNoCallback is returned by NewWatcher when WatcherConfig.OnUpdate is nil.
var ErrNoCallback = errors.New("priority: watcher needs an OnUpdate callback")

// NewWatcher checks cfg and returns a Watcher; Run starts it.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if cfg.OnUpdate == nil {
		return nil, ErrNoCallback
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("priority: watcher interval %v is negative", cfg.Interval)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultPollInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	return &Watcher{cfg: cfg}, nil
}

// fileSig is what stat tells about the file; a change means read it again.
type fileSig struct {
	size       int64
	mtime      int64 // ns since the epoch; time.Time does not compare with ==
	dev, inode uint64
}

func sigOf(fi os.FileInfo) fileSig {
	s := fileSig{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.inode = uint64(st.Dev), uint64(st.Ino)
	}
	return s
}

// pollState is what Run remembers between polls.
type pollState struct {
	sig       fileSig
	haveSig   bool
	sum       [sha256.Size]byte
	last      *Order    // last good list
	parsed    []Problem // ParseOrder's problems of last
	unknown   string    // the unknown names last published, joined
	errText   string    // error last published, "" if none
	published bool
	polls     int
}

// Run publishes the first list, then polls the file until ctx is done, and
// returns nil. For a static list it publishes once and waits for ctx.
func (w *Watcher) Run(ctx context.Context) error {
	var st pollState
	poll := w.poll
	if w.cfg.Path == "" {
		l, problems := FromConfig(w.cfg.Nodes)
		st.last, st.parsed = &l, problems
		w.publish(&st, false)
		if w.cfg.Known == nil {
			<-ctx.Done()
			return nil
		}
		// Only the known nodes can change.
		poll = func(st *pollState) { w.recheck(st) }
	} else {
		w.poll(&st)
	}
	t := w.cfg.Clock.NewTimer(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			poll(&st)
			t.Reset(w.cfg.Interval)
		}
	}
}

// known returns the set to validate names against, nil for none.
func (w *Watcher) known() []string {
	if w.cfg.Known == nil {
		return nil
	}
	return w.cfg.Known()
}

// publish sends st.last with its problems against the known nodes now.
func (w *Watcher) publish(st *pollState, recheck bool) {
	problems := append(slices.Clip(st.parsed), st.last.Validate(w.cfg.Node, w.known())...)
	st.unknown = unknownKey(problems)
	w.cfg.OnUpdate(Update{Order: st.last, Problems: problems, Recheck: recheck})
}

// recheck publishes st.last again when the names it lists that are not
// known nodes changed since the last update.
func (w *Watcher) recheck(st *pollState) {
	if w.cfg.Known == nil || st.last == nil || st.errText != "" {
		return
	}
	if unknownKey(st.last.Validate("", w.known())) != st.unknown {
		w.publish(st, true)
	}
}

// unknownKey identifies the set of unknown names among problems.
func unknownKey(problems []Problem) string {
	var names []string
	for _, p := range problems {
		if p.Kind == ProblemUnknownNode {
			names = append(names, strings.ToLower(p.Name))
		}
	}
	slices.Sort(names)
	return strings.Join(names, "\x00")
}

// poll looks at the file once and publishes what changed.
func (w *Watcher) poll(st *pollState) {
	st.polls++
	fi, err := os.Stat(w.cfg.Path)
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("priority: order file %s is not a regular file", w.cfg.Path)
	}
	if err != nil {
		w.fail(st, err)
		return
	}
	sig := sigOf(fi)
	if st.haveSig && sig == st.sig && st.errText == "" && st.polls%verifyEvery != 0 {
		w.recheck(st)
		return
	}
	data, err := readLimited(w.cfg.Path)
	if err != nil {
		w.fail(st, err)
		return
	}
	st.sig, st.haveSig = sig, true
	sum := sha256.Sum256(data)
	if st.published && st.errText == "" && sum == st.sum {
		w.recheck(st) // touched or rewritten with the same content
		return
	}
	l, problems := ParseOrder(w.cfg.Path, data)
	st.sum, st.last, st.parsed, st.errText, st.published = sum, &l, problems, "", true
	w.publish(st, false)
}

// fail publishes a read error once (until it changes or clears), keeping
// the last good list in force.
func (w *Watcher) fail(st *pollState, err error) {
	st.haveSig = false
	if st.published && err.Error() == st.errText {
		return
	}
	st.errText, st.published = err.Error(), true
	w.cfg.OnUpdate(Update{
		Order: st.last,
		Err:   err,
		Problems: []Problem{{
			Kind: ProblemUnreadable, Source: w.cfg.Path,
			Msg: "cannot read order file, keeping the last good order: " + err.Error(),
		}},
	})
}

// readLimited reads at most MaxOrderFileSize bytes of path and fails if
// there are more.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxOrderFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxOrderFileSize {
		return nil, fmt.Errorf("priority: order file %s is larger than %d bytes", path, MaxOrderFileSize)
	}
	return data, nil
}
