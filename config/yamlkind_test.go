package config

import (
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/cloudmove"
)

// The tests here prove that a kind needs no code in this package: a
// settings type of the test's own is read, checked and written by the
// generic path alone, and every kind registered in checks and cloudmove
// goes through it, field by field, found by reflection.

// TestSide is embedded inline in testProbe, as cloudmove.Target is.
type TestSide struct {
	Side string `yaml:"side,omitempty"`
}

// testProbe is a kind's settings type that exists only here, with a
// field of every sort the generic path reads.
type testProbe struct {
	Argv     []string          `yaml:"argv" vipd:"command"`
	Port     int               `yaml:"port" vipd:"range=1..65535"`
	Limit    *int              `yaml:"limit,omitempty"`
	Every    time.Duration     `yaml:"every"`
	Addr     netip.Addr        `yaml:"addr,omitempty"`
	Dest     netip.Prefix      `yaml:"dest"`
	Peers    []netip.Addr      `yaml:"peers,omitempty" vipd:"itempos"`
	Codes    []int             `yaml:"codes,omitempty" vipd:"range=100..599"`
	Tags     map[string]string `yaml:"tags,omitempty" vipd:"keys=tag names"`
	On       bool              `yaml:"on,omitempty"`
	Skipped  string            `yaml:"-"`
	TestSide `yaml:",inline"`
}

// decodeNode parses text and returns its document's top node.
func decodeNode(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("yaml: %v\n%s", err, text)
	}
	return doc.Content[0]
}

// readProbe reads text into a testProbe with the generic path, its
// positions recorded below "probe" in a Source.
func readProbe(t *testing.T, text string) (*testProbe, *Source, Diagnostics) {
	t.Helper()
	p := &yamlParser{path: "t.yaml"}
	src := NewSource("x")
	var got testProbe
	p.kindSettings(decodeNode(t, text), "x.probe", &got, func(key string, n *yaml.Node, name string) {
		if name != "" {
			name = "probe." + name
		}
		src.Set("probe."+key, p.pos(n), name)
	})
	return &got, src, p.d.list
}

