package priority

import (
	"slices"
	"strings"
	"testing"
)

// problemAt is the part of a Problem a test pins down.
type problemAt struct {
	Kind ProblemKind
	Line int
	Name string
}

func problemsAt(ps []Problem) []problemAt {
	var out []problemAt
	for _, p := range ps {
		out = append(out, problemAt{p.Kind, p.Line, p.Name})
	}
	return out
}

func TestParseOrder(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		want     []OrderNode
		problems []problemAt
	}{
		{
			name: "one name per line",
			data: "cnh\nsby\nwcdc\n",
			want: []OrderNode{{"cnh", false, 1}, {"sby", false, 2}, {"wcdc", false, 3}},
		},
		{
			name: "no final newline, blank lines and surrounding blanks",
			data: "\n  cnh  \n\n\tsby\n\n   \nwcdc",
			want: []OrderNode{{"cnh", false, 2}, {"sby", false, 4}, {"wcdc", false, 7}},
		},
		{
			name: "CRLF line ends and a byte order mark",
			data: "\xef\xbb\xbfcnh\r\nsby\r\n",
			want: []OrderNode{{"cnh", false, 1}, {"sby", false, 2}},
		},
		{
			name: "hash disables a node, with or without a space",
			data: "#cnh\n# sby\n  #   wcdc\n",
			want: []OrderNode{{"cnh", true, 1}, {"sby", true, 2}, {"wcdc", true, 3}},
		},
		{
			name: "comments are not nodes",
			data: "## order for testdns0\n# primary site first\n#\n# ----\ncnh\n",
			want: []OrderNode{{"cnh", false, 5}},
		},
		{
			name: "trailing comments",
			data: "cnh # primary\n# sby # down for maintenance\nwcdc\t#note\n",
			want: []OrderNode{{"cnh", false, 1}, {"sby", true, 2}, {"wcdc", false, 3}},
		},
		{
			name: "names with dots, dashes, underscores and digits",
			data: "dns-1.example.org\nLVS_DEVEL\n10node\n",
			want: []OrderNode{{"dns-1.example.org", false, 1}, {"LVS_DEVEL", false, 2}, {"10node", false, 3}},
		},
		{
			name:     "several names on a line are reported and skipped",
			data:     "cnh sby\nwcdc\n",
			want:     []OrderNode{{"wcdc", false, 2}},
			problems: []problemAt{{ProblemSeveralNames, 1, ""}},
		},
		{
			name:     "invalid names are reported and skipped",
			data:     "cnh!\n-sby\nwcdc\n" + strings.Repeat("a", MaxNameLen+1) + "\n",
			want:     []OrderNode{{"wcdc", false, 3}},
			problems: []problemAt{{ProblemInvalidName, 1, "cnh!"}, {ProblemInvalidName, 2, "-sby"}, {ProblemInvalidName, 4, strings.Repeat("a", MaxNameLen+1)}},
		},
		{
			name:     "a duplicate is reported and the first listing counts",
			data:     "cnh\nsby\nCNH\n",
			want:     []OrderNode{{"cnh", false, 1}, {"sby", false, 2}},
			problems: []problemAt{{ProblemDuplicate, 3, "CNH"}},
		},
		{
			name:     "a disabled first listing wins over a later enabled one",
			data:     "#cnh\nsby\ncnh\n",
			want:     []OrderNode{{"cnh", true, 1}, {"sby", false, 2}},
			problems: []problemAt{{ProblemDuplicate, 3, "cnh"}},
		},
		{
			name: "empty file",
			data: "",
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := ParseOrder("/etc/vipd/order", []byte(tc.data))
			if !slices.Equal(got.Nodes, tc.want) {
				t.Errorf("entries = %v, want %v", got.Nodes, tc.want)
			}
			if !slices.Equal(problemsAt(problems), tc.problems) {
				t.Errorf("problems = %v, want %v", problems, tc.problems)
			}
			if got.Source != "/etc/vipd/order" {
				t.Errorf("source = %q", got.Source)
			}
			for _, p := range problems {
				if p.Source != "/etc/vipd/order" || p.Msg == "" {
					t.Errorf("problem without source or message: %+v", p)
				}
			}
		})
	}
}

