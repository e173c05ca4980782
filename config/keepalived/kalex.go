package keepalived

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vipd/vipd/config"
)

// This file turns keepalived.conf text into logical lines the way
// keepalived 2.2.7's lib/parser.c read_line does: comments removed
// (decomment), "@id" conditional lines, "$NAME=value" definitions and their
// substitution, include directives (globs, relative to the including file),
// and every '{' and '}' outside double quotes made a line of its own, so
// "vrrp_instance VI_1 { state MASTER }" reads as four lines.

// kaLine is one logical line: its words, and where it came from.
type kaLine struct {
	pos   config.Pos
	words []string
	// raw is the text the words came from (keepalived's buf_extern): notify
	// and check scripts are split again from it with quotes and escapes.
	raw string
}

func (l kaLine) is(word string) bool { return len(l.words) == 1 && l.words[0] == word }

// includeFlags are keepalived's include_check bits (parser.c include_t).
type includeFlags uint8

const (
	includeRead       includeFlags = 1 << iota // error if a match is unreadable, a directory...
	includeMatch                               // error if a named file is missing
	includeWildcard                            // error if a wildcard matches nothing
	includeBrace                               // error if any brace alternative is missing
	includeAll        = includeRead | includeMatch | includeWildcard | includeBrace
	maxIncludeDepth   = 32   // keepalived has no limit; a loop would never end
	maxSubstitutions  = 1000 // per line; "$A=$A" would loop forever
	maxExpandedLength = 1 << 16
	maxFilesOpened    = 1000    // includes of globs that include themselves grow exponentially
	maxExpandedLines  = 100_000 // likewise multi-line definitions made of multi-line definitions
	maxSubstituted    = 1 << 24 // bytes rewritten by substitution in a whole load
)

// kaDef is a "$NAME=value" definition; multi-line ones (value ending in a
// backslash) hold one entry per line.
type kaDef struct {
	lines     []string
	multiline bool
	fn        func(params []uint64) string // standard definitions ($_PWD ...)
	maxParams int
}

// kaFile is an open configuration file.
type kaFile struct {
	path  string
	data  []byte // what is left to read
	line  int
	level int          // include nesting
	check includeFlags // include_check to restore when the file ends
}

type kaLexer struct {
	fsys     config.FileSystem
	configID string
	d        *diags

	files   []*kaFile // stack; the last is being read
	pending []kaLine  // lines produced but not yet returned
	check   includeFlags
	defs    map[string]*kaDef
	// multi is the multi-line definition being read, if any.
	multi *kaDef
	// opened and expanded count included files and lines from multi-line
	// definitions, to stop input that would never end.
	opened, expanded, substituted int
	stopped                       bool
}

func newKALexer(path string, data []byte, opts config.LoadOptions, d *diags) *kaLexer {
	lx := &kaLexer{fsys: opts.Files(), configID: opts.ResolvedConfigID(), d: d, defs: map[string]*kaDef{}}
	lx.files = []*kaFile{{path: path, data: data}}
	lx.defs["_HASH"] = &kaDef{lines: []string{"#"}}
	lx.defs["_BANG"] = &kaDef{lines: []string{"!"}}
	lx.defs["_INSTANCE"] = &kaDef{lines: []string{lx.configID}}
	lx.defs["_PWD"] = &kaDef{fn: func([]uint64) string { return lx.pwd() }}
	lx.defs["_RANDOM"] = &kaDef{maxParams: 2, fn: func(p []uint64) string {
		lo, hi := uint64(0), uint64(32767)
		if len(p) > 0 {
			lo = p[0]
		}
		if len(p) > 1 {
			hi = p[1]
		}
		if hi < lo {
			return strconv.FormatUint(lo, 10)
		}
		return strconv.FormatUint(lo+rand.Uint64N(hi-lo+1), 10)
	}}
	return lx
}