func TestKindSettingsGeneric(t *testing.T) {
	in := `argv: "/bin/check --fast 'two words'"
port: 8080
limit: -3
every: 1m30s
addr: 2001:db8::7
dest: 198.51.100.9
peers:
  - 198.51.100.1
  - 198.51.100.2
codes: [200, 204]
tags: { role: web, "on": "yes" }
on: true
side: left
`
	got, src, diags := readProbe(t, in)
	if len(diags) != 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	want := testProbe{
		Argv: []string{"/bin/check", "--fast", "two words"}, Port: 8080, Limit: ptr(-3), Every: 90 * time.Second,
		Addr: netip.MustParseAddr("2001:db8::7"), Dest: netip.MustParsePrefix("198.51.100.9/32"),
		Peers: []netip.Addr{netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")},
		Codes: []int{200, 204}, Tags: map[string]string{"role": "web", "on": "yes"}, On: true,
		TestSide: TestSide{Side: "left"},
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("read\n%+v, want\n%+v", *got, want)
	}
	// Every key's line, and each peer's own (itempos).
	for key, line := range map[string]int{
		"argv": 1, "port": 2, "limit": 3, "every": 4, "addr": 5, "dest": 6, "peers": 7,
		"peers[0]": 8, "peers[1]": 9, "codes": 10, "tags": 11, "on": 12, "side": 13,
	} {
		if pos, _ := src.at("probe."+key, Pos{}); pos.Line != line {
			t.Errorf("probe.%s recorded at line %d, want %d", key, pos.Line, line)
		}
	}

	// Written back in field order, zero values left out where tagged so,
	// and read again to the same settings.
	var out strings.Builder
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(encodeSettings(got)); err != nil {
		t.Fatal(err)
	}
	wantText := `argv:
  - /bin/check
  - --fast
  - two words
port: 8080
limit: -3
every: 1m30s
addr: 2001:db8::7
dest: 198.51.100.9/32
peers:
  - 198.51.100.1
  - 198.51.100.2
codes:
  - 200
  - 204
tags:
  "on": "yes"
  role: web
"on": true
side: left
`
	if out.String() != wantText {
		t.Errorf("encoded\n%s\nwant\n%s", out.String(), wantText)
	}
	again, _, diags := readProbe(t, out.String())
	if len(diags) != 0 || !reflect.DeepEqual(again, got) {
		t.Errorf("read back %+v (%v), want %+v", again, diags, got)
	}
	var zero strings.Builder
	if err := yaml.NewEncoder(&zero).Encode(encodeSettings(&testProbe{})); err != nil {
		t.Fatal(err)
	}
	if zero.String() != "argv: []\nport: 0\nevery: 0s\ndest: invalid Prefix\n" {
		t.Errorf("zero settings encoded as\n%s", zero.String())
	}
}

func TestKindSettingsGenericErrors(t *testing.T) {
	in := `argv: []
port: 70000
limit: x
every: -1s
addr: "fe80::1%eth0"
dest: 1.2.3.4/99
peers:
  - bad
  - 198.51.100.3
codes: [99, 200, ~]
tags: [a]
on: maybe
side: { a: 1 }
bogus: 1
`
	got, src, diags := readProbe(t, in)
	var lines []string
	for _, d := range diags {
		lines = append(lines, d.Pos.String()+": "+d.Field+": "+d.Message)
	}
	want := []string{
		`t.yaml:1: x.probe.argv: must not be empty`,
		`t.yaml:2: x.probe.port: 70000 is out of range 1-65535`,
		`t.yaml:3: x.probe.limit: "x" is not an integer`,
		`t.yaml:4: x.probe.every: -1s is negative`,
		`t.yaml:5: x.probe.addr: "fe80::1%eth0" is not an IP address`,
		`t.yaml:6: x.probe.dest: "1.2.3.4/99" is not an address with a prefix length such as 192.0.2.10/24`,
		`t.yaml:8: x.probe.peers[0]: "bad" is not an IP address`,
		`t.yaml:10: x.probe.codes[0]: 99 is out of range 100-599`,
		`t.yaml:10: x.probe.codes[2]: empty list entry`,
		`t.yaml:11: x.probe.tags: must be a mapping of tag names to values, not a list`,
		`t.yaml:12: x.probe.on: "maybe" is not true or false`,
		`t.yaml:13: x.probe.side: must be a single value, not a mapping`,
		`t.yaml:14: x.probe.bogus: unknown key (allowed: addr, argv, codes, dest, every, limit, on, peers, port, side, tags)`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("diagnostics\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// The one good peer is entry 0 of the list read, named as written.
	if len(got.Peers) != 1 || got.Limit != nil || got.Port != 0 {
		t.Errorf("read %+v", got)
	}
	if pos, name := src.nested("probe.peers[0]", Pos{}); pos.Line != 9 || name != "x.probe.peers[1]" {
		t.Errorf("probe.peers[0] at %v named %s, want line 9, x.probe.peers[1]", pos, name)
	}
}

// sample fills every setting of the struct v with a value the generic
// path reads back as it is: not zero, within the field's range.
func sample(t *testing.T, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		o, ok := settingTags(v.Type().Field(i))
		if !ok {
			continue
		}
		f := v.Field(i)
		if o.inline {
			sample(t, f)
			continue
		}
		if o.command {
			f.Set(reflect.ValueOf([]string{"/bin/true", "a b"}))
			continue
		}
		switch f.Kind() {
		case reflect.Slice:
			e := reflect.New(f.Type().Elem()).Elem()
			sampleScalar(t, o, e)
			f.Set(reflect.Append(reflect.MakeSlice(f.Type(), 0, 1), e))
		case reflect.Map:
			e := reflect.New(f.Type().Elem()).Elem()
			sampleScalar(t, o, e)
			f.Set(reflect.MakeMap(f.Type()))
			f.SetMapIndex(reflect.ValueOf("k").Convert(f.Type().Key()), e)
		case reflect.Pointer:
			e := reflect.New(f.Type().Elem())
			sampleScalar(t, o, e.Elem())
			f.Set(e)
		default:
			sampleScalar(t, o, f)
		}
	}
}

func sampleScalar(t *testing.T, o settingOpts, f reflect.Value) {
	t.Helper()
	switch x := f.Addr().Interface().(type) {
	case *time.Duration:
		*x = 3 * time.Second
	case *netip.Addr:
		*x = netip.MustParseAddr("198.51.100.1")
	case *netip.Prefix:
		*x = netip.MustParsePrefix("198.51.100.0/24")
	default:
		switch f.Kind() {
		case reflect.String:
			f.SetString("V" + o.key)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f.SetInt(max(o.lo, min(1, o.hi)))
		default:
			t.Fatalf("%s: the generic path cannot read a %s", o.key, f.Type())
		}
	}
}

// settingKeysOf lists the keys of the settings type t, inline ones
// included, in field order.
func settingKeysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		o, ok := settingTags(t.Field(i))
		switch {
		case !ok:
		case o.inline:
			keys = append(keys, settingKeysOf(t.Field(i).Type)...)
		default:
			keys = append(keys, o.key)
		}
	}
	return keys
}

