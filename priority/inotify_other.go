//go:build !linux

package priority

import "errors"

// openChanges fails: inotify is Linux's; the Watcher polls instead.
func openChanges(string) (changeSource, error) {
	return nil, errors.New("priority: file notifications are supported on Linux only")
}
