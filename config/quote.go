package config

import (
	"fmt"
	"strings"
)

// cWhitespace is C's isspace set, which separates words in keepalived's
// command lines.
const cWhitespace = " \t\f\n\r\v"

// SplitCommand splits a command line into words the way keepalived
// 2.2.7 splits script and notify strings (lib/parser.c,
// alloc_strvec_quoted_escaped): white space separates words; "..." and
// '...' group text, and may be glued to other text ("a"'b'c is one word);
// a backslash escapes the next character everywhere, quotes included, and
// knows C's escapes (\n, \t, \a, \b, \f, \r, \v, \E for ESC, \cX for a
// control character, \xHH hexadecimal, \NNN octal). A word is cut at a NUL,
// as C strings are. No shell is involved: $VAR, globs, pipes and
// redirections are plain text. It returns no words for blank input, and an
// error for an unterminated quote or a trailing backslash, which keepalived
// rejects. Both formats use it for script and notify command lines.
func SplitCommand(s string) ([]string, error) {
	var words []string
	i := 0
	for {
		for i < len(s) && strings.IndexByte(cWhitespace, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return words, nil
		}
		var w []byte
		var quote byte
	word:
		for i < len(s) {
			c := s[i]
			switch {
			case c == '\\':
				i++
				if i >= len(s) {
					return nil, fmt.Errorf("missing escaped character at the end of %q", s)
				}
				var b byte
				b, i = unescape(s, i)
				w = append(w, b)
			case quote != 0 && c == quote:
				quote = 0
				i++
			case quote != 0:
				w = append(w, c)
				i++
			case c == '"' || c == '\'':
				quote = c
				i++
			case strings.IndexByte(cWhitespace, c) >= 0:
				break word
			default:
				w = append(w, c)
				i++
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("missing terminating %c in %q", quote, s)
		}
		if j := strings.IndexByte(string(w), 0); j >= 0 {
			w = w[:j]
		}
		words = append(words, string(w))
	}
}

// unescape decodes the escape whose first character (after the backslash)
// is s[i], returning the byte and the index after the escape.
func unescape(s string, i int) (byte, int) {
	c := s[i]
	switch {
	case c == 'x' && i+1 < len(s) && isHex(s[i+1]):
		// keepalived accumulates every following hex digit into one char.
		var b byte
		for i++; i < len(s) && isHex(s[i]); i++ {
			b = b<<4 | hexVal(s[i])
		}
		return b, i
	case c == 'c' && i+1 < len(s):
		return s[i+1] & 0x1f, i + 2
	case c >= '0' && c <= '7':
		b := c - '0'
		i++
		for range 2 {
			if i < len(s) && s[i] >= '0' && s[i] <= '7' {
				b = b<<3 + (s[i] - '0')
				i++
			}
		}
		return b, i
	}
	switch c {
	case 'a':
		c = '\a'
	case 'b':
		c = '\b'
	case 'E':
		c = 0x1b
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	case 'v':
		c = '\v'
	}
	return c, i + 1
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
