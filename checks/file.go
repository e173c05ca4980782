package checks

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// fileReadMax is how much of a tracked file is read, as keepalived does
// (a 128-byte buffer less its NUL).
const fileReadMax = 127

// ErrFileValue is wrapped by the Result.Err of a file check whose file
// holds a number outside keepalived's accepted range; the previous value
// is kept, as keepalived ignores such a number.
var ErrFileValue = errors.New("number out of range")

// fileProber reads an integer from a file, keepalived's vrrp_track_file:
//
//   - the first 127 bytes are parsed as C's strtol(buf, NULL, 0) does:
//     leading white space, a sign, then decimal, 0x hex or 0 octal digits,
//     anything after them ignored;
//   - a missing, unreadable or empty file, or one that does not start with
//     a number, reads as 0;
//   - a number outside [-2147483648, 2147483648] is ignored: the previous
//     value stays and Err wraps ErrFileValue.
//
// Result.Value is the number. Result.OK applies the check's own Weight and
// WeightReverse with keepalived's rule (see fileFault); the priority code
// decides for each instance with the weight that instance tracks it with.
type fileProber struct {
	path    string
	weight  int
	reverse bool

	mu   sync.Mutex
	last int // the value kept when a read is ignored
}

// FileConfig reads an integer from a file (keepalived's track_file, once
// vrrp_track_file); the instance's priority moves by that number times the
// weight, and with weight 0 a non-zero number means FAULT.
type FileConfig struct {
	// Path is the file holding the number (a missing file reads as 0).
	Path string `yaml:"path"`
	// InitValue is written to Path at start if it does not exist
	// (keepalived's init_file); nil means leave it.
	InitValue *int `yaml:"init_value,omitempty"`
	// InitOverwrite writes InitValue even over an existing file
	// (keepalived's "init_file VALUE overwrite"); only on a first start,
	// not on reload.
	InitOverwrite bool `yaml:"init_overwrite,omitempty"`
}

var fileKind = kindDef{
	kind:     KindFile,
	settings: func(c *Config) bool { return c.File != nil },
	validate: func(c *Config, fail func(field, msg string)) {
		if c.File.Path == "" {
			fail("file.path", "is required")
		}
	},
	same: func(a, b *Config) bool {
		x, y := a.File, b.File
		return x.Path == y.Path && x.InitOverwrite == y.InitOverwrite &&
			(x.InitValue == nil) == (y.InitValue == nil) && (x.InitValue == nil || *x.InitValue == *y.InitValue)
	},
	prober: func(c *Config, opts Options) (Prober, error) { return newFileProber(c, opts) },
}

// newFileProber also refuses a path it would read relative to wherever
// vipd runs.
func newFileProber(c *Config, opts Options) (*fileProber, error) {
	f := c.File
	if !filepath.IsAbs(f.Path) {
		return nil, &ConfigError{Check: c.Name, Kind: c.Kind, Field: "file.path", Err: fmt.Errorf("%q: the path must be absolute", f.Path)}
	}
	if f.InitValue != nil {
		// keepalived's init_file. A failure is not fatal there either:
		// the file then reads as 0.
		overwrite := f.InitOverwrite && !opts.Reload
		if err := initValueFile(f.Path, *f.InitValue, overwrite); err != nil {
			opts.logger().Warn("cannot initialise track file", "check", c.Name, "path", f.Path, "err", err)
		}
	}
	return &fileProber{path: f.Path, weight: c.Weight, reverse: c.WeightReverse}, nil
}

// initValueFile writes v to path if it does not exist, or, with overwrite,
// over an existing regular file (never through a FIFO or device).
func initValueFile(path string, v int, overwrite bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if overwrite {
		if fi, err := os.Lstat(path); err == nil {
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file", path)
			}
			flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		}
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%d\n", v); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Probe reads the file once. A read that would wait (a FIFO whose writer
// has written nothing yet) waits until ctx is done: then, as for a bad
// number, the previous value stays and Err wraps ErrTimeout.
func (p *fileProber) Probe(ctx context.Context) Result {
	start := time.Now()
	v, note, err := p.read(ctx)
	p.mu.Lock()
	if err == nil {
		p.last = v
	} else {
		v = p.last
	}
	p.mu.Unlock()
	fault := fileFault(v, p.weight, p.reverse)
	// A timeout is a failed run (the runner counts it), whatever the
	// value kept says.
	res := Result{OK: !fault && !errors.Is(err, ErrTimeout), Value: v, Err: err, Duration: time.Since(start)}
	res.Output = fmt.Sprintf("value %d%s", v, note)
	if err == nil && fault {
		res.Err = fmt.Errorf("value %d with weight %d puts the instance in FAULT", v, p.weight)
	}
	return res
}

// read returns the number in the file, with a note on why it is 0 when
// the file gave none.
func (p *fileProber) read(ctx context.Context) (int, string, error) {
	buf, err := readOnce(ctx, p.path, fileReadMax)
	var pe *os.PathError
	switch {
	case err != nil && (errors.Is(err, ErrTimeout) || ctx.Err() != nil):
		return 0, "", err
	case errors.As(err, &pe) && pe.Op == "open":
		return 0, fmt.Sprintf(" (%v)", pe.Err), nil
	case err != nil || len(buf) == 0:
		return 0, " (empty)", nil
	}
	v, ok := parseCInt(string(buf))
	if !ok || v < math.MinInt32 || v > math.MaxInt32+1 {
		return 0, "", fmt.Errorf("%s: %w: %q", p.path, ErrFileValue, truncate(string(buf), 32))
	}
	return int(v), "", nil
}

// parseCInt parses like C's strtol(s, NULL, 0) on a 64-bit long: it
// reports ok false where strtol would set ERANGE.
func parseCInt(s string) (int64, bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(s) && s[i] == '0' && (s[i+1] == 'x' || s[i+1] == 'X') && digitVal(s[i+2]) < 16:
		base = 16
		i += 2
	case i < len(s) && s[i] == '0':
		base = 8
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var n uint64
	overflow := false
	for ; i < len(s); i++ {
		d := uint64(digitVal(s[i]))
		if d >= base {
			break
		}
		if n > (limit-d)/base {
			overflow = true
			continue // strtol consumes every digit, then reports ERANGE
		}
		n = n*base + d
	}
	if overflow {
		return 0, false
	}
	if neg {
		if n == 1<<63 {
			return math.MinInt64, true
		}
		return -int64(n), true
	}
	return int64(n), true
}

func digitVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return 99
}

// fileFault is keepalived's rule for whether a tracked file's value puts an
// instance in FAULT (track_file.c, update_track_file_status and
// process_update_vrrp_track_file_status): with weight 0, any non-zero value
// does (a zero one, with reverse); otherwise value × weight, negated with
// reverse, does when it is -254 or less. The priority package applies the
// same rule, with the weight of each tracking instance.
func fileFault(value, weight int, reverse bool) bool {
	if weight == 0 {
		return (value != 0) != reverse
	}
	s := int64(value) * int64(max(-254, min(254, weight)))
	if reverse {
		s = -s
	}
	return s <= -254
}
