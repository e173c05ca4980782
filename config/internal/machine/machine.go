// Package machine is what loading a configuration asks about this
// machine for its scripts: who vipd runs as, which users and groups
// exist, and the owner and mode of files. config and its front ends take
// a System (config.LoadOptions.System) so that their tests can hand them
// a made-up machine (Fake) instead of depending on the one they run on.
package machine

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// System answers the questions script checks ask. Implementations need
// not be safe for concurrent use: one load asks from one goroutine.
type System interface {
	// IDs returns the effective user and group ids of this process.
	IDs() (uid, gid uint32)
	// LookupUser returns a user's id and primary group id.
	LookupUser(name string) (uid, gid uint32, err error)
	// LookupGroup returns a group's id.
	LookupGroup(name string) (gid uint32, err error)
	// Lstat describes a file without following a final symbolic link.
	Lstat(path string) (FileMeta, error)
	// Stat describes a file, following symbolic links.
	Stat(path string) (FileMeta, error)
	// RealPath returns the absolute path with every symbolic link resolved
	// (realpath(3)).
	RealPath(path string) (string, error)
	// Getenv returns an environment variable (PATH).
	Getenv(key string) string
}

// FileMeta is what script security looks at in a file's metadata.
type FileMeta struct {
	// Mode is the file's type and permission bits.
	Mode fs.FileMode
	// UID and GID own the file.
	UID, GID uint32
}

// ErrUnknownName reports a user or group that does not exist.
var ErrUnknownName = errors.New("does not exist")

// OS is the real machine.
type OS struct{}

var _ System = OS{}

// IDs returns the process's effective ids.
func (OS) IDs() (uint32, uint32) { return uint32(os.Geteuid()), uint32(os.Getegid()) }

// LookupUser asks the user database.
func (OS) LookupUser(name string) (uint32, uint32, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return 0, 0, ErrUnknownName
		}
		return 0, 0, err
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, errors.New("has no numeric uid/gid")
	}
	return uint32(uid), uint32(gid), nil
}

// LookupGroup asks the group database.
func (OS) LookupGroup(name string) (uint32, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			return 0, ErrUnknownName
		}
		return 0, err
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, errors.New("has no numeric gid")
	}
	return uint32(gid), nil
}

// Lstat describes path itself.
func (OS) Lstat(path string) (FileMeta, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return FileMeta{}, err
	}
	return metaOf(st), nil
}

// Stat describes what path leads to.
func (OS) Stat(path string) (FileMeta, error) {
	st, err := os.Stat(path)
	if err != nil {
		return FileMeta{}, err
	}
	return metaOf(st), nil
}

// RealPath resolves path as realpath(3) does.
func (OS) RealPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// Getenv reads this process's environment.
func (OS) Getenv(key string) string { return os.Getenv(key) }
