package priority

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vipd/vipd/internal/clock"
)

// DefaultRereadInterval is how often a Watcher reads its order file when
// nothing told it to: the safety re-read, for filesystems whose changes the
// kernel does not report (NFS edited from another host, some FUSE
// filesystems) and for a link replaced somewhere up its path. The
// kernel's notifications bring every other edit within settleDelay.
const DefaultRereadInterval = 5 * time.Second

// DefaultPollInterval is how often a Watcher looks at its order file when
// the kernel's file notifications are not available (another system, or
// the inotify limits reached): with a full read every verifyEvery polls an
// edit is then seen within a second whatever the filesystem.
const DefaultPollInterval = 250 * time.Millisecond

// verifyEvery forces a full read every that many polls even when stat shows
// nothing new: a same-size rewrite in place within the filesystem's
// timestamp granularity (coarse on NFS, FAT, some kernels) changes no stat
// field.
const verifyEvery = 3

// settleDelay is how long a Watcher waits after the last notification
// before it reads, so that it reads a file written in several steps
// (truncated, then written, then closed) once, complete; maxSettle bounds
// the wait for a writer that never stops.
const (
	settleDelay = 100 * time.Millisecond
	maxSettle   = time.Second
)

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
	// ProblemUnknownNode. It is asked at every read, the safety re-reads
	// included, so a change in the set is reported (Update.Recheck)
	// within Interval even when the file stays the same. A nil result
	// means no set to compare with: nothing is reported. It is called
	// from Run's goroutine and must not block.
	Known func() []string
	// Clock drives the re-reads and the settling; nil means clock.Real().
	Clock clock.Clock
	// Timers, if set, paces the safety re-reads instead of Clock's
	// timers: the Scheduler the VRRP instances share, on the same clock,
	// so that a re-read rides a wake-up it makes anyway (an advert)
	// instead of costing one of its own.
	Timers *clock.Scheduler
	// Interval is the time between safety re-reads; 0 means
	// DefaultRereadInterval. Without file notifications the Watcher
	// polls every DefaultPollInterval instead (or Interval, if shorter).
	Interval time.Duration
	// Logger gets a warning when the file cannot be followed through the
	// kernel's notifications; nil discards it.
	Logger *slog.Logger
	// OnUpdate is called from Run's goroutine with the first list and
	// after every change of the file's content or readability. It must
	// not block: hand the update over (to a channel with room, or under a
	// short lock) and return.
	OnUpdate func(Update)

	// changes replaces openChanges (tests: file notifications inside a
	// testing/synctest bubble, where a goroutine waiting on the kernel
	// would never let the bubble's time move).
	changes func(path string) (changeSource, error)
}

// Watcher follows an order file through the kernel's file notifications
// (inotify) on the file and on its directory, so that an edit in place, an
// editor's or configuration tool's rename of a new file over it, its
// deletion and its creation are each read once, about settleDelay after
// the last write; a slow safety re-read (Interval) catches what the
// kernel does not report. Without notifications it polls. Run is its only
// goroutine (the notifications' reader is shared by every Watcher of the
// process and stops with the last).
type Watcher struct {
	cfg WatcherConfig
}

// changeSource tells a Watcher that its file may have changed.
type changeSource interface {
	// changes delivers a value after something happened to the file or
	// its directory entry; several events may deliver one value.
	changes() <-chan struct{}
	// rearm follows the file the path names now (a new inode after a
	// rename over it); the Watcher calls it before every read, so that
	// nothing written after the read goes unnoticed.
	rearm()
	// close ends the notifications.
	close()
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
		cfg.Interval = DefaultRereadInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.changes == nil {
		cfg.changes = openChanges
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

// pollState is what Run remembers between reads.
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

// Run publishes the first list, then follows the file until ctx is done,
// and returns nil. For a static list it publishes once, and then only
// rechecks the list against the known nodes (Known) at each Interval.
func (w *Watcher) Run(ctx context.Context) error {
	var st pollState
	var src changeSource
	gap := w.cfg.Interval
	if w.cfg.Path == "" {
		l, problems := FromConfig(w.cfg.Nodes)
		st.last, st.parsed = &l, problems
		w.publish(&st, false)
		if w.cfg.Known == nil {
			<-ctx.Done()
			return nil
		}
	} else {
		var err error
		if src, err = w.cfg.changes(w.cfg.Path); err != nil {
			gap = min(gap, DefaultPollInterval)
			w.cfg.Logger.Warn("order file not followed through file notifications: polling it", "file", w.cfg.Path, "every", gap, "err", err)
			src = nil
		} else {
			defer src.close()
			src.rearm()
		}
		w.poll(&st, src != nil)
	}

	pace := clock.NewPacer(w.cfg.Clock, w.cfg.Timers)
	defer pace.Close()
	var changes <-chan struct{}
	if src != nil {
		changes = src.changes()
	}
	settle := clock.NewPacer(w.cfg.Clock, nil)
	defer settle.Close()
	pending := false           // a notification not read yet
	var pendingSince time.Time // the first such
	for {
		if !pending {
			at := w.cfg.Clock.Now().Add(gap)
			early := at
			if src != nil || w.cfg.Path == "" {
				// A safety re-read (or a static list's recheck) may come
				// early, in the last quarter of its gap, with another
				// alarm's wake-up; polling keeps its time.
				early = at.Add(-gap / 4)
			}
			pace.Set(early, at)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-pace.TimerC():
		case <-pace.Due():
		case <-settle.TimerC():
		case <-changes:
			// Read once the writes have stopped for settleDelay, or
			// maxSettle after the first; the safety re-read stays set.
			now := w.cfg.Clock.Now()
			if !pending {
				pending, pendingSince = true, now
			}
			at := now.Add(min(settleDelay, pendingSince.Add(maxSettle).Sub(now)))
			settle.Set(at, at)
			continue
		}
		pending = false
		settle.Cancel()
		if src != nil {
			src.rearm()
		}
		if w.cfg.Path == "" {
			w.recheck(&st)
		} else {
			w.poll(&st, src != nil)
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

// poll looks at the file once and publishes what changed. Unless full, it
// reads the file only when stat shows a change, or every verifyEvery
// polls (polling without notifications).
func (w *Watcher) poll(st *pollState, full bool) {
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
	if !full && st.haveSig && sig == st.sig && st.errText == "" && st.polls%verifyEvery != 0 {
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
