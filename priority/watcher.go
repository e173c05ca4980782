package priority

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
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
	// List is the order in force: the newest good read of the file, or the
	// static list. It is nil until the file has been read once.
	List *List
	// Problems are those of List (ParseList's, and this node missing), or
	// a single ProblemUnreadable when Err is set.
	Problems []Problem
	// Err is set when the file could not be read; List is then the last
	// good one (or nil).
	Err error
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
	last      *List  // last good list
	errText   string // error last published, "" if none
	published bool
	polls     int
}

// Run publishes the first list, then polls the file until ctx is done, and
// returns nil. For a static list it publishes once and waits for ctx.
func (w *Watcher) Run(ctx context.Context) error {
	if w.cfg.Path == "" {
		l, problems := FromConfig(w.cfg.Nodes)
		problems = append(problems, l.Validate(w.cfg.Node, nil)...)
		w.cfg.OnUpdate(Update{List: &l, Problems: problems})
		<-ctx.Done()
		return nil
	}
	var st pollState
	w.poll(&st)
	t := w.cfg.Clock.NewTimer(w.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			w.poll(&st)
			t.Reset(w.cfg.Interval)
		}
	}
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
		return // touched or rewritten with the same content
	}
	l, problems := ParseList(w.cfg.Path, data)
	problems = append(problems, l.Validate(w.cfg.Node, nil)...)
	st.sum, st.last, st.errText, st.published = sum, &l, "", true
	w.cfg.OnUpdate(Update{List: &l, Problems: problems})
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
		List: st.last,
		Err:  err,
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
