package config

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/vipd/vipd/config/internal/machine"
)

// maxFileSize bounds what is read from one configuration file; a real
// configuration is a few kilobytes.
const maxFileSize = 16 << 20

// LoadOptions tunes a load (config/load.File, ParseYAML, and the
// keepalived.conf front end). The zero value is ready to use.
type LoadOptions struct {
	// Host, if set, answers questions about this machine (interface
	// addresses, for the address-owner check of priority 255). When nil
	// those checks are skipped silently.
	Host Host
	// Hostname is this machine's name, the default node name (keepalived's
	// router_id). Empty means os.Hostname().
	Hostname string
	// ConfigID is keepalived's -i option: lines of keepalived.conf starting
	// "@ID " are kept only when ID matches it. Empty means the host name up
	// to its first dot, as in keepalived.
	ConfigID string

	// FS replaces the real file system (keepalived.conf includes), in
	// tests and fuzzing; nil is the real one.
	FS FileSystem
	// System replaces the machine (users, file owners, who vipd runs as)
	// for the script checks; nil is this machine. Only this module's tests
	// set it: its type is internal.
	System machine.System
}

// ResolvedHostname returns Hostname, or os.Hostname() when it is empty
// ("" if that fails).
func (o LoadOptions) ResolvedHostname() string {
	if o.Hostname != "" {
		return o.Hostname
	}
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

// ResolvedConfigID returns ConfigID, or the host name up to its first dot
// when it is empty, as keepalived does.
func (o LoadOptions) ResolvedConfigID() string {
	if o.ConfigID != "" {
		return o.ConfigID
	}
	h := o.ResolvedHostname()
	if i := strings.IndexByte(h, '.'); i >= 0 {
		h = h[:i]
	}
	return h
}

// Machine returns System, or this machine when it is nil.
func (o LoadOptions) Machine() machine.System {
	if o.System != nil {
		return o.System
	}
	return machine.OS{}
}

// Files returns FS, or the real file system when it is nil.
func (o LoadOptions) Files() FileSystem {
	if o.FS != nil {
		return o.FS
	}
	return osFS{}
}

// FileSystem is what loading needs from the file system: keepalived.conf
// includes open, stat and glob.
type FileSystem interface {
	// Open opens a file for reading.
	Open(name string) (fs.File, error)
	// Stat describes a file, following links.
	Stat(name string) (fs.FileInfo, error)
	// Glob lists the names matching pattern, as filepath.Glob.
	Glob(pattern string) ([]string, error)
}

type osFS struct{}

// Open opens name without blocking: a FIFO put in place of a checked
// regular file opens at once instead of waiting for a writer (readFile
// then refuses it).
func (osFS) Open(name string) (fs.File, error) {
	return os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
func (osFS) Stat(name string) (fs.FileInfo, error) { return os.Stat(name) }
func (osFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// ReadFile reads a configuration file as the loaders do: a regular file of
// at most 16 MiB. Tools that read a configuration before handing it to a
// parser (vipd convert) use it so they accept exactly the same files.
func ReadFile(path string) ([]byte, error) { return readFile(osFS{}, path) }

// ReadFileFS is ReadFile on fsys: how front ends read included files.
func ReadFileFS(fsys FileSystem, path string) ([]byte, error) { return readFile(fsys, path) }

// ErrorText is err's message without the "open NAME:" prefix of a path
// error, for messages that name the file already.
func ErrorText(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err.Error()
	}
	if os.IsNotExist(err) {
		return "no such file or directory"
	}
	return err.Error()
}

// readFile reads a whole file, refusing anything that is not a regular file
// or is larger than maxFileSize. The type is checked before opening: a
// FIFO would block the open, and the read, until some writer came, which
// hung `vipd config check`, the start and every later reload. The open
// does not block either (osFS.Open), and the type is checked again on the
// open file, in case it was swapped in between.
func readFile(fsys FileSystem, name string) ([]byte, error) {
	st, err := fsys.Stat(name)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(name, st.Mode())
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err = f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, notRegular(name, st.Mode())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFileSize)
	}
	return data, nil
}

// notRegular says what name is instead of a regular file.
func notRegular(name string, m fs.FileMode) error {
	what := ""
	switch {
	case m.IsDir():
		what = ": a directory"
	case m&fs.ModeNamedPipe != 0:
		what = ": a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = ": a socket"
	case m&fs.ModeDevice != 0:
		what = ": a device"
	}
	return fmt.Errorf("%s is not a regular file%s", name, what)
}

