package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
)

func TestSplitQuotedEscaped(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{"plain words", "  /bin/check  -a\tb ", []string{"/bin/check", "-a", "b"}, ""},
		{"double quotes group", `sh -c "a b"`, []string{"sh", "-c", "a b"}, ""},
		{"single quotes group", `sh -c 'dig @x | grep "y"'`, []string{"sh", "-c", `dig @x | grep "y"`}, ""},
		{"quotes glue to text", `a"b c"'d e'f`, []string{"ab cd ef"}, ""},
		{"empty quotes are a word", `a "" b`, []string{"a", "", "b"}, ""},
		{"backslash escapes a blank", `a\ b c`, []string{"a b", "c"}, ""},
		{"backslash escapes a quote", `it\'s "say \"hi\""`, []string{"it's", `say "hi"`}, ""},
		{"backslash works inside single quotes", `'a\'b'`, []string{"a'b"}, ""},
		{"C escapes", `\t\n\a\b\f\r\v\E`, []string{"\t\n\a\b\f\r\v\x1b"}, ""},
		{"hex escape takes every hex digit, keeping the low byte", `\x41\x4a42`, []string{"AB"}, ""},
		{"\\x without digits is x", `\xg`, []string{"xg"}, ""},
		{"octal escape up to three digits", `\101\1011`, []string{"AA1"}, ""},
		{"control escape", `\cA\c[`, []string{"\x01\x1b"}, ""},
		{"NUL cuts the word", `ab\0cd e`, []string{"ab", "e"}, ""},
		{"no shell expansion", `$HOME *.sh >out`, []string{"$HOME", "*.sh", ">out"}, ""},
		{"blank", "  \t", nil, ""},
		{"unterminated double quote", `a "b`, nil, `missing terminating "`},
		{"unterminated single quote", `a 'b`, nil, "missing terminating '"},
		{"trailing backslash", `a\`, nil, "missing escaped character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.SplitCommand(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q (words %q)", err, tc.wantErr, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
