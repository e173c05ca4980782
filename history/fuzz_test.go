package history

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vipd/vipd/internal/clock/clocktest"
)

// FuzzOpenSegment opens a log whose only file holds arbitrary bytes (torn,
// corrupt or hostile): Open must not fail or panic, reading must not
// either, and an event appended afterwards must read back after a
// restart, after every intact event found before it.
func FuzzOpenSegment(f *testing.F) {
	good, _ := appendRecord(nil, &Event{Node: "n1", Seq: 1, Time: t0, Kind: KindTransition, Instance: "dns", From: "BACKUP", To: "MASTER"})
	good2, _ := appendRecord(append([]byte(nil), good...), &Event{Node: "n1", Seq: 2, Time: t0, Kind: KindCheck})
	f.Add([]byte{})
	f.Add(good)
	f.Add(good2)
	f.Add(good2[:len(good2)-3])
	f.Add(append(append([]byte(nil), good...), 0xE7, 0xff, 0xff, 0xff, 0xff))
	f.Add([]byte{0xE7, 0, 0, 0, 2, 0, 0, 0, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, data []byte) {
		onClock(t, func(t *testing.T, clk *clocktest.Counting) {
			time.Sleep(time.Hour) // the seeds' events are an hour old
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, segName(1)), data, 0o640); err != nil {
				t.Fatal(err)
			}
			l, err := Open(dir, Options{}, clk)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			before, err := l.Read(Query{Limit: MaxLimit})
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			next := l.NextSeq()
			if err := l.Append([]Event{{Node: "n1", Seq: next, Time: clk.Now(), Kind: KindReload}}); err != nil {
				t.Fatalf("Append: %v", err)
			}
			l.Close()
			l, err = Open(dir, Options{}, clk)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer l.Close()
			after, _ := l.Read(Query{Limit: MaxLimit})
			if len(after) == 0 || after[len(after)-1].Seq != next || after[len(after)-1].Kind != KindReload {
				t.Fatalf("appended event %d not read back: %+v", next, after)
			}
			if l.NextSeq() != next+1 {
				t.Fatalf("NextSeq %d after appending %d", l.NextSeq(), next)
			}
			// Everything read before is still there (the age limit aside).
			if len(after) < len(before)+1 && len(before) < MaxLimit {
				t.Fatalf("read %d events before the append, %d after", len(before), len(after))
			}
		})
	})
}
