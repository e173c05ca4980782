package priority

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// ConfigSource is the Source of an Order given inline in the configuration
// (OrderConfig.Nodes) rather than in an order file.
const ConfigSource = "config"

// OrderNode is one node of an order.
type OrderNode struct {
	// Name is the node's name, as its config.Node.Name. Names compare
	// case-insensitively, like the host names they default to.
	Name string
	// Disabled nodes keep their place in the order but are out of service.
	Disabled bool
	// Line is the node's 1-based line in the order file, or its 1-based
	// item number in a configured order; 0 in a cluster-wide order as
	// gossip carries it (only names and flags travel).
	Line int
}

// Order is an N-way order of node names: the first healthy, enabled node
// is master, the next its first backup, and so on. It is the one type for
// an order wherever it is: read from an order file or the configuration
// (ParseOrder, FromConfig: Source and Digest set), or agreed cluster-wide
// (package gossip: Instance, Version and Origin set). How an instance uses
// an order is its OrderConfig.
type Order struct {
	// Instance is the instance the order is for. Package gossip sets it on
	// cluster-wide orders; a local order's instance is the one reading it.
	Instance string
	// Nodes are the nodes in order, disabled ones included (they keep
	// their slot, so disabling a node changes no other node's priority).
	Nodes []OrderNode
	// Source is the order file's path, or ConfigSource; for a
	// cluster-wide order, what its user calls it.
	Source string
	// Digest is the hex SHA-256 of the content the order was parsed from;
	// two nodes with the same Digest have the same order. Empty in a
	// cluster-wide order.
	Digest string
	// Version orders the versions of a cluster-wide order (a Lamport
	// timestamp: one more than any version its writer had seen); 0 for
	// an order read locally.
	Version uint64
	// Origin is the node that wrote this version of a cluster-wide order.
	Origin string
}

// Find returns the index in Nodes of the node called name and its entry;
// ok is false when the node is not listed.
func (l *Order) Find(name string) (index int, e OrderNode, ok bool) {
	if l == nil || name == "" {
		return -1, OrderNode{}, false
	}
	for i, e := range l.Nodes {
		if strings.EqualFold(e.Name, name) {
			return i, e, true
		}
	}
	return -1, OrderNode{}, false
}

// where names a place in the order for people: "order file PATH:LINE",
// "configured order, item N", or a cluster-wide order's Source (its
// version and origin: its lines are nobody's file).
func (l *Order) where(line int) string {
	if l.Version > 0 {
		return l.Source
	}
	if l.Source == ConfigSource {
		if line > 0 {
			return "configured order, item " + strconv.Itoa(line)
		}
		return "configured order"
	}
	if line > 0 {
		return "order file " + l.Source + ":" + strconv.Itoa(line)
	}
	return "order file " + l.Source
}

// ProblemKind says what is wrong in an order.
type ProblemKind int

// The problems an order can have. None is fatal: the offending line is
// left out (or, for the last two, only reported) and the rest is used.
const (
	// ProblemInvalidName is a line whose word is not a valid node name.
	ProblemInvalidName ProblemKind = iota + 1
	// ProblemSeveralNames is a line with more than one word.
	ProblemSeveralNames
	// ProblemDuplicate is a node listed again; the first listing counts.
	ProblemDuplicate
	// ProblemSelfMissing says this node is not in the order at all.
	ProblemSelfMissing
	// ProblemUnknownNode is a listed name that is not a known node.
	ProblemUnknownNode
	// ProblemUnreadable says the order file could not be read; the last
	// good order stays in force.
	ProblemUnreadable
)

// String returns a short name for the kind, for logs and metrics.
func (k ProblemKind) String() string {
	switch k {
	case ProblemInvalidName:
		return "invalid-name"
	case ProblemSeveralNames:
		return "several-names"
	case ProblemDuplicate:
		return "duplicate"
	case ProblemSelfMissing:
		return "self-missing"
	case ProblemUnknownNode:
		return "unknown-node"
	case ProblemUnreadable:
		return "unreadable"
	}
	return "ProblemKind(" + strconv.Itoa(int(k)) + ")"
}

// Problem is one thing wrong with an order. It is an error so callers
// can log or wrap it, but it never stops the order from being used.
type Problem struct {
	Kind ProblemKind
	// Source is the order file's path or ConfigSource.
	Source string
	// Line is the 1-based line (or configured item); 0 for the order as a
	// whole.
	Line int
	// Name is the node name concerned, if any.
	Name string
	// Msg says what is wrong.
	Msg string
}

// Error returns "SOURCE:LINE: MSG" (or "SOURCE: MSG" without a line).
func (p Problem) Error() string {
	if p.Line > 0 {
		return p.Source + ":" + strconv.Itoa(p.Line) + ": " + p.Msg
	}
	return p.Source + ": " + p.Msg
}

// MaxNameLen is the longest node name accepted (a DNS name's limit).
const MaxNameLen = 253

