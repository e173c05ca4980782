package gossip

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// rejectReason classifies memberlist's complaints about a peer's traffic
// that point at a misconfiguration rather than a network problem.
type rejectReason uint8

const (
	rejectNone    rejectReason = iota
	rejectKey                  // encryption keys differ (or one side has none)
	rejectCluster              // cluster names (memberlist labels) differ
)

// Substrings of memberlist v0.7.0's messages (net.go, security.go) that
// mean "wrong key" or "wrong cluster". Matched case-insensitively.
var (
	keyRejections = []string{
		"no installed keys could decrypt",
		"decrypt packet failed",
		"encryption is configured but remote state is not encrypted",
		"remote state is encrypted and encryption is not configured",
	}
	clusterRejections = []string{
		"unacceptable label",
	}
)

// classify says whether a memberlist message or error text is a rejection.
func classify(msg string) rejectReason {
	low := strings.ToLower(msg)
	for _, s := range keyRejections {
		if strings.Contains(low, s) {
			return rejectKey
		}
	}
	for _, s := range clusterRejections {
		if strings.Contains(low, s) {
			return rejectCluster
		}
	}
	return rejectNone
}

// explain is the message logged for a rejection, saying what to check.
func (r rejectReason) explain() string {
	switch r {
	case rejectKey:
		return "gossip: traffic rejected: encryption keys differ (check keys/key_file on both nodes)"
	case rejectCluster:
		return "gossip: traffic rejected: cluster names differ (check cluster_name on both nodes)"
	}
	return ""
}

// logBridge is the writer behind the *log.Logger memberlist logs to. Each
// write is one line "[LEVEL] memberlist: text"; the bridge logs it to slog
// at that level, and turns a rejection into one clear error and a count.
type logBridge struct {
	log   *slog.Logger
	stats *counters
}

// newMemberlistLogger returns the logger to give memberlist.Config.Logger.
func newMemberlistLogger(l *slog.Logger, stats *counters) (*log.Logger, *logBridge) {
	b := &logBridge{log: l, stats: stats}
	return log.New(b, "", 0), b
}

// Write implements io.Writer; it never fails, so memberlist never sees a
// logging error.
func (b *logBridge) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\r\n")
	level, text := parseLine(line)
	from := ""
	if i := strings.LastIndex(text, " from="); i >= 0 {
		from = text[i+len(" from="):]
		text = text[:i]
	}
	attrs := []any{"detail", text}
	if from != "" {
		attrs = append(attrs, "peer", from)
	}
	// memberlist's own "failed to join" lines repeat what joinOnce logs
	// and counts: leave them at their level.
	if r := classify(text); r != rejectNone && !strings.HasPrefix(text, "failed to join") {
		if r == rejectKey {
			b.stats.rejectedKey.Add(1)
		} else {
			b.stats.rejectedCluster.Add(1)
		}
		b.log.Error(r.explain(), attrs...)
		return len(p), nil
	}
	if strings.Contains(text, "use of closed network connection") {
		// Sockets closing under a send during shutdown: not a problem.
		level = slog.LevelDebug
	}
	b.log.Log(context.Background(), level, "memberlist: "+text, attrs[2:]...)
	return len(p), nil
}

// parseLine splits memberlist's "[LEVEL] memberlist: text" into a slog
// level and the text. Lines without a level (memberlist has a few, such as
// "Err: ...") are errors if they say so, else info.
func parseLine(line string) (slog.Level, string) {
	level := slog.LevelInfo
	text := line
	if strings.HasPrefix(line, "[") {
		if end := strings.IndexByte(line, ']'); end > 0 {
			switch line[1:end] {
			case "DEBUG", "TRACE":
				level = slog.LevelDebug
			case "INFO":
				level = slog.LevelInfo
			case "WARN", "WARNING":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			text = strings.TrimSpace(line[end+1:])
		}
	} else if strings.HasPrefix(line, "Err:") {
		level = slog.LevelError
		text = strings.TrimSpace(strings.TrimPrefix(line, "Err:"))
	}
	text = strings.TrimPrefix(text, "memberlist: ")
	return level, text
}
