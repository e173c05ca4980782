//go:build !unix

package machine

import "io/fs"

// metaOf cannot know owners here; vipd runs on Linux. Files look owned by
// an unprivileged user, so that script security errs on the safe side.
func metaOf(st fs.FileInfo) FileMeta {
	return FileMeta{Mode: st.Mode(), UID: 1<<32 - 1, GID: 1<<32 - 1}
}