// pwd is keepalived's $_PWD: the directory of the file being read (keepalived
// changes into it while reading an included file).
func (lx *kaLexer) pwd() string {
	if len(lx.files) == 0 {
		return ""
	}
	dir := filepath.Dir(lx.files[len(lx.files)-1].path)
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

func (lx *kaLexer) warn(pos config.Pos, msg string) { lx.d.warn(pos, "", msg) }

// next returns the next logical line, or false at the end of the input.
func (lx *kaLexer) next() (kaLine, bool) {
	for len(lx.pending) == 0 {
		raw, pos, ok := lx.physical()
		if !ok {
			return kaLine{}, false
		}
		lx.physicalLine(raw, pos)
	}
	l := lx.pending[0]
	lx.pending = lx.pending[1:]
	return l, true
}

// physical returns the next raw line of the current file, moving on to the
// file below on the stack when one ends.
func (lx *kaLexer) physical() (string, config.Pos, bool) {
	for len(lx.files) > 0 {
		f := lx.files[len(lx.files)-1]
		if len(f.data) == 0 {
			lx.files = lx.files[:len(lx.files)-1]
			lx.check = f.check
			if lx.multi != nil {
				lx.multi = nil // keepalived ends a definition at a blank line; EOF is one
			}
			continue
		}
		var line []byte
		if i := bytes.IndexByte(f.data, '\n'); i >= 0 {
			line, f.data = f.data[:i], f.data[i+1:]
		} else {
			line, f.data = f.data, nil
		}
		f.line++
		// C strings end at a NUL.
		if i := bytes.IndexByte(line, 0); i >= 0 {
			line = line[:i]
		}
		return strings.TrimRight(string(line), "\r\n"), config.Pos{File: f.path, Line: f.line}, true
	}
	return "", config.Pos{}, false
}

func (lx *kaLexer) physicalLine(raw string, pos config.Pos) {
	if lx.multi != nil {
		// Continuation of a multi-line definition: a blank line ends it, as
		// does a line without a trailing backslash (which still belongs to it).
		if raw == "" {
			lx.multi = nil
			return
		}
		text := decomment(raw)
		more := strings.HasSuffix(text, "\\")
		if more {
			text = strings.TrimRight(strings.TrimSuffix(text, "\\"), " \t")
		}
		if text != "" {
			lx.multi.lines = append(lx.multi.lines, text)
		}
		if !more {
			lx.multi = nil
		}
		return
	}
	text := decomment(raw)
	if text == "" {
		return
	}
	lx.logical(text, pos, 0)
}

// logical handles one decommented line: conditionals, definitions,
// substitution, include, then brace splitting. depth bounds the recursion
// through multi-line definitions.
func (lx *kaLexer) logical(text string, pos config.Pos, depth int) {
	if depth > maxIncludeDepth {
		lx.d.err(pos, "", "parameter definitions nest too deeply")
		return
	}
	var extra []string
	for {
		if text == "" {
			return
		}
		if text[0] == '@' {
			var keep bool
			if text, keep = lx.conditional(text); !keep {
				return
			}
		}
		if text[0] == '$' && lx.define(text) {
			return
		}
		if strings.HasPrefix(text, "~SEQ") || strings.HasPrefix(text, "~LST") {
			lx.warn(pos, text[:4]+" is not supported yet; line ignored")
			return
		}
		if text[0] == '~' || !strings.Contains(text, "$") {
			break
		}
		var changed, ok bool
		text, extra, changed, ok = lx.substitute(text, pos, extra)
		if !ok {
			return
		}
		if !changed {
			break
		}
		text = decomment(text)
		if text == "" || (text[0] != '@' && !strings.Contains(text, "$")) {
			break
		}
	}
	if text != "" && !lx.include(text, pos) {
		lx.split(text, pos)
	}
	for _, e := range extra {
		if lx.expanded++; lx.expanded > maxExpandedLines {
			if !lx.stopped {
				lx.d.err(pos, "", fmt.Sprintf("multi-line definitions expand to more than %d lines", maxExpandedLines))
				lx.stopped = true
			}
			return
		}
		lx.logical(e, pos, depth+1)
	}
}

// conditional handles "@ID rest" and "@^ID rest": the rest is kept only when
// ID matches (or, with ^, does not match) the config id.
func (lx *kaLexer) conditional(text string) (string, bool) {
	rest := text[1:]
	invert := strings.HasPrefix(rest, "^")
	if invert {
		rest = rest[1:]
	}
	sp := strings.IndexAny(rest, " \t")
	if sp < 0 {
		return "", false
	}
	if (rest[:sp] == lx.configID) == invert {
		return "", false
	}
	return strings.TrimLeft(rest[sp:], " \t"), true
}

// define handles "$NAME=value" (check_definition). It reports whether the
// line was a definition.
func (lx *kaLexer) define(text string) bool {
	eq := strings.IndexByte(text, '=')
	if eq < 2 || !isDefName(text[1:eq]) {
		return false
	}
	name := text[1:eq]
	value := strings.TrimLeft(text[eq+1:], " \t")
	def := &kaDef{}
	if strings.HasSuffix(value, "\\") {
		def.multiline = true
		value = strings.TrimRight(strings.TrimSuffix(value, "\\"), " \t")
		lx.multi = def
	}
	if value != "" || !def.multiline {
		def.lines = []string{value}
	}
	lx.defs[name] = def
	return true
}

func isDefName(s string) bool {
	if s == "" || !(isAlpha(s[0]) || s[0] == '_') {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isAlpha(s[i]) && !isDigit(s[i]) && s[i] != '_' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// substitute replaces $NAME and ${NAME} by their definitions (replace_param).
// Replacement text is scanned again, as in keepalived. A multi-line
// definition may only end a line; its first line replaces the reference and
// the others follow as lines of their own (returned in extra).
func (lx *kaLexer) substitute(text string, pos config.Pos, extra []string) (out string, more []string, changed, ok bool) {
	for i, count := 0, 0; i < len(text)-1; {
		if text[i] != '$' {
			i++
			continue
		}
		def, refLen, params := lx.reference(text[i+1:])
		if def == nil {
			i++
			continue
		}
		// Replacement text is scanned again (so definitions can use others);
		// a definition that refers to itself would never end.
		if count++; count > maxSubstitutions {
			lx.d.err(pos, "", "parameter substitution does not terminate (does a definition refer to itself?)")
			return text, extra, changed, false
		}
		var value string
		switch {
		case def.fn != nil:
			value = def.fn(params)
		case len(def.lines) > 0:
			value = def.lines[0]
			if def.multiline {
				extra = append(slices.Clone(def.lines[1:]), extra...)
			}
		}
		if len(text)-refLen-1+len(value) > maxExpandedLength {
			lx.d.err(pos, "", "parameter substitution makes the line too long")
			return text, extra, changed, false
		}
		if lx.substituted += len(text) + len(value); lx.substituted > maxSubstituted {
			if !lx.stopped {
				lx.d.err(pos, "", "parameter substitution produces too much text")
				lx.stopped = true
			}
			return text, extra, changed, false
		}
		text = text[:i] + value + text[i+1+refLen:]
		changed = true
		if strings.HasPrefix(strings.TrimLeft(value, " \t"), "~") {
			break
		}
	}
	return text, extra, changed, true
}

// reference matches a definition reference at s (just after the '$'),
// returning the definition, the length of the reference and any numeric
// parameters (find_definition).
func (lx *kaLexer) reference(s string) (*kaDef, int, []uint64) {
	braces := strings.HasPrefix(s, "{")
	name := s
	if braces {
		name = s[1:]
	}
	n := 0
	for n < len(name) && (isAlpha(name[n]) || isDigit(name[n]) || name[n] == '_') {
		n++
	}
	if n == 0 || isDigit(name[0]) {
		return nil, 0, nil
	}
	var params []uint64
	refLen := n
	if braces {
		rest := name[n:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return nil, 0, nil
		}
		ps := rest[:end]
		if strings.Trim(ps, " 0123456789") != "" || (strings.TrimSpace(ps) != "" && strings.HasSuffix(ps, " ")) {
			return nil, 0, nil
		}
		for _, f := range strings.Fields(ps) {
			v, _, _ := strtoul(f)
			params = append(params, v)
		}
		refLen = 1 + n + end + 1
	} else if n < len(name) && strings.IndexByte(" \t,)", name[n]) < 0 {
		return nil, 0, nil
	}
	def := lx.defs[name[:n]]
	if def == nil {
		return nil, 0, nil
	}
	atEnd := refLen == len(s)
	if def.multiline && !atEnd {
		return nil, 0, nil
	}
	if len(params) > 0 && def.maxParams == 0 {
		return nil, 0, nil
	}
	return def, refLen, params
}

// split cuts a line before and after every '{' and '}' outside double
// quotes and tokenizes each piece.
func (lx *kaLexer) split(text string, pos config.Pos) {
	for text != "" {
		cut := braceIndex(text)
		var piece string
		switch {
		case cut < 0:
			piece, text = text, ""
		case cut == 0:
			piece, text = text[:1], strings.TrimLeft(text[1:], " \t")
		default:
			piece, text = text[:cut], text[cut:]
		}
		piece = strings.TrimRight(piece, " \t")
		if words := lx.tokenize(piece, pos); len(words) > 0 {
			lx.pending = append(lx.pending, kaLine{pos: pos, words: words, raw: piece})
		}
	}
}

// braceIndex finds the first '{' or '}' not inside "...", or -1. An
// unmatched quote hides the rest of the line, as in read_line.
func braceIndex(s string) int {
	if s[0] == '{' || s[0] == '}' {
		return 0
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{', '}':
			return i
		case '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return -1
			}
			i += j + 1
		}
	}
	return -1
}

// tokenize splits a line into words (alloc_strvec_r): white space separates
// words and "..." is one word without its quotes. Single quotes and
// backslashes have no special meaning here.
func (lx *kaLexer) tokenize(s string, pos config.Pos) []string {
	var words []string
	i := 0
	for {
		for i < len(s) && strings.IndexByte(cWhitespace, s[i]) >= 0 {
			i++
		}
		if i >= len(s) {
			return words
		}
		if s[i] == '"' {
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				lx.warn(pos, fmt.Sprintf("unmatched quote in %q; rest of line ignored, as keepalived does", s))
				return words
			}
			words = append(words, s[i+1:i+1+j])
			i += j + 2
			continue
		}
		j := strings.IndexAny(s[i:], cWhitespace+`"`)
		if j < 0 {
			j = len(s) - i
		}
		words = append(words, s[i:i+j])
		i += j
	}
}

