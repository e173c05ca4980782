package config

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// system is what loading needs to know about the machine for scripts: who
// vipd runs as, which users and groups exist, and the owner and mode of
// files. Tests replace it (LoadOptions.sys) so that they do not depend on
// the machine.
type system interface {
	// ids returns the effective user and group ids of this process.
	ids() (uid, gid uint32)
	// lookupUser returns a user's id and primary group id.
	lookupUser(name string) (uid, gid uint32, err error)
	// lookupGroup returns a group's id.
	lookupGroup(name string) (gid uint32, err error)
	// lstat describes a file without following a final symbolic link.
	lstat(path string) (fileMeta, error)
	// stat describes a file, following symbolic links.
	stat(path string) (fileMeta, error)
	// realPath returns the absolute path with every symbolic link resolved
	// (realpath(3)).
	realPath(path string) (string, error)
	// getenv returns an environment variable (PATH).
	getenv(key string) string
}

// fileMeta is what script security looks at in a file's metadata.
type fileMeta struct {
	mode     fs.FileMode
	uid, gid uint32
}

// errUnknownName reports a user or group that does not exist.
var errUnknownName = errors.New("does not exist")

// osSystem is the real machine.
type osSystem struct{}

func (osSystem) ids() (uint32, uint32) { return uint32(os.Geteuid()), uint32(os.Getegid()) }

func (osSystem) lookupUser(name string) (uint32, uint32, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return 0, 0, errUnknownName
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

func (osSystem) lookupGroup(name string) (uint32, error) {
	g, err := user.LookupGroup(name)
	if err != nil {
		var unknown user.UnknownGroupError
		if errors.As(err, &unknown) {
			return 0, errUnknownName
		}
		return 0, err
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, errors.New("has no numeric gid")
	}
	return uint32(gid), nil
}

func (osSystem) lstat(path string) (fileMeta, error) {
	st, err := os.Lstat(path)
	if err != nil {
		return fileMeta{}, err
	}
	return metaOf(st), nil
}

func (osSystem) stat(path string) (fileMeta, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileMeta{}, err
	}
	return metaOf(st), nil
}

func (osSystem) realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

func (osSystem) getenv(key string) string { return os.Getenv(key) }
