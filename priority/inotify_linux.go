//go:build linux

package priority

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// watchMask is what an order file's watches ask the kernel for. Every
// watch uses the same mask: one inotify instance serves every Watcher of
// the process, and two Watchers may watch the same inode (the directory
// of two order files, say), which the kernel gives one watch descriptor.
// A directory's events name the entry (an editor's rename over the file,
// a creation, a deletion); the file's own follow a symbolic link to its
// target, so a file reached through a link (configuration management,
// Kubernetes' config maps) is followed too.
const watchMask = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB |
	unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF

// notifier is the process's one inotify instance and the goroutine that
// reads it. The first subscriber opens it and the last one's close closes
// it and waits for the goroutine, so it needs no owner of its own (a
// hundred order files cost one descriptor, not a hundred of the 128 a user
// may have by default).
type notifier struct {
	f    *os.File // non-blocking: a read waits in the runtime's poller, without a thread
	fd   int
	done chan struct{} // closed when the reading goroutine has ended
	dead atomic.Bool   // its reading failed: new subscribers get a new one

	mu    sync.Mutex
	users int
	refs  map[int32]int // watch descriptor → subscriptions using it
	subs  map[*inotifySub]struct{}
}

var (
	notifierMu sync.Mutex
	shared     *notifier // nil while nobody subscribes
)

// inotifySub is one Watcher's subscription: its file and the directory
// holding it.
type inotifySub struct {
	n          *notifier
	path, dir  string
	base       string
	c          chan struct{}
	dirWd, fWd int32 // -1: not watched (yet)
}

// openChanges subscribes to the changes of path's file and directory.
func openChanges(path string) (changeSource, error) {
	notifierMu.Lock()
	defer notifierMu.Unlock()
	if shared == nil || shared.dead.Load() {
		n, err := openNotifier()
		if err != nil {
			return nil, err
		}
		shared = n
	}
	n := shared
	s := &inotifySub{n: n, path: path, dir: filepath.Dir(path), base: filepath.Base(path), c: make(chan struct{}, 1), dirWd: -1, fWd: -1}
	n.mu.Lock()
	n.users++
	n.subs[s] = struct{}{}
	n.mu.Unlock()
	return s, nil
}

func openNotifier() (*notifier, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("inotify_init1", err)
	}
	n := &notifier{f: os.NewFile(uintptr(fd), "inotify"), fd: fd, done: make(chan struct{}), refs: map[int32]int{}, subs: map[*inotifySub]struct{}{}}
	go n.read()
	return n, nil
}

// read hands each event to the subscriptions it concerns until the file is
// closed.
func (n *notifier) read() {
	defer close(n.done)
	buf := make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		k, err := n.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// Not expected of an inotify descriptor; say "something may
			// have changed" to everyone rather than spin, and leave the
			// subscribers to their safety re-reads (new ones get a new
			// notifier).
			n.dead.Store(true)
			n.broadcast()
			return
		}
		n.route(buf[:k])
	}
}

// route parses a read's events, each a header and a name padded with NULs.
func (n *notifier) route(b []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for len(b) >= unix.SizeofInotifyEvent {
		// struct inotify_event: wd, mask, cookie, len, then len bytes of name.
		wd := int32(binary.NativeEndian.Uint32(b[0:]))
		mask := binary.NativeEndian.Uint32(b[4:])
		end := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(b[12:]))
		if end > len(b) {
			return
		}
		name := b[unix.SizeofInotifyEvent:end]
		for k, c := range name {
			if c == 0 {
				name = name[:k]
				break
			}
		}
		b = b[end:]
		if mask&unix.IN_Q_OVERFLOW != 0 {
			// Events were lost: every file may have changed.
			for s := range n.subs {
				s.signal()
			}
			continue
		}
		if mask&unix.IN_IGNORED != 0 {
			// The kernel dropped the watch (its inode is gone): the
			// subscriptions add their files' new inodes at their next
			// rearm, which this signal brings about.
			delete(n.refs, wd)
		}
		for s := range n.subs {
			switch {
			case len(name) > 0:
				if wd == s.dirWd && string(name) == s.base {
					s.signal()
				}
			case wd == s.fWd || wd == s.dirWd:
				s.signal()
			}
		}
	}
}

func (n *notifier) broadcast() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.subs {
		s.signal()
	}
}

func (s *inotifySub) signal() {
	select {
	case s.c <- struct{}{}:
	default:
	}
}

func (s *inotifySub) changes() <-chan struct{} { return s.c }

// rearm watches the directory and the file the path names now: after a
// rename over the file or a link that points elsewhere, a new inode. A
// path that does not exist yet is watched through its directory, and its
// file from the first read that finds it.
func (s *inotifySub) rearm() {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	s.dirWd = n.swap(s.dirWd, s.dir)
	s.fWd = n.swap(s.fWd, s.path)
}

// swap watches path and drops the subscription's reference to old when
// that is another watch; it returns the new descriptor, -1 if none. n.mu
// is held.
func (n *notifier) swap(old int32, path string) int32 {
	wd, err := unix.InotifyAddWatch(n.fd, path, watchMask)
	nw := int32(wd)
	if err != nil {
		nw = -1
	}
	if nw == old {
		return old
	}
	n.unref(old)
	if nw >= 0 {
		n.refs[nw]++
	}
	return nw
}

// unref drops a reference to wd and removes the watch with the last one.
// n.mu is held.
func (n *notifier) unref(wd int32) {
	if wd < 0 {
		return
	}
	c, ok := n.refs[wd]
	if !ok {
		return // the kernel dropped it already (IN_IGNORED)
	}
	if c > 1 {
		n.refs[wd] = c - 1
		return
	}
	delete(n.refs, wd)
	_, _ = unix.InotifyRmWatch(n.fd, uint32(wd))
}

// close ends the subscription; the last one closes the notifier and waits
// for its goroutine.
func (s *inotifySub) close() {
	n := s.n
	notifierMu.Lock()
	n.mu.Lock()
	n.unref(s.dirWd)
	n.unref(s.fWd)
	s.dirWd, s.fWd = -1, -1
	delete(n.subs, s)
	n.users--
	last := n.users == 0
	n.mu.Unlock()
	if last && shared == n {
		shared = nil
	}
	notifierMu.Unlock()
	if last {
		_ = n.f.Close() // the reader's Read returns ErrClosed
		<-n.done
	}
}