// ValidName reports whether s can be a node name in an order: 1 to
// MaxNameLen letters, digits, '.', '-' or '_', starting with a letter or
// digit. That covers host names and keepalived router_ids while keeping
// '#' and spaces free for the file syntax.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameLen || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ParseOrder reads an order file's content. src names it in the Order and in
// problems (a path, normally).
//
// The format, line by line (surrounding blanks do not matter):
//
//	cnh            a node, enabled
//	# sby          a node, disabled ("#sby" too): it keeps its slot
//	wcdc  # note   a trailing comment, after a word starting with '#'
//	## any words   a comment
//	# two words    a comment: a '#' line is a disabled node only when it
//	               holds exactly one valid name
//	               (blank lines are ignored)
//
// So a one-word comment reads as a disabled node; write it with "##".
// Lines that are not valid (several names, a bad name, a node listed twice)
// are left out and reported; the rest of the order is still used.
func ParseOrder(src string, data []byte) (Order, []Problem) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // editors on other systems add a BOM
	sum := sha256.Sum256(data)
	p := orderParser{order: Order{Source: src, Digest: hex.EncodeToString(sum[:])}}
	for i, line := range strings.Split(string(data), "\n") {
		p.line(i+1, line, false)
	}
	return p.order, p.problems
}

// FromConfig builds the Order of an order given inline in the configuration
// (OrderConfig.Nodes). Items use the file syntax, so "#sby" disables sby;
// an item that is blank, a comment or not one valid name is reported.
func FromConfig(nodes []string) (Order, []Problem) {
	sum := sha256.Sum256([]byte(strings.Join(nodes, "\n")))
	p := orderParser{order: Order{Source: ConfigSource, Digest: hex.EncodeToString(sum[:])}}
	for i, n := range nodes {
		p.line(i+1, n, true)
	}
	return p.order, p.problems
}

type orderParser struct {
	order    Order
	problems []Problem
	seen     map[string]int // lower-cased name → line of first listing
}

func (p *orderParser) report(k ProblemKind, line int, name, format string, args ...any) {
	p.problems = append(p.problems, Problem{
		Kind: k, Source: p.order.Source, Line: line, Name: name, Msg: fmt.Sprintf(format, args...),
	})
}

// line parses one line (or configured item). strict reports items that
// hold no name, which in a file are just blank or comment lines.
func (p *orderParser) line(n int, raw string, strict bool) {
	s := strings.TrimSpace(raw)
	if s == "" || strings.HasPrefix(s, "##") {
		if strict {
			p.report(ProblemInvalidName, n, "", "item %q holds no node name", raw)
		}
		return
	}
	disabled := s[0] == '#'
	if disabled {
		s = s[1:]
	}
	words := strings.Fields(s)
	for i, w := range words {
		if strings.HasPrefix(w, "#") {
			words = words[:i]
			break
		}
	}
	switch {
	case disabled && (len(words) != 1 || !ValidName(words[0])):
		// A comment, not a node: see ParseOrder.
		if strict {
			p.report(ProblemInvalidName, n, "", "item %q holds no node name", raw)
		}
		return
	case len(words) > 1:
		p.report(ProblemSeveralNames, n, "", "%d words %q: one node name per line", len(words), strings.Join(words, " "))
		return
	case !ValidName(words[0]):
		p.report(ProblemInvalidName, n, words[0], "invalid node name %q (letters, digits, '.', '-', '_'; at most %d)", words[0], MaxNameLen)
		return
	}
	name := words[0]
	key := strings.ToLower(name)
	if first, dup := p.seen[key]; dup {
		p.report(ProblemDuplicate, n, name, "node %s already listed at %s; this one is ignored", name, p.order.where(first))
		return
	}
	if p.seen == nil {
		p.seen = make(map[string]int)
	}
	p.seen[key] = n
	p.order.Nodes = append(p.order.Nodes, OrderNode{Name: name, Disabled: disabled, Line: n})
}

// Validate reports what is wrong with the order for this node: self (this
// node's name) missing, and, when known is not nil, listed names that are
// not among the known nodes. Neither stops the order from being used.
func (l *Order) Validate(self string, known []string) []Problem {
	var out []Problem
	if self != "" {
		if _, _, ok := l.Find(self); !ok {
			out = append(out, Problem{
				Kind: ProblemSelfMissing, Source: l.Source, Name: self,
				Msg: fmt.Sprintf("this node (%s) is not in the order", self),
			})
		}
	}
	if known == nil {
		return out
	}
	for _, e := range l.Nodes {
		isKnown := false
		for _, k := range known {
			if strings.EqualFold(k, e.Name) {
				isKnown = true
				break
			}
		}
		if !isKnown {
			out = append(out, Problem{
				Kind: ProblemUnknownNode, Source: l.Source, Line: e.Line, Name: e.Name,
				Msg: fmt.Sprintf("unknown node %s", e.Name),
			})
		}
	}
	return out
}