// decomment removes leading and trailing blanks and a '!' or '#' comment
// outside double quotes; "\#" and "\!" outside quotes stand for the
// character itself. A final backslash is kept (it continues definitions).
func decomment(s string) string {
	s = strings.TrimLeft(s, " \t")
	var b strings.Builder
	quote, cont := false, false
	cut := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			if cut < 0 {
				quote = !quote
			}
		case c == '\\':
			if i+1 == len(s) {
				cont = true
				continue
			}
			i++
			if quote || (s[i] != '#' && s[i] != '!') {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
			continue
		case (c == '!' || c == '#') && !quote && cut < 0:
			cut = b.Len()
		}
		b.WriteByte(c)
	}
	out := b.String()
	if cut >= 0 {
		out = out[:cut]
	}
	out = strings.TrimRight(out, " \t")
	if cont {
		out += "\\"
	}
	return out
}

// include handles "include PATTERN" and its checking variants
// (includer, includem, includew, includeb, includea). It reports whether the
// line was an include.
func (lx *kaLexer) include(text string, pos config.Pos) bool {
	if !strings.HasPrefix(text, "include") || len(text) < 9 {
		return false
	}
	flags := includeFlags(0)
	rest := text[7:]
	if !isSpace(rest[0]) {
		switch rest[0] {
		case 'r':
			flags = includeRead
		case 'm':
			flags = includeRead | includeMatch
		case 'w':
			flags = includeRead | includeMatch | includeWildcard
		case 'b':
			flags = includeRead | includeBrace
		case 'a':
			flags = includeAll
		default:
			return false
		}
		if !isSpace(rest[1]) {
			return false
		}
		rest = rest[1:]
	}
	pattern := strings.TrimLeft(rest, " \t")
	lx.openGlob(pattern, flags, pos)
	return true
}

