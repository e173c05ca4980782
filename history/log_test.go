package history

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vipd/vipd/internal/clock/clocktest"
)

var t0 = time.Date(2026, 12, 6, 3, 12, 0, 0, time.UTC)

func ev(seq uint64, at time.Time, kind Kind, instance string) Event {
	return Event{Node: "n1", Seq: seq, Time: at, Kind: kind, Instance: instance, Reason: "r"}
}

// onClock runs f in a synctest bubble with a clock (the bubble's time)
// that reads t0 at the start: the tests' events carry fixed dates, and the
// log must judge their age by that clock, not by time.Now.
func onClock(t *testing.T, f func(t *testing.T, clk *clocktest.Counting)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) { f(t, clocktest.From(t0)) })
}

func segFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, segPrefix+"*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLogAppendReadRestart(t *testing.T) {
	onClock(t, func(t *testing.T, clk *clocktest.Counting) {
		dir := t.TempDir()
		l, err := Open(dir, Options{}, clk)
		if err != nil {
			t.Fatal(err)
		}
		if l.NextSeq() != 1 {
			t.Fatalf("NextSeq of a new log = %d", l.NextSeq())
		}
		if err := l.Append([]Event{ev(1, t0, KindTransition, "dns"), ev(2, t0.Add(time.Second), KindCheck, "")}); err != nil {
			t.Fatal(err)
		}
		if err := l.Append([]Event{ev(3, t0.Add(2*time.Second), KindTransition, "web")}); err != nil {
			t.Fatal(err)
		}
		l.Close()

		l, err = Open(dir, Options{}, clk)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if l.NextSeq() != 4 {
			t.Fatalf("NextSeq after restart = %d, want 4", l.NextSeq())
		}
		got, err := l.Read(Query{Instance: "dns"})
		if err != nil {
			t.Fatal(err)
		}
		// dns's transition and the check (about no instance), not web's.
		if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
			t.Fatalf("Read(instance=dns) = %+v", got)
		}
		got, _ = l.Read(Query{Kinds: []Kind{KindTransition}, Since: t0.Add(time.Second)})
		if len(got) != 1 || got[0].Instance != "web" {
			t.Fatalf("Read(transitions since +1s) = %+v", got)
		}
		got, _ = l.Read(Query{Limit: 2})
		if len(got) != 2 || got[0].Seq != 2 || got[1].Seq != 3 {
			t.Fatalf("Read(limit 2) = %+v, want the newest two", got)
		}
		// A batch written again (the writer retries after an error) is read
		// once.
		if err := l.Append([]Event{ev(4, t0, KindReload, ""), ev(5, t0, KindReload, "")}); err != nil {
			t.Fatal(err)
		}
		if err := l.Append([]Event{ev(4, t0, KindReload, ""), ev(5, t0, KindReload, ""), ev(6, t0, KindReload, "")}); err != nil {
			t.Fatal(err)
		}
		got, _ = l.Read(Query{Kinds: []Kind{KindReload}})
		if len(got) != 3 || got[0].Seq != 4 || got[2].Seq != 6 {
			t.Fatalf("after a repeated batch: %+v", got)
		}
	})
}

func TestLogTornTail(t *testing.T) {
	onClock(t, func(t *testing.T, clk *clocktest.Counting) {
		dir := t.TempDir()
		l, err := Open(dir, Options{}, clk)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Append([]Event{ev(1, t0, KindTransition, "dns"), ev(2, t0, KindTransition, "dns")}); err != nil {
			t.Fatal(err)
		}
		l.Close()
		seg := segFiles(t, dir)[0]
		b, _ := os.ReadFile(seg)
		intact := len(b)
		// A crash in the middle of the third record's write.
		third, _ := appendRecord(nil, &Event{Node: "n1", Seq: 3, Time: t0, Kind: KindCheck})
		for _, cut := range []int{1, recordHeader, len(third) - 1} {
			if err := os.WriteFile(seg, append(b[:intact:intact], third[:cut]...), 0o640); err != nil {
				t.Fatal(err)
			}
			l, err := Open(dir, Options{}, clk)
			if err != nil {
				t.Fatalf("cut %d: a torn tail failed the start: %v", cut, err)
			}
			if l.Skipped != int64(cut) || l.NextSeq() != 3 {
				t.Fatalf("cut %d: skipped %d, next %d; want %d, 3", cut, l.Skipped, l.NextSeq(), cut)
			}
			// Appends follow the intact records, readable after a restart.
			if err := l.Append([]Event{ev(3, t0, KindOrder, "dns")}); err != nil {
				t.Fatal(err)
			}
			l.Close()
			l, _ = Open(dir, Options{}, clk)
			got, _ := l.Read(Query{})
			l.Close()
			if len(got) != 3 || got[2].Kind != KindOrder {
				t.Fatalf("cut %d: after the torn tail and an append: %+v", cut, got)
			}
			b2, _ := os.ReadFile(seg)
			if err := os.WriteFile(seg, b2[:intact], 0o640); err != nil {
				t.Fatal(err)
			}
		}
		// A flipped bit in the middle: the reader stops there, Open still works.
		b[intact/2] ^= 0x40
		os.WriteFile(seg, b, 0o640)
		l, err = Open(dir, Options{}, clk)
		if err != nil {
			t.Fatalf("corrupt record failed the start: %v", err)
		}
		defer l.Close()
		if got, _ := l.Read(Query{}); len(got) > 1 {
			t.Fatalf("read past a corrupt record: %+v", got)
		}
	})
}

