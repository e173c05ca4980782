package checks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pollSlice bounds one wait for a file to become readable, so that a
// cancelled context (which has no deadline to wait for) is noticed soon.
const pollSlice = 100 * time.Millisecond

// readOnce reads at most max bytes of path with a single read, without
// ever blocking past ctx: the file is opened non-blocking (opening a FIFO
// nobody writes would otherwise wait for a writer forever), and a read
// that would block (a FIFO whose writer has written nothing yet) waits
// for data only until ctx is done, then fails with an error wrapping
// ErrTimeout (or ctx's error when cancelled). A FIFO without a writer
// reads as empty. It returns an error wrapping os.ErrNotExist and the
// like for a missing or unreadable file.
func readOnce(ctx context.Context, path string, max int) ([]byte, error) {
	if ctx.Err() != nil {
		return nil, probeErr(ctx, nil)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	buf := make([]byte, max)
	for {
		n, err := unix.Read(fd, buf)
		if err == nil {
			return buf[:max0(n)], nil
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if !errors.Is(err, unix.EAGAIN) {
			return nil, &os.PathError{Op: "read", Path: path, Err: err}
		}
		if err := waitReadable(ctx, fd); err != nil {
			return nil, fmt.Errorf("%s: no data: %w", path, err)
		}
	}
}

func max0(n int) int { return max(n, 0) }

// waitReadable polls fd until it is readable (or hung up), or ctx is done.
func waitReadable(ctx context.Context, fd int) error {
	for {
		if ctx.Err() != nil {
			return probeErr(ctx, nil)
		}
		wait := pollSlice
		if dl, ok := ctx.Deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		ms := int(wait.Milliseconds())
		if wait > 0 && ms == 0 {
			ms = 1
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, max0(ms))
		if err != nil && !errors.Is(err, unix.EINTR) {
			return err
		}
		if n > 0 && fds[0].Revents != 0 {
			return nil
		}
	}
}