// lineOf returns the line of text on which "key:" is written below the
// kind's block.
func lineOf(t *testing.T, text, kind, key string) int {
	t.Helper()
	lines := strings.Split(text, "\n")
	in := false
	for i, l := range lines {
		trimmed := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
		if strings.HasPrefix(trimmed, kind+":") {
			in = true
			continue
		}
		if in && (strings.HasPrefix(trimmed, key+":") || strings.HasPrefix(trimmed, `"`+key+`":`)) {
			return i + 1
		}
	}
	t.Fatalf("%s.%s not found in\n%s", kind, key, text)
	return 0
}

// badValue is a value no reader of a field of type ft accepts.
func badValue(ft reflect.Type) string {
	if ft.Kind() == reflect.Map {
		return "[1]"
	}
	return "{ x: 1 }"
}

// TestCheckKindsGeneric takes every registered check kind through the
// generic path: its settings, every field set, are written by EncodeYAML's
// check encoder, read back to the same settings with each key's line
// recorded; a bad value of each key is reported at its line under its
// name; and every rule of the kind that fires on the sample values points
// at the line of the field it names.
func TestCheckKindsGeneric(t *testing.T) {
	fired := 0
	for _, k := range checks.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			orig := &Check{Config: checks.DefaultConfig("c", "")}
			st := orig.NewSettings(k)
			if st == nil {
				t.Fatalf("NewSettings(%s) = nil: the kind has no field tagged kind:%q in checks.Config", k, k)
			}
			sample(t, reflect.ValueOf(st).Elem())
			orig.FinishSettings()
			b, err := yaml.Marshal(encodeCheck(orig))
			if err != nil {
				t.Fatal(err)
			}
			text := "checks:\n  - " + strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n    ") + "\n"

			p := &yamlParser{path: "t.yaml"}
			doc := decodeNode(t, text)
			got := p.check(doc.Content[1].Content[0], "checks[0]")
			if len(p.d.list) != 0 {
				t.Fatalf("reading\n%s\n%v", text, p.d.list)
			}
			if !reflect.DeepEqual(got.SettingsOf(k), orig.SettingsOf(k)) || got.Kind != k {
				t.Fatalf("read back %s %+v, want %+v, from\n%s", got.Kind, got.SettingsOf(k), orig.SettingsOf(k), text)
			}
			keys := settingKeysOf(reflect.TypeOf(st).Elem())
			for _, key := range keys {
				if pos, _ := got.src.at(string(k)+"."+key, Pos{}); pos.Line != lineOf(t, text, string(k), key) {
					t.Errorf("%s.%s recorded at line %d, want %d in\n%s", k, key, pos.Line, lineOf(t, text, string(k), key), text)
				}
			}

			// A bad value of each key, reported where it is.
			for _, key := range keys {
				ft := fieldType(reflect.TypeOf(st).Elem(), key)
				line := lineOf(t, text, string(k), key)
				ls := replaceKey(text, line, key+": "+badValue(ft))
				bad := strings.Join(ls, "\n")
				_, err := ParseYAML("t.yaml", []byte(bad), LoadOptions{})
				var ds Diagnostics
				if !errors.As(err, &ds) {
					t.Fatalf("%s: %v", key, err)
				}
				field := "checks[0]." + string(k) + "." + key
				found := false
				for _, d := range ds {
					found = found || d.Field == field && d.Pos.Line == line && strings.Contains(d.Message, "must be")
				}
				if !found {
					t.Errorf("a bad %s is not reported at line %d: %v", field, line, ds)
				}
			}

			// The kind's own rules on the sample values: each at its
			// field's line.
			_, err = ParseYAML("t.yaml", []byte(text), LoadOptions{})
			var ds Diagnostics
			errors.As(err, &ds)
			for _, d := range ds {
				rest, ok := strings.CutPrefix(d.Field, "checks[0]."+string(k)+".")
				if !ok {
					continue
				}
				key, _, _ := strings.Cut(rest, "[")
				key, _, _ = strings.Cut(key, ".")
				// At the key's line, or within its entries for a rule
				// about one of them.
				first := lineOf(t, text, string(k), key)
				last := blockEnd(text, first)
				if d.Pos.Line < first || d.Pos.Line > last || d.Pos.Line != first && rest == key {
					t.Errorf("%v reported at line %d, not at its key's (%d-%d)", d, d.Pos.Line, first, last)
				}
				fired++
			}
		})
	}
	t.Logf("%d rules fired on the sample values, each at its field", fired)
	if fired == 0 {
		t.Error("no kind's rule fired on the sample values: the position check above proved nothing")
	}
}

