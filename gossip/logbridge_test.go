package gossip

import (
	"log/slog"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line  string
		level slog.Level
		text  string
	}{
		{"[DEBUG] memberlist: Stream connection from=127.0.0.1:1", slog.LevelDebug, "Stream connection from=127.0.0.1:1"},
		{"[INFO] memberlist: Suspect b has failed, no acks received", slog.LevelInfo, "Suspect b has failed, no acks received"},
		{"[WARN] memberlist: Refuting a suspect message (from: b)", slog.LevelWarn, "Refuting a suspect message (from: b)"},
		{"[ERR] memberlist: Failed to send gossip to 127.0.0.1:2: x", slog.LevelError, "Failed to send gossip to 127.0.0.1:2: x"},
		{"[ERROR] memberlist: Failed to compress payload: x", slog.LevelError, "Failed to compress payload: x"},
		{"Err: Could not set the deadline: x", slog.LevelError, "Could not set the deadline: x"},
		{"no level at all", slog.LevelInfo, "no level at all"},
		{"[WEIRD] memberlist: odd", slog.LevelInfo, "odd"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			level, text := parseLine(tt.line)
			if level != tt.level || text != tt.text {
				t.Errorf("parseLine = %v %q, want %v %q", level, text, tt.level, tt.text)
			}
		})
	}
}

func TestLogBridge(t *testing.T) {
	tests := []struct {
		name        string
		line        string
		wantLevel   slog.Level
		wantMsg     string
		wantKey     uint64
		wantCluster uint64
	}{
		{"packet with another key", "[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=127.0.0.1:7946",
			slog.LevelError, "encryption keys differ", 1, 0},
		{"stream with another key", "[ERR] memberlist: failed to receive: No installed keys could decrypt the message from=127.0.0.1:7946",
			slog.LevelError, "encryption keys differ", 1, 0},
		{"unencrypted peer", "[ERR] memberlist: failed to receive: encryption is configured but remote state is not encrypted from=127.0.0.1:7946",
			slog.LevelError, "encryption keys differ", 1, 0},
		{"other cluster", `[ERR] memberlist: discarding stream with unacceptable label "other": from=127.0.0.1:7946`,
			slog.LevelError, "cluster names differ", 0, 1},
		{"memberlist's own join failure stays debug", "[DEBUG] memberlist: failed to join 127.0.0.1:7946: no installed keys could decrypt the message",
			slog.LevelDebug, "memberlist: failed to join", 0, 0},
		{"shutdown noise", "[ERR] memberlist: Failed to send gossip to 127.0.0.1:2: write udp: use of closed network connection",
			slog.LevelDebug, "Failed to send gossip", 0, 0},
		{"plain warning", "[WARN] memberlist: Was able to connect to b over TCP but UDP probes failed, network may be misconfigured",
			slog.LevelWarn, "memberlist: Was able to connect", 0, 0},
		{"debug", "[DEBUG] memberlist: Initiating push/pull sync with: b 127.0.0.1:2", slog.LevelDebug, "memberlist: Initiating push/pull", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			var st counters
			logger, _ := newMemberlistLogger(slog.New(rec), &st)
			logger.Print(tt.line)
			if !rec.has(tt.wantLevel, tt.wantMsg) {
				t.Errorf("no record at %v containing %q; got %q", tt.wantLevel, tt.wantMsg, rec.recs)
			}
			if len(rec.recs) != 1 || rec.lvls[0] != tt.wantLevel {
				t.Errorf("records %v at %v, want one at %v", rec.recs, rec.lvls, tt.wantLevel)
			}
			// A rejection names the remote address, so that the operator
			// knows which node to fix.
			if tt.wantKey+tt.wantCluster > 0 && !rec.has(slog.LevelError, "peer=127.0.0.1:7946") {
				t.Errorf("rejection does not name the remote address: %q", rec.recs)
			}
			if st.rejectedKey.Load() != tt.wantKey || st.rejectedCluster.Load() != tt.wantCluster {
				t.Errorf("counters key=%d cluster=%d, want %d %d", st.rejectedKey.Load(), st.rejectedCluster.Load(), tt.wantKey, tt.wantCluster)
			}
		})
	}
}