func TestParseOrderDigest(t *testing.T) {
	a, _ := ParseOrder("a", []byte("cnh\nsby\n"))
	b, _ := ParseOrder("b", []byte("cnh\nsby\n"))
	c, _ := ParseOrder("a", []byte("sby\ncnh\n"))
	if a.Digest != b.Digest {
		t.Errorf("same content, different digests %s %s", a.Digest, b.Digest)
	}
	if a.Digest == c.Digest {
		t.Errorf("different content, same digest %s", a.Digest)
	}
	if len(a.Digest) != 64 {
		t.Errorf("digest %q is not hex SHA-256", a.Digest)
	}
}

func TestFromConfig(t *testing.T) {
	tests := []struct {
		name     string
		nodes    []string
		want     []OrderNode
		problems []problemAt
	}{
		{
			name:  "plain names",
			nodes: []string{"cnh", "sby"},
			want:  []OrderNode{{"cnh", false, 1}, {"sby", false, 2}},
		},
		{
			name:  "a hash disables a node",
			nodes: []string{"#cnh", "sby"},
			want:  []OrderNode{{"cnh", true, 1}, {"sby", false, 2}},
		},
		{
			name:     "blank, comment and multi-word items are reported",
			nodes:    []string{"cnh", "", "## note", "a b", "# x y", "sby"},
			want:     []OrderNode{{"cnh", false, 1}, {"sby", false, 6}},
			problems: []problemAt{{ProblemInvalidName, 2, ""}, {ProblemInvalidName, 3, ""}, {ProblemSeveralNames, 4, ""}, {ProblemInvalidName, 5, ""}},
		},
		{
			name:     "duplicates are reported",
			nodes:    []string{"cnh", "cnh"},
			want:     []OrderNode{{"cnh", false, 1}},
			problems: []problemAt{{ProblemDuplicate, 2, "cnh"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := FromConfig(tc.nodes)
			if got.Source != ConfigSource {
				t.Errorf("source = %q, want %q", got.Source, ConfigSource)
			}
			if !slices.Equal(got.Nodes, tc.want) {
				t.Errorf("entries = %v, want %v", got.Nodes, tc.want)
			}
			if !slices.Equal(problemsAt(problems), tc.problems) {
				t.Errorf("problems = %v, want %v", problems, tc.problems)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	list, _ := ParseOrder("/etc/vipd/order", []byte("cnh\n#sby\nwcdc\n"))
	tests := []struct {
		name  string
		self  string
		known []string
		want  []problemAt
	}{
		{name: "self listed", self: "cnh"},
		{name: "self listed but disabled", self: "sby"},
		{name: "self listed in another case", self: "WCDC"},
		{name: "self missing", self: "spare", want: []problemAt{{ProblemSelfMissing, 0, "spare"}}},
		{name: "no self name checks nothing", self: ""},
		{name: "all known", self: "cnh", known: []string{"cnh", "SBY", "wcdc", "spare"}},
		{
			name: "unknown names", self: "cnh", known: []string{"cnh"},
			want: []problemAt{{ProblemUnknownNode, 2, "sby"}, {ProblemUnknownNode, 3, "wcdc"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := list.Validate(tc.self, tc.known)
			if !slices.Equal(problemsAt(got), tc.want) {
				t.Errorf("Validate = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"with a line", Problem{Kind: ProblemDuplicate, Source: "/etc/vipd/order", Line: 3, Msg: "node cnh already listed"}, "/etc/vipd/order:3: node cnh already listed"},
		{"whole file", Problem{Kind: ProblemSelfMissing, Source: "config", Msg: "this node (x) is not in the order"}, "config: this node (x) is not in the order"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Error(); got != tc.want {
				t.Errorf("Error() = %q, want %q", got, tc.want)
			}
			if strings.HasPrefix(tc.p.Kind.String(), "ProblemKind(") {
				t.Errorf("kind %d has no name", tc.p.Kind)
			}
		})
	}
}

func TestFind(t *testing.T) {
	list, _ := ParseOrder("f", []byte("cnh\n#sby\n"))
	tests := []struct {
		name      string
		list      *Order
		node      string
		wantIndex int
		wantOK    bool
	}{
		{"first", &list, "cnh", 0, true},
		{"disabled is still found", &list, "sby", 1, true},
		{"absent", &list, "wcdc", -1, false},
		{"empty name", &list, "", -1, false},
		{"nil list", nil, "cnh", -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i, _, ok := tc.list.Find(tc.node)
			if i != tc.wantIndex || ok != tc.wantOK {
				t.Errorf("Find(%q) = %d, %v; want %d, %v", tc.node, i, ok, tc.wantIndex, tc.wantOK)
			}
		})
	}
}