// blockEnd returns the last line of the key at line of text: its own,
// or that of its last entry (a list's items, a mapping's keys).
func blockEnd(text string, line int) int {
	ls := strings.Split(text, "\n")
	indent := ls[line-1][:len(ls[line-1])-len(strings.TrimLeft(ls[line-1], " "))]
	end := line
	for end < len(ls) && strings.HasPrefix(ls[end], indent+"  ") {
		end++
	}
	return end
}

// replaceKey returns the lines of text with the key at line, and its
// entries, replaced by repl at the same indentation.
func replaceKey(text string, line int, repl string) []string {
	ls := strings.Split(text, "\n")
	indent := ls[line-1][:len(ls[line-1])-len(strings.TrimLeft(ls[line-1], " "))]
	end := blockEnd(text, line)
	return append(ls[:line-1], append([]string{indent + repl}, ls[end:]...)...)
}

// fieldType returns the type of the setting key of the settings type t.
func fieldType(t reflect.Type, key string) reflect.Type {
	for i := range t.NumField() {
		o, ok := settingTags(t.Field(i))
		switch {
		case !ok:
		case o.inline:
			if ft := fieldType(t.Field(i).Type, key); ft != nil {
				return ft
			}
		case o.key == key:
			return t.Field(i).Type
		}
	}
	return nil
}

