//go:build unix

package config

import (
	"io/fs"
	"syscall"
)

// metaOf takes the owner from the platform's stat data.
func metaOf(st fs.FileInfo) fileMeta {
	m := fileMeta{mode: st.Mode()}
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		m.uid, m.gid = s.Uid, s.Gid
	}
	return m
}
