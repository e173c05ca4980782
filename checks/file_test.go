package checks

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func fileCheck(path string, weight int) *Config {
	return &Config{Name: "file-test", Kind: KindFile, Weight: weight, File: &FileConfig{Path: path}}
}

func TestFileProbe(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		weight  int
		reverse bool
		value   int
		ok      bool
		errHas  string
	}{
		{name: "zero, weight 0", path: write("zero", "0\n"), value: 0, ok: true},
		{name: "non-zero, weight 0 is FAULT", path: write("one", "1\n"), value: 1, errHas: "FAULT"},
		{name: "zero, weight 0 reverse is FAULT", path: write("zero2", "0"), reverse: true, value: 0, errHas: "FAULT"},
		{name: "non-zero, weight 0 reverse", path: write("one2", "1"), reverse: true, value: 1, ok: true},
		{name: "positive with weight", path: write("ten", "10"), weight: 2, value: 10, ok: true},
		{name: "negative with weight", path: write("neg", "-20\n"), weight: 5, value: -20, ok: true},
		{name: "product -254 is FAULT", path: write("neg254", "-127"), weight: 2, value: -127, errHas: "FAULT"},
		{name: "product -253 is not", path: write("neg253", "-253"), weight: 1, value: -253, ok: true},
		{name: "reverse turns positive into FAULT", path: write("rev", "254"), weight: 1, reverse: true, value: 254,
			errHas: "FAULT"},
		{name: "missing file reads 0", path: filepath.Join(dir, "missing"), weight: 1, value: 0, ok: true},
		{name: "missing file reads 0: FAULT with weight 0 reverse", path: filepath.Join(dir, "missing"), reverse: true,
			errHas: "FAULT"},
		{name: "empty file reads 0", path: write("empty", ""), weight: 1, value: 0, ok: true},
		{name: "text reads 0", path: write("text", "healthy\n"), weight: 1, value: 0, ok: true},
		{name: "FIFO does not block, reads 0", path: fifo, weight: 1, value: 0, ok: true},
		{name: "hex", path: write("hex", "0x1f"), weight: 1, value: 31, ok: true},
		{name: "octal", path: write("oct", "010"), weight: 1, value: 8, ok: true},
		{name: "white space and trailing text", path: write("ws", " \t+42 apples"), weight: 1, value: 42, ok: true},
		{name: "directory reads 0", path: dir, weight: 1, value: 0, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := fileCheck(tc.path, tc.weight)
			c.WeightReverse = tc.reverse
			r := probe(t, c, time.Second)
			wantResult(t, r, tc.ok, tc.errHas)
			if r.Value != tc.value {
				t.Errorf("value %d, want %d", r.Value, tc.value)
			}
		})
	}
}

// TestFileProbeKeepsValueOnBadNumber follows keepalived: a number out of
// range is ignored and the previous value stays.
func TestFileProbeKeepsValueOnBadNumber(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v")
	p, err := NewProber(fileCheck(path, 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		content string
		value   int
		bad     bool
	}{
		{content: "7", value: 7},
		{content: "99999999999", value: 7, bad: true},
		{content: "99999999999999999999999", value: 7, bad: true},
		{content: "2147483648", value: 2147483648},
		{content: "-2147483649", value: 2147483648, bad: true},
		{content: "-3", value: -3},
	}
	for _, s := range steps {
		if err := os.WriteFile(path, []byte(s.content), 0o644); err != nil {
			t.Fatal(err)
		}
		r := p.Probe(t.Context())
		if r.Value != s.value {
			t.Errorf("after %q: value %d, want %d", s.content, r.Value, s.value)
		}
		if got := errors.Is(r.Err, ErrFileValue); got != s.bad {
			t.Errorf("after %q: err %v, want ErrFileValue %t", s.content, r.Err, s.bad)
		}
	}
}

func TestFileInitValue(t *testing.T) {
	ptr := func(v int) *int { return &v }
	tests := []struct {
		name      string
		existing  *string
		init      int
		overwrite bool
		reload    bool
		want      string
	}{
		{name: "created when missing", init: 5, want: "5\n"},
		{name: "existing left alone", existing: new(string), init: 5, want: ""},
		{name: "overwrite on first start", existing: strPtr("3\n"), init: -2, overwrite: true, want: "-2\n"},
		{name: "no overwrite on reload", existing: strPtr("3\n"), init: -2, overwrite: true, reload: true, want: "3\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "track")
			if tc.existing != nil {
				if err := os.WriteFile(path, []byte(*tc.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c := fileCheck(path, 1)
			c.File.InitValue, c.File.InitOverwrite = ptr(tc.init), tc.overwrite
			if _, err := NewProber(c, Options{Reload: tc.reload}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("file holds %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("unwritable directory only warns", func(t *testing.T) {
		var log bytes.Buffer
		c := fileCheck(filepath.Join(t.TempDir(), "no-such-dir", "track"), 1)
		c.File.InitValue = ptr(1)
		p, err := NewProber(c, Options{Logger: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(log.Bytes(), []byte("cannot initialise track file")) {
			t.Errorf("no warning logged: %q", log.String())
		}
		if r := p.Probe(t.Context()); r.Value != 0 || !r.OK {
			t.Errorf("missing file: %+v, want value 0", r)
		}
	})
}

func strPtr(s string) *string { return &s }

func TestParseCInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"-42", -42, true},
		{"+7", 7, true},
		{"  \n\t12", 12, true},
		{"12abc", 12, true},
		{"0x1F", 31, true},
		{"0X10", 16, true},
		{"0x", 0, true},  // strtol reads the 0 and stops at x
		{"0xg", 0, true}, // likewise
		{"017", 15, true},
		{"08", 0, true}, // 8 is no octal digit
		{"", 0, true},
		{"abc", 0, true},
		{"-", 0, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"-9223372036854775808", math.MinInt64, true},
		{"9223372036854775808", 0, false},
		{"-9223372036854775809", 0, false},
		{"0x8000000000000000", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseCInt(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("parseCInt(%q) = %d, %t; want %d, %t", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFileConfigErrors(t *testing.T) {
	wantConfigError(t, fileCheck("", 1), "file.path")
	wantConfigError(t, fileCheck("relative/track", 1), "file.path")
	wantConfigError(t, &Config{Name: "f", Kind: KindFile}, "file")
}
