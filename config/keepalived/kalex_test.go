package keepalived

import (
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
)

// noFS is a file system with no files, so that tests and fuzzing never read
// the real one through include.
type noFS struct{}

func (noFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}
func (noFS) Stat(name string) (fs.FileInfo, error) {
	return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}
func (noFS) Glob(string) ([]string, error) { return nil, nil }

func TestDecomment(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"hash comment", "  priority 100 # high", "priority 100"},
		{"bang comment", "state MASTER! note", "state MASTER"},
		{"whole line", "# all comment", ""},
		{"comment inside quotes kept", `auth_pass "a#b" # c`, `auth_pass "a#b"`},
		{"escaped hash outside quotes", `auth_pass a\#b`, "auth_pass a#b"},
		{"escaped bang outside quotes", `auth_pass a\!b`, "auth_pass a!b"},
		{"escape inside quotes kept", `x "a\#b"`, `x "a\#b"`},
		{"escaped quote does not open a string", `x a\"b # c`, `x a\"b`},
		{"trailing backslash kept, blanks before it dropped", "$X=a \\", "$X=a\\"},
		{"tabs trimmed", "\tinterface eth0\t", "interface eth0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := decomment(tc.in); got != tc.want {
				t.Errorf("decomment(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// lexAll returns the logical lines of text, one string each, words joined by
// '|'.
func lexAll(t *testing.T, text string, opts config.LoadOptions) ([]string, config.Diagnostics) {
	t.Helper()
	opts.FS = noFS{}
	var d diags
	lx := newKALexer("k.conf", []byte(text), opts, &d)
	var out []string
	for {
		l, ok := lx.next()
		if !ok {
			return out, d.list
		}
		out = append(out, strings.Join(l.words, "|"))
	}
}

func TestLexLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts config.LoadOptions
		want []string
	}{
		{"braces split", "vrrp_instance VI_1 { state MASTER }\n", config.LoadOptions{},
			[]string{"vrrp_instance|VI_1", "{", "state|MASTER", "}"}},
		{"brace inside quotes", `router_id "a{b}" {` + "\n", config.LoadOptions{},
			[]string{"router_id|a{b}", "{"}},
		{"quoted word with spaces", `notify "/bin/x y" z` + "\n", config.LoadOptions{},
			[]string{"notify|/bin/x y|z"}},
		{"quote ends a word", `a"b c"d` + "\n", config.LoadOptions{},
			[]string{"a|b c|d"}},
		{"single quotes are plain", "a 'b c'\n", config.LoadOptions{},
			[]string{"a|'b|c'"}},
		{"CRLF and blank lines", "a 1\r\n\r\n\n b 2\r\n", config.LoadOptions{},
			[]string{"a|1", "b|2"}},
		{"definitions", "$A=x\n$B=${A}y\nk $B $A,\n", config.LoadOptions{},
			[]string{"k|xy|x,"}},
		{"undefined reference left alone", "k $NOPE $A\n", config.LoadOptions{},
			[]string{"k|$NOPE|$A"}},
		{"multi-line definition", "$M=a 1 \\\n b 2 \\\n c 3\nx\n$M\n", config.LoadOptions{},
			[]string{"x", "a|1", "b|2", "c|3"}},
		{"multi-line definition only at the end of a line", "$M=a \\\n b\nk $M x\n", config.LoadOptions{},
			[]string{"k|$M|x"}},
		// Substituted text is decommented again, so a '#' needs quotes.
		{"standard definitions", "k \"${_HASH}${_BANG}\" $_HASH x\n", config.LoadOptions{},
			[]string{"k|#!"}},
		{"conditional match", "@h1 a 1\n@h2 b 2\n@^h1 c 3\n@^h2 d 4\n@h1\n", config.LoadOptions{ConfigID: "h1"},
			[]string{"a|1", "d|4"}},
		{"config id defaults to the short host name", "@node7 a\n", config.LoadOptions{Hostname: "node7.example.org"},
			[]string{"a"}},
		{"NUL ends a line", "a b\x00c d\n", config.LoadOptions{},
			[]string{"a|b"}},
		{"~SEQ is skipped", "~SEQ(i,1,3) x $i\nk\n", config.LoadOptions{},
			[]string{"k"}},
		{"unmatched quote drops the rest", "a \"b c\n", config.LoadOptions{},
			[]string{"a"}},
		{"include word alone is a keyword", "include\n", config.LoadOptions{},
			[]string{"include"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := lexAll(t, tc.in, tc.opts)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLexPositions(t *testing.T) {
	var d diags
	lx := newKALexer("k.conf", []byte("a\n\n# c\nb { c }\n"), config.LoadOptions{FS: noFS{}}, &d)
	var lines []int
	for {
		l, ok := lx.next()
		if !ok {
			break
		}
		lines = append(lines, l.pos.Line)
	}
	if want := []int{1, 4, 4, 4, 4}; !slices.Equal(lines, want) {
		t.Errorf("lines %v, want %v", lines, want)
	}
}

func TestExpandBraces(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a.conf", []string{"a.conf"}},
		{"{a,b}.conf", []string{"a.conf", "b.conf"}},
		{"x/{a,b{c,d}}/y", []string{"x/a/y", "x/bc/y", "x/bd/y"}},
		{"{a,b}{1,2}", []string{"a1", "a2", "b1", "b2"}},
		{"{a,}", []string{"a", ""}},
		{"un{balanced", []string{"un{balanced"}},
		{`esc\{a,b}`, []string{`esc\{a,b}`}},
	}
	for _, tc := range tests {
		if got := expandBraces(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("expandBraces(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if n := len(expandBraces(strings.Repeat("{a,b}", 20))); n > maxBraceExpansions*2 {
		t.Errorf("expansion not bounded: %d", n)
	}
}

func TestReadUnsigned(t *testing.T) {
	tests := []struct {
		in      string
		lenient bool
		want    uint64
		ok      bool
		msg     string
	}{
		{"100", false, 100, true, ""},
		{"+7", false, 7, true, ""},
		{" 5", false, 5, true, ""},
		{"0", false, 0, false, "outside range [1, 255]"},
		{"256", false, 256, false, "outside range [1, 255]"},
		{"-1", true, 0, false, "negative number"},
		{"12x", true, 12, true, "invalid number '12x'"},
		{"12x", false, 12, false, "invalid number '12x'"},
		{"x", true, 0, false, "invalid number 'x'"},
		{"99999999999999999999999", true, 0, false, "outside unsigned integer range"},
		{"4294967296", true, 0, false, "outside unsigned integer range"},
	}
	for _, tc := range tests {
		got, ok, msg := readUnsigned(tc.in, 1, 255, tc.lenient)
		if ok != tc.ok || (ok && got != tc.want) || !strings.Contains(msg, tc.msg) || (tc.msg == "" && msg != "") {
			t.Errorf("readUnsigned(%q, lenient=%v) = %d, %v, %q; want %d, %v, %q", tc.in, tc.lenient, got, ok, msg, tc.want, tc.ok, tc.msg)
		}
	}
}

func TestReadDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want uint64 // microseconds
		ok   bool
		msg  string
	}{
		{"1", 1_000_000, true, ""},
		{"0.5", 500_000, true, ""},
		{".5", 500_000, true, ""},
		{"2.", 2_000_000, true, ""},
		{"0.0000015", 2, true, "too many decimal places"},
		{"0.0000014", 1, true, "too many decimal places"},
		{"-1", 0, false, "negative number"},
		{"1.2.3", 12, true, "invalid number"}, // "12.30000": strtoull stops at 12, in range
		{"abc", 0, false, "invalid number"},
		{"300", 0, false, "outside range [0.000001, 255.000000]"},
		{"99999999999999999999", 0, false, "outside unsigned decimal range"},
	}
	for _, tc := range tests {
		got, ok, msg := readDecimal(tc.in, 1, 255_000_000, 6, true)
		if ok != tc.ok || (ok && got != tc.want) || !strings.Contains(msg, tc.msg) || (tc.msg == "" && msg != "") {
			t.Errorf("readDecimal(%q) = %d, %v, %q; want %d, %v, %q", tc.in, got, ok, msg, tc.want, tc.ok, tc.msg)
		}
	}
}

func TestReadInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2", 2, true}, {"3", 3, true}, {"4", 0, false}, {"-3", 0, false}, {"3x", 3, true}, {"x", 0, false},
		{"-99999999999999999999", 0, false},
	}
	for _, tc := range tests {
		got, ok, _ := readInt(tc.in, 2, 3, true)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("readInt(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