// TestCloudKindsGeneric does the same for every registered cloud action
// kind: written by the cloud encoder, read back with each key's line, a
// bad value of each key reported at its line, cloudmove's rules that fire
// on the sample values at the line of the field they name.
func TestCloudKindsGeneric(t *testing.T) {
	fired := 0
	defer func() {
		t.Logf("%d rules fired on the sample values, each at its field", fired)
		if fired == 0 {
			t.Error("no kind's rule fired on the sample values: the position check proved nothing")
		}
	}()
	for _, k := range cloudmove.Kinds() {
		t.Run(string(k), func(t *testing.T) {
			orig := &cloudmove.ActionConfig{}
			st := orig.NewSettings(k)
			if st == nil {
				t.Fatalf("NewSettings(%s) = nil: the kind has no field tagged kind:%q in cloudmove.ActionConfig", k, k)
			}
			sample(t, reflect.ValueOf(st).Elem())
			b, err := yaml.Marshal(encodeCloud(&Cloud{Config: cloudmove.Config{Actions: []*cloudmove.ActionConfig{orig}}}).Actions)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			p := &yamlParser{path: "t.yaml"}
			src := NewSource("cloud")
			got := p.cloudAction(decodeNode(t, text).Content[0], "cloud.actions[0]", "actions[0]", src)
			if len(p.d.list) != 0 || got == nil {
				t.Fatalf("reading\n%s\n%v", text, p.d.list)
			}
			if !reflect.DeepEqual(got, orig) {
				t.Fatalf("read back %+v, want %+v, from\n%s", got.SettingsOf(k), orig.SettingsOf(k), text)
			}
			keys := settingKeysOf(reflect.TypeOf(st).Elem())
			for _, key := range keys {
				line := lineOf(t, text, string(k), key)
				if pos, _ := src.at("actions[0]."+string(k)+"."+key, Pos{}); pos.Line != line {
					t.Errorf("%s.%s recorded at line %d, want %d in\n%s", k, key, pos.Line, line, text)
				}
				ls := replaceKey(text, line, key+": "+badValue(fieldType(reflect.TypeOf(st).Elem(), key)))
				p := &yamlParser{path: "t.yaml"}
				p.cloudAction(decodeNode(t, strings.Join(ls, "\n")).Content[0], "cloud.actions[0]", "actions[0]", NewSource("cloud"))
				field := "cloud.actions[0]." + string(k) + "." + key
				found := false
				for _, d := range p.d.list {
					found = found || d.Field == field && d.Pos.Line == line && strings.Contains(d.Message, "must be")
				}
				if !found {
					t.Errorf("a bad %s is not reported at line %d: %v", field, line, p.d.list)
				}
			}

			// cloudmove's rules on the sample values, in a whole file.
			file := "node: { name: n1 }\ninstances:\n  - name: vi\n    interface: lo\n    vrid: 7\n" +
				"    priority: 100\n    vips: [198.51.100.10/24]\n    cloud:\n      actions:\n        " +
				strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n        ") + "\n"
			_, err = ParseYAML("t.yaml", []byte(file), LoadOptions{})
			var ds Diagnostics
			errors.As(err, &ds)
			for _, d := range ds {
				rest, ok := strings.CutPrefix(d.Field, "instances[0].cloud.actions[0]."+string(k)+".")
				if !ok {
					continue
				}
				key, _, _ := strings.Cut(rest, "[")
				key, _, _ = strings.Cut(key, ".")
				first := lineOf(t, file, string(k), key)
				last := blockEnd(file, first)
				if d.Pos.Line < first || d.Pos.Line > last || d.Pos.Line != first && rest == key {
					t.Errorf("%v reported at line %d, not at its key's (%d-%d)", d, d.Pos.Line, first, last)
				}
				fired++
			}
		})
	}
}

// TestKindSettingsTags checks each registered kind's settings type: every
// field a setting with an explicit key, no key twice.
func TestKindSettingsTags(t *testing.T) {
	var types []reflect.Type
	for _, k := range checks.Kinds() {
		c := &checks.Config{}
		types = append(types, reflect.TypeOf(c.NewSettings(k)).Elem())
	}
	for _, k := range cloudmove.Kinds() {
		types = append(types, reflect.TypeOf((&cloudmove.ActionConfig{}).NewSettings(k)).Elem())
	}
	var walk func(t reflect.Type, seen map[string]bool)
	walk = func(st reflect.Type, seen map[string]bool) {
		for i := range st.NumField() {
			f := st.Field(i)
			o, ok := settingTags(f)
			if _, has := f.Tag.Lookup("yaml"); !has || !ok {
				t.Errorf("%s.%s has no yaml tag", st, f.Name)
				continue
			}
			if o.inline {
				walk(f.Type, seen)
				continue
			}
			if seen[o.key] {
				t.Errorf("%s: key %s twice", st, o.key)
			}
			seen[o.key] = true
		}
	}
	for _, st := range types {
		walk(st, map[string]bool{})
	}
	if len(types) != len(checks.Kinds())+len(cloudmove.Kinds()) || len(types) < 11 {
		t.Errorf("%d kinds", len(types))
	}
}