func isSpace(c byte) bool { return strings.IndexByte(cWhitespace, c) >= 0 }

// report is file_config_error: an error when the active include checks (or
// the include's own) ask for this one, otherwise a warning, as keepalived
// only logs it.
func (lx *kaLexer) report(flags, which includeFlags, pos config.Pos, msg string) {
	if (lx.check|flags)&which != 0 {
		lx.d.err(pos, "include", msg)
	} else {
		lx.d.warn(pos, "include", msg)
	}
}

// openGlob expands an include pattern relative to the including file's
// directory and pushes the files it names, first match on top.
func (lx *kaLexer) openGlob(pattern string, flags includeFlags, pos config.Pos) {
	top := lx.files[len(lx.files)-1]
	if top.level+1 > maxIncludeDepth {
		lx.d.err(pos, "include", fmt.Sprintf("includes nest more than %d deep (does a file include itself?)", maxIncludeDepth))
		return
	}
	full := pattern
	if !filepath.IsAbs(pattern) {
		full = filepath.Join(filepath.Dir(top.path), pattern)
	}
	alts := expandBraces(full)
	hasBrace := len(alts) > 1 || strings.Contains(pattern, "{")
	var matches []string
	missing := false
	for _, alt := range alts {
		if !hasMeta(alt) {
			if _, err := lx.fsys.Stat(unescapeGlob(alt)); err != nil {
				missing = true
				continue
			}
			matches = append(matches, unescapeGlob(alt))
			continue
		}
		m, err := lx.fsys.Glob(alt)
		if err != nil {
			lx.report(flags, includeRead, pos, fmt.Sprintf("error reading config file(s) %q: %v, skipping", pattern, err))
			return
		}
		if len(m) == 0 {
			if _, err := lx.fsys.Stat(filepath.Dir(alt)); err != nil && !hasMeta(filepath.Dir(alt)) {
				missing = true
			}
		}
		matches = append(matches, m...)
	}
	switch {
	case len(matches) == 0 && missing:
		which := includeMatch
		if hasBrace {
			which = includeBrace
		}
		lx.report(flags, which, pos, fmt.Sprintf("config files missing %q", pattern))
		return
	case len(matches) == 0:
		lx.report(flags, includeWildcard, pos, fmt.Sprintf("no config files matched %q", pattern))
		return
	case missing:
		lx.report(flags, includeBrace, pos, fmt.Sprintf("some config files missing: %q", pattern))
		if (lx.check|flags)&includeBrace != 0 {
			return
		}
	}
	if lx.opened += len(matches); lx.opened > maxFilesOpened {
		lx.d.err(pos, "include", fmt.Sprintf("more than %d files included (do includes include each other?)", maxFilesOpened))
		lx.files = lx.files[:0] // stop reading
		return
	}
	var opened []*kaFile
	for _, name := range matches {
		if data, ok := lx.openOne(name, flags, pos); ok {
			opened = append(opened, &kaFile{path: name, data: data, level: top.level + 1, check: lx.check})
		}
	}
	if len(opened) == 0 {
		lx.d.warn(pos, "include", fmt.Sprintf("no config files matched %q", pattern))
	}
	for i := len(opened) - 1; i >= 0; i-- {
		lx.files = append(lx.files, opened[i])
	}
}

