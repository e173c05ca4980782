package config

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vipd/vipd/history"
)

// History is where and how much of this node's event history is kept
// (package history owns the limits, their defaults and their checks).
// Only the native format has it; it is read at start (a reload does not
// move or resize the log).
type History struct {
	// Pos is where the history section is; zero when there is none.
	Pos Pos
	// Dir is the log's directory, an absolute path. Empty means
	// gossip.state_file's path with ".history" for its extension
	// (/var/lib/vipd/state.history: unique like the state file), or,
	// without gossip, memory only (the last 4096 events, lost at a
	// restart).
	Dir string
	// Limits are the log's size and age limits; zero values take
	// history's defaults (16 MiB, 30 days).
	Limits history.Options
}

// HistoryDir is the directory the history log goes to, or "" for memory
// only.
func (c *Config) HistoryDir() string {
	switch {
	case c.History.Dir != "":
		return c.History.Dir
	case c.Gossip != nil && c.Gossip.StateFile != "":
		f := c.Gossip.StateFile
		return strings.TrimSuffix(f, filepath.Ext(f)) + ".history"
	}
	return ""
}

// SameSettings reports whether h and o keep the history alike (positions
// aside).
func (h *History) SameSettings(o *History) bool { return h.Dir == o.Dir && h.Limits == o.Limits }

// yamlOutHistory is the history section as EncodeYAML writes it.
type yamlOutHistory struct {
	Dir     string `yaml:"dir,omitempty"`
	MaxSize string `yaml:"max_size,omitempty"`
	MaxAge  string `yaml:"max_age,omitempty"`
}

// encodeHistory writes the keys that were set; nil when none was (the
// defaults apply).
func encodeHistory(h *History) *yamlOutHistory {
	if h.Dir == "" && h.Limits == (history.Options{}) {
		return nil
	}
	out := &yamlOutHistory{Dir: h.Dir}
	if h.Limits.MaxSize != 0 {
		out.MaxSize = strconv.FormatInt(h.Limits.MaxSize, 10)
	}
	if h.Limits.MaxAge != 0 {
		out.MaxAge = h.Limits.MaxAge.String()
	}
	return out
}
