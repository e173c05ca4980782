//go:build unix

package machine

import (
	"io/fs"
	"syscall"
)

// metaOf takes the owner from the platform's stat data.
func metaOf(st fs.FileInfo) FileMeta {
	m := FileMeta{Mode: st.Mode()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		m.UID, m.GID = s.Uid, s.Gid
	}
	return m
}