// openOne reads one matched file; like keepalived's check_glob_file it skips
// directories and anything that is not a regular, non-executable file.
func (lx *kaLexer) openOne(name string, flags includeFlags, pos config.Pos) ([]byte, bool) {
	st, err := lx.fsys.Stat(name)
	switch {
	case err != nil:
		lx.report(flags, includeRead, pos, fmt.Sprintf("configuration file %q open problem (%v) - skipping", name, config.ErrorText(err)))
		return nil, false
	case st.IsDir():
		lx.report(flags, includeRead, pos, fmt.Sprintf("configuration file %q is a directory - skipping", name))
		return nil, false
	case !st.Mode().IsRegular() || st.Mode()&0o111 != 0:
		lx.report(flags, includeRead, pos, fmt.Sprintf("configuration file %q is not a regular non-executable file - skipping", name))
		return nil, false
	}
	data, err := config.ReadFileFS(lx.fsys, name)
	if err != nil {
		lx.report(flags, includeRead, pos, fmt.Sprintf("configuration file %q open problem (%v) - skipping", name, config.ErrorText(err)))
		return nil, false
	}
	return data, true
}

// hasMeta reports whether a glob pattern has wildcards.
func hasMeta(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			i++
		case '*', '?', '[':
			return true
		}
	}
	return false
}

// unescapeGlob removes the backslashes of a pattern without wildcards.
func unescapeGlob(p string) string {
	if !strings.Contains(p, "\\") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			i++
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// maxBraceExpansions bounds csh-style brace expansion ("{a,b}{c,d}..." grows
// exponentially).
const maxBraceExpansions = 1024

// expandBraces performs glob(3)'s GLOB_BRACE expansion: "a{b,c{d,e}}f" is
// abf, acdf, acef, in that order. Unbalanced braces are left alone.
func expandBraces(p string) []string {
	out := []string{p}
	for changed := true; changed && len(out) <= maxBraceExpansions; {
		changed = false
		var next []string
		for _, s := range out {
			alts, ok := expandFirstBrace(s)
			if ok {
				changed = true
			}
			next = append(next, alts...)
		}
		out = next
	}
	if len(out) > maxBraceExpansions {
		out = out[:maxBraceExpansions]
	}
	return out
}

// expandFirstBrace expands the first top-level {..,..} group of s.
func expandFirstBrace(s string) ([]string, bool) {
	start := -1
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			continue
		}
		if s[i] == '{' {
			start = i
			break
		}
	}
	if start < 0 {
		return []string{s}, false
	}
	depth := 0
	var commas []int
	end := -1
	for i := start; i < len(s) && end < 0; i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				end = i
			}
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		}
	}
	if end < 0 {
		return []string{s}, false
	}
	prefix, suffix := s[:start], s[end+1:]
	bounds := append(append([]int{start}, commas...), end)
	var out []string
	for k := 0; k+1 < len(bounds); k++ {
		out = append(out, prefix+s[bounds[k]+1:bounds[k+1]]+suffix)
	}
	return out, true
}
