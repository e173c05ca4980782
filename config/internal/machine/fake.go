package machine

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// Fake is a machine for tests of script checks: users, groups and a file
// tree given by the test, nothing read from the real one.
type Fake struct {
	// UID and GID are who vipd runs as.
	UID, GID uint32
	// Users maps a user name to its uid and primary gid.
	Users map[string][2]uint32
	// Groups maps a group name to its gid.
	Groups map[string]uint32
	// Files maps an absolute path to its metadata; directories too.
	Files map[string]FileMeta
	// Links maps the path of a symbolic link to its absolute target.
	Links map[string]string
	// Path is the PATH environment variable.
	Path string
}

var _ System = (*Fake)(nil)

const (
	// DirMode is the mode of the fake's root-owned directories.
	DirMode = fs.ModeDir | 0o755
	// ExecMode is the mode of its root-owned programs and scripts.
	ExecMode = fs.FileMode(0o755)
)

// NewFake returns a machine where vipd runs as uid/gid, with users
// root, nobody and bob (1000), and a root-owned tree holding the programs
// and scripts the tests use.
func NewFake(uid, gid uint32) *Fake {
	s := &Fake{
		UID: uid, GID: gid,
		Users:  map[string][2]uint32{"root": {0, 0}, "nobody": {65534, 65534}, "bob": {1000, 1000}},
		Groups: map[string]uint32{"root": 0, "nogroup": 65534, "bob": 1000, "staff": 50},
		Files:  map[string]FileMeta{},
		Links:  map[string]string{},
		Path:   "/usr/local/bin:/usr/bin:/bin",
	}
	for _, d := range []string{"/", "/usr", "/usr/bin", "/usr/local", "/usr/local/bin", "/etc", "/etc/vipd",
		"/etc/keepalived", "/run", "/run/vipd"} {
		s.Files[d] = FileMeta{Mode: DirMode}
	}
	for _, f := range []string{"/usr/bin/true", "/usr/bin/sh", "/usr/bin/dig", "/usr/bin/killall",
		"/etc/vipd/notify.sh", "/etc/keepalived/notify.sh", "/etc/keepalived/check.sh"} {
		s.Files[f] = FileMeta{Mode: ExecMode}
	}
	s.Files["/tmp"] = FileMeta{Mode: fs.ModeDir | fs.ModeSticky | 0o777}
	s.Files["/home"] = FileMeta{Mode: DirMode}
	s.Files["/home/bob"] = FileMeta{Mode: DirMode, UID: 1000, GID: 1000}
	s.Files["/home/bob/check.sh"] = FileMeta{Mode: ExecMode, UID: 1000, GID: 1000}
	return s
}

// Root is a machine where vipd runs as root.
func Root() *Fake { return NewFake(0, 0) }

// IDs returns UID and GID.
func (s *Fake) IDs() (uint32, uint32) { return s.UID, s.GID }

// LookupUser finds name in Users.
func (s *Fake) LookupUser(name string) (uint32, uint32, error) {
	u, ok := s.Users[name]
	if !ok {
		return 0, 0, ErrUnknownName
	}
	return u[0], u[1], nil
}

// LookupGroup finds name in Groups.
func (s *Fake) LookupGroup(name string) (uint32, error) {
	g, ok := s.Groups[name]
	if !ok {
		return 0, ErrUnknownName
	}
	return g, nil
}

// Lstat describes p from Links and Files.
func (s *Fake) Lstat(p string) (FileMeta, error) {
	if _, ok := s.Links[p]; ok {
		return FileMeta{Mode: fs.ModeSymlink | 0o777}, nil
	}
	m, ok := s.Files[p]
	if !ok {
		return FileMeta{}, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	return m, nil
}

// Stat describes what p leads to.
func (s *Fake) Stat(p string) (FileMeta, error) {
	real, err := s.RealPath(p)
	if err != nil {
		return FileMeta{}, err
	}
	return s.Lstat(real)
}

// RealPath resolves links of the whole path or of a leading directory.
func (s *Fake) RealPath(p string) (string, error) {
	p = filepath.Clean(p)
	for range 10 {
		changed := false
		for from, to := range s.Links {
			if p == from || strings.HasPrefix(p, from+"/") {
				p, changed = to+p[len(from):], true
			}
		}
		if !changed {
			break
		}
	}
	if _, ok := s.Files[p]; !ok {
		return "", &fs.PathError{Op: "realpath", Path: p, Err: fs.ErrNotExist}
	}
	return p, nil
}

// Getenv knows PATH only.
func (s *Fake) Getenv(key string) string {
	if key == "PATH" {
		return s.Path
	}
	return ""
}
