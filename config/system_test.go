package config

import (
	"io/fs"
	"path/filepath"
	"strings"
)

// fakeSys is a machine for script checks: users, groups and a file tree
// given in the test, nothing read from the real one.
type fakeSys struct {
	uid, gid uint32
	users    map[string][2]uint32
	groups   map[string]uint32
	files    map[string]fileMeta // absolute path → metadata; directories too
	links    map[string]string   // path of a symbolic link → absolute target
	path     string              // PATH
}

var _ system = (*fakeSys)(nil)

const (
	dirMode  = fs.ModeDir | 0o755
	execMode = fs.FileMode(0o755)
)

// newFakeSys returns a machine where vipd runs as uid/gid, with users
// root, nobody and bob (1000), and a root-owned tree holding the programs
// and scripts the tests use.
func newFakeSys(uid, gid uint32) *fakeSys {
	s := &fakeSys{
		uid: uid, gid: gid,
		users:  map[string][2]uint32{"root": {0, 0}, "nobody": {65534, 65534}, "bob": {1000, 1000}},
		groups: map[string]uint32{"root": 0, "nogroup": 65534, "bob": 1000, "staff": 50},
		files:  map[string]fileMeta{},
		links:  map[string]string{},
		path:   "/usr/local/bin:/usr/bin:/bin",
	}
	for _, d := range []string{"/", "/usr", "/usr/bin", "/usr/local", "/usr/local/bin", "/etc", "/etc/vipd",
		"/etc/keepalived", "/run", "/run/vipd"} {
		s.files[d] = fileMeta{mode: dirMode}
	}
	for _, f := range []string{"/usr/bin/true", "/usr/bin/sh", "/usr/bin/dig", "/usr/bin/killall",
		"/etc/vipd/notify.sh", "/etc/keepalived/notify.sh", "/etc/keepalived/check.sh"} {
		s.files[f] = fileMeta{mode: execMode}
	}
	s.files["/tmp"] = fileMeta{mode: fs.ModeDir | fs.ModeSticky | 0o777}
	s.files["/home"] = fileMeta{mode: dirMode}
	s.files["/home/bob"] = fileMeta{mode: dirMode, uid: 1000, gid: 1000}
	s.files["/home/bob/check.sh"] = fileMeta{mode: execMode, uid: 1000, gid: 1000}
	return s
}

// rootSys is a machine where vipd runs as root.
func rootSys() *fakeSys { return newFakeSys(0, 0) }

func (s *fakeSys) ids() (uint32, uint32) { return s.uid, s.gid }

func (s *fakeSys) lookupUser(name string) (uint32, uint32, error) {
	u, ok := s.users[name]
	if !ok {
		return 0, 0, errUnknownName
	}
	return u[0], u[1], nil
}

func (s *fakeSys) lookupGroup(name string) (uint32, error) {
	g, ok := s.groups[name]
	if !ok {
		return 0, errUnknownName
	}
	return g, nil
}

func (s *fakeSys) lstat(p string) (fileMeta, error) {
	if _, ok := s.links[p]; ok {
		return fileMeta{mode: fs.ModeSymlink | 0o777}, nil
	}
	m, ok := s.files[p]
	if !ok {
		return fileMeta{}, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
	}
	return m, nil
}

func (s *fakeSys) stat(p string) (fileMeta, error) {
	real, err := s.realPath(p)
	if err != nil {
		return fileMeta{}, err
	}
	return s.lstat(real)
}

// realPath resolves links of the whole path or of a leading directory.
func (s *fakeSys) realPath(p string) (string, error) {
	p = filepath.Clean(p)
	for range 10 {
		changed := false
		for from, to := range s.links {
			if p == from || strings.HasPrefix(p, from+"/") {
				p, changed = to+p[len(from):], true
			}
		}
		if !changed {
			break
		}
	}
	if _, ok := s.files[p]; !ok {
		return "", &fs.PathError{Op: "realpath", Path: p, Err: fs.ErrNotExist}
	}
	return p, nil
}

func (s *fakeSys) getenv(key string) string {
	if key == "PATH" {
		return s.path
	}
	return ""
}