func TestLogRotationAndLimits(t *testing.T) {
	onClock(t, func(t *testing.T, clk *clocktest.Counting) {
		dir := t.TempDir()
		opts := Options{MaxSize: MinMaxSize, MaxAge: time.Hour}
		l, err := Open(dir, opts, clk)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		big := strings.Repeat("x", 900)
		var seq uint64
		for range 400 {
			seq++
			e := ev(seq, clk.Now(), KindReload, "")
			e.Detail = big
			if err := l.Append([]Event{e}); err != nil {
				t.Fatal(err)
			}
		}
		files := segFiles(t, dir)
		var total int64
		for _, f := range files {
			st, _ := os.Stat(f)
			total += st.Size()
		}
		if len(files) < 2 || total > opts.MaxSize {
			t.Fatalf("after 400 KB into a %d-byte log: %d files, %d bytes", opts.MaxSize, len(files), total)
		}
		got, _ := l.Read(Query{Limit: MaxLimit})
		if len(got) == 0 || got[len(got)-1].Seq != seq || got[0].Seq == 1 {
			t.Fatalf("read %d events, %d..%d: want the newest, the oldest pruned", len(got), got[0].Seq, got[len(got)-1].Seq)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq != got[i-1].Seq+1 {
				t.Fatalf("gap between %d and %d inside the kept events", got[i-1].Seq, got[i].Seq)
			}
		}

		// Age: an hour later the old events are not read, and the next
		// write starts a new file and deletes the old ones.
		time.Sleep(2 * time.Hour)
		if got, _ := l.Read(Query{}); len(got) != 0 {
			t.Fatalf("read %d events older than max_age", len(got))
		}
		seq++
		if err := l.Append([]Event{ev(seq, clk.Now(), KindReload, "")}); err != nil {
			t.Fatal(err)
		}
		if files := segFiles(t, dir); len(files) != 1 || !strings.HasSuffix(files[0], segName(seq)) {
			t.Fatalf("after max_age: files %v, want only %s", files, segName(seq))
		}
		if got, _ := l.Read(Query{}); len(got) != 1 || got[0].Seq != seq {
			t.Fatalf("after max_age: %+v", got)
		}
	})
}

func TestOptionsValidate(t *testing.T) {
	if err := (Options{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if err := (Options{MaxSize: 10}).WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "max_size") {
		t.Fatalf("tiny max_size: %v", err)
	}
	if err := (Options{MaxAge: time.Second}).WithDefaults().Validate(); err == nil || !strings.Contains(err.Error(), "max_age") {
		t.Fatalf("tiny max_age: %v", err)
	}
}

// A writer that cannot write (the disk is gone) never blocks Record, and
// the events stay queryable from memory, bounded.
func TestRecorderNeverWaitsOnDisk(t *testing.T) {
	onClock(t, func(t *testing.T, clk *clocktest.Counting) {
		dir := t.TempDir()
		l, err := Open(dir, Options{}, clk)
		if err != nil {
			t.Fatal(err)
		}
		r := NewRecorder("n1", l, clk, nil)
		// Hold the disk: Run's writer blocks on it.
		r.io.Lock()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		for i := range memoryEvents + 10 {
			r.Record(Event{Kind: KindCheck, Check: fmt.Sprint("c", i)})
		}
		if r.Dropped() != 10 {
			t.Fatalf("dropped %d, want 10", r.Dropped())
		}
		r.io.Unlock()
		cancel()
		<-done
		// Written at the stop; a new recorder continues the sequence.
		l, _ = Open(dir, Options{}, clk)
		r2 := NewRecorder("n1", l, clk, nil)
		got, err := r2.Query(Query{Limit: MaxLimit})
		if err != nil || len(got) != memoryEvents || got[0].Seq != 11 {
			t.Fatalf("after restart: %d events (want %d from seq 11), err %v", len(got), memoryEvents, err)
		}
		if e := r2.Record(Event{Kind: KindReload}); e.Seq != memoryEvents+11 {
			t.Fatalf("seq after restart = %d", e.Seq)
		}
		if got, _ := r2.Query(Query{Kinds: []Kind{KindReload}}); len(got) != 1 || got[0].Node != "n1" || !got[0].Time.Equal(t0) {
			t.Fatalf("unwritten event not queryable: %+v", got)
		}
	})
}

func TestRecorderMemoryOnly(t *testing.T) {
	onClock(t, func(t *testing.T, clk *clocktest.Counting) {
		r := NewRecorder("n2", nil, clk, nil)
		r.Run(context.Background()) // returns at once
		r.Record(Event{Kind: KindCheck, Output: strings.Repeat("é", 1000) + "END"})
		got, _ := r.Query(Query{})
		if len(got) != 1 || !strings.HasSuffix(got[0].Output, "END") || len(got[0].Output) > maxOutput+len("…") {
			t.Fatalf("output tail: %d bytes, %q", len(got[0].Output), got[0].Output[len(got[0].Output)-10:])
		}
		if got, _ := r.Query(Query{Node: "n1"}); len(got) != 0 {
			t.Fatalf("another node's query: %+v", got)
		}
	})
}
