package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vipd/vipd/config"
)

// listenUnix opens the API's unix socket at path with config.APISocketMode.
// A socket file left behind by a process that died is replaced; a live one
// (something accepts connections on it) or anything that is not a socket
// is left alone and reported, so that two agents never steal each other's
// socket and a mistyped path never deletes a file.
func listenUnix(path string) (*net.UnixListener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("API socket directory: %w", err)
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("API socket %s exists and is not a socket (%v): not replacing it", path, st.Mode().Type())
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		switch {
		case err == nil:
			c.Close()
			return nil, fmt.Errorf("API socket %s is in use by another process (another vipd?)", path)
		case errors.Is(err, syscall.ECONNREFUSED):
			// Nobody listens: a stale file from a process that is gone.
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("API socket %s: removing the stale socket: %w", path, err)
			}
		default:
			return nil, fmt.Errorf("API socket %s exists and cannot be checked: %w", path, err)
		}
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("API socket: %w", err)
	}
	// The file is created with the umask's mode; the directory (0750 when
	// created here) keeps others out until the mode is set.
	if err := os.Chmod(path, config.APISocketMode); err != nil {
		l.Close()
		return nil, fmt.Errorf("API socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(true)
	return l, nil
}