// TooManyInstances is the error for a file of more than MaxInstances
// instances whose first one past the limit starts at pos (field names it:
// "vrrp_instance").
func TooManyInstances(pos Pos, field string) Diagnostic { return tooManyInstances(pos, field, 0) }

// tooManyInstances is the error for a configuration of n instances, more
// than MaxInstances (0: more, not counted); pos is where the first one
// past the limit starts.
func tooManyInstances(pos Pos, field string, n int) Diagnostic {
	has := "more than " + strconv.Itoa(MaxInstances)
	if n > 0 {
		has = strconv.Itoa(n)
	}
	return Diagnostic{Pos: pos, Field: field, Severity: SeverityError,
		Message: fmt.Sprintf("the configuration has %s instances; vipd supports at most %d (MaxInstances)", has, MaxInstances)}
}

// countYAMLInstances counts the entries of the list under a top-level
// "instances:" key by looking at the bytes only, before the YAML parser
// builds a tree of the whole file (about 50 bytes of memory for each byte
// of a file of many small entries): it returns the count and the line of
// entry MaxInstances+1, if there is one. A block sequence is counted by
// its dashes, a flow one ("instances: [...]") by its top-level items. The
// count is for refusing a file early; validation counts the instances
// parsed, whatever this says.
func countYAMLInstances(data []byte) (n, overLine int) {
	in := false  // inside the instances block sequence
	indent := -1 // the column of its dashes, once known
	count := func(line int) {
		if n++; n == MaxInstances+1 {
			overLine = line
		}
	}
	for line, off := 1, 0; off < len(data); line++ {
		l := data[off:]
		next := len(data)
		if i := bytes.IndexByte(l, '\n'); i >= 0 {
			l, next = l[:i], off+i+1
		}
		start := off
		off = next
		l = bytes.TrimRight(l, " \t\r")
		body := bytes.TrimLeft(l, " ")
		col := len(l) - len(body)
		if len(body) == 0 || body[0] == '#' {
			continue
		}
		isItem := body[0] == '-' && (len(body) == 1 || body[1] == ' ' || body[1] == '\t')
		switch {
		case col == 0 && !isItem:
			// A top-level key (or the document's end) closes the list.
			in = false
			if rest, ok := bytes.CutPrefix(body, []byte("instances:")); ok {
				trimmed := bytes.TrimLeft(rest, " \t")
				switch {
				case len(trimmed) == 0 || trimmed[0] == '#':
					in, indent = true, -1
				case trimmed[0] == '[':
					at := start + len("instances:") + len(rest) - len(trimmed)
					var end int
					end, line = countFlowItems(data, at, line, count)
					// Go on after the list (its closing line).
					for off < end {
						k := bytes.IndexByte(data[off:], '\n')
						if k < 0 {
							off = len(data)
							break
						}
						off += k + 1
					}
				}
			}
		case in && isItem && (indent < 0 || col == indent):
			indent = col
			count(line)
		}
	}
	return n, overLine
}

// countFlowItems calls count for each top-level item of the flow sequence
// whose '[' is data[at], on line; it returns where the sequence ends and
// the line it ends on. Quoted scalars and comments are skipped, so their
// commas and brackets do not count.
func countFlowItems(data []byte, at, line int, count func(line int)) (end, endLine int) {
	depth, expect := 0, false // expect: an item may start here
	for i := at; i < len(data); i++ {
		c := data[i]
		prevSpace := i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'
		switch {
		case c == '\n':
			line++
			continue
		case c == ' ' || c == '\t' || c == '\r':
			continue
		case c == '#' && prevSpace:
			for i < len(data) && data[i] != '\n' {
				i++
			}
			i-- // the newline counts the line
			continue
		}
		if depth == 1 && expect && c != ',' && c != ']' {
			count(line)
			expect = false
		}
		switch {
		case c == '"' || c == '\'':
			if !prevSpace && strings.IndexByte("[{,:", data[i-1]) < 0 {
				continue // inside a plain scalar: it's
			}
			for i++; i < len(data); i++ {
				if data[i] == c {
					if c == '\'' && i+1 < len(data) && data[i+1] == '\'' {
						i++ // '' is a quote inside '...'
						continue
					}
					break
				}
				switch {
				case data[i] == '\n':
					line++
				case data[i] == '\\' && c == '"':
					i++ // an escape inside "..."
				}
			}
		case c == '[' || c == '{':
			depth++
			if depth == 1 {
				expect = true
			}
		case c == ']' || c == '}':
			if depth--; depth == 0 {
				return i + 1, line
			}
		case c == ',' && depth == 1:
			expect = true
		}
	}
	return len(data), line
}
