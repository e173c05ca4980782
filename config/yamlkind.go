package config

import (
	"fmt"
	"iter"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file reads and writes the settings of a check kind or a cloud
// action kind (checks.DNSConfig, cloudmove.RouteConfig...) from the struct
// tags of the type its package declares, so that a new kind needs no code
// here. A field's `yaml` tag is its key: "name", "name,omitempty" (a zero
// value is not written back) or ",inline" (an embedded struct whose keys
// sit beside the others, cloudmove.Target). Its type says how its value is
// read: a string, a bool, an int (within -2^31..2^31-1), a time.Duration
// (1s, 100ms), a netip.Addr, a netip.Prefix (ADDR or ADDR/LEN), a pointer
// to one of these (nil when not written), a list of them or a mapping of
// names to strings. A `vipd` tag adds, separated by commas:
//
//	command        a []string read as a command line: a list of words, or
//	               one string split with keepalived's quoting rules
//	range=LO..HI   the bounds of an int, or of each int of a list
//	itempos        each entry of a list records its own line, under its
//	               index among the entries read ("addresses[0]"), named as
//	               written, for rules about one entry
//	keys=WORDS     what the names of a mapping are, for its error message
//	               ("must be a mapping of WORDS to values"; default names)
//
// Every key records its line (mark) for the rules' messages, under its key
// below the kind's ("dns.server").

// settingOpts are a field's tags, read.
type settingOpts struct {
	key       string
	omitEmpty bool
	inline    bool
	command   bool
	itemPos   bool
	lo, hi    int64
	keys      string
}

// settingTags reads f's tags; ok is false for a field that is not a
// setting (unexported, or `yaml:"-"`).
func settingTags(f reflect.StructField) (o settingOpts, ok bool) {
	tag, has := f.Tag.Lookup("yaml")
	if !f.IsExported() || tag == "-" {
		return o, false
	}
	o.lo, o.hi, o.keys = math.MinInt32, math.MaxInt32, "names"
	parts := strings.Split(tag, ",")
	o.key = parts[0]
	if !has || o.key == "" && !f.Anonymous {
		o.key = strings.ToLower(f.Name)
	}
	for _, p := range parts[1:] {
		switch p {
		case "omitempty":
			o.omitEmpty = true
		case "inline":
			o.inline = true
		}
	}
	for _, p := range strings.Split(f.Tag.Get("vipd"), ",") {
		name, val, _ := strings.Cut(p, "=")
		switch name {
		case "command":
			o.command = true
		case "itempos":
			o.itemPos = true
		case "keys":
			o.keys = val
		case "range":
			lo, hi, _ := strings.Cut(val, "..")
			o.lo, _ = strconv.ParseInt(lo, 10, 64)
			o.hi, _ = strconv.ParseInt(hi, 10, 64)
		}
	}
	return o, true
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	addrType     = reflect.TypeFor[netip.Addr]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
)

// markFunc records the line of node under key, a field below the kind's
// ("server", "addresses[0]"); name, if not empty, is the field as written.
type markFunc func(key string, node *yaml.Node, name string)

// kindSettings reads the mapping n into the settings dst points at (a
// *checks.DNSConfig), key by key as the type's tags say.
func (p *yamlParser) kindSettings(n *yaml.Node, path string, dst any, mark markFunc) {
	handlers := map[string]func(k, v *yaml.Node, path string){}
	p.settingKeys(reflect.ValueOf(dst).Elem(), mark, handlers)
	p.mappingKeys(n, path, handlers)
}

// settingKeys adds a handler for each setting of the struct sv to
// handlers.
func (p *yamlParser) settingKeys(sv reflect.Value, mark markFunc, handlers map[string]func(k, v *yaml.Node, path string)) {
	for o, fv := range settingFields(sv) {
		handlers[o.key] = func(k, v *yaml.Node, path string) {
			mark(o.key, k, "")
			p.setting(fv, v, path, o, mark)
		}
	}
}

// settingFields yields the settings of the struct sv, in field order, with
// their options; an inline struct's settings stand in its place. Reading
// and writing a kind's block both walk it, so they cannot disagree on
// which fields are settings.
func settingFields(sv reflect.Value) iter.Seq2[settingOpts, reflect.Value] {
	return func(yield func(settingOpts, reflect.Value) bool) { walkSettings(sv, yield) }
}

func walkSettings(sv reflect.Value, yield func(settingOpts, reflect.Value) bool) bool {
	t := sv.Type()
	for i := range t.NumField() {
		o, ok := settingTags(t.Field(i))
		switch {
		case !ok:
		case o.inline:
			if !walkSettings(sv.Field(i), yield) {
				return false
			}
		case !yield(o, sv.Field(i)):
			return false
		}
	}
	return true
}

// setting reads v into the field fv.
func (p *yamlParser) setting(fv reflect.Value, v *yaml.Node, path string, o settingOpts, mark markFunc) {
	switch t := fv.Type(); {
	case o.command && t == reflect.TypeFor[[]string]():
		argv, _ := p.command(v, path)
		fv.Set(reflect.ValueOf(argv))
	case t.Kind() == reflect.Slice:
		fv.Set(reflect.MakeSlice(t, 0, 0))
		p.sequence(v, path, func(n *yaml.Node, path string, j int) {
			ev := reflect.New(t.Elem()).Elem()
			if !p.settingScalar(ev, n, path, o) {
				return
			}
			if o.itemPos {
				mark(o.key+"["+strconv.Itoa(fv.Len())+"]", n, o.key+"["+strconv.Itoa(j)+"]")
			}
			fv.Set(reflect.Append(fv, ev))
		})
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		fv.Set(reflect.MakeMap(t))
		if !p.usable(v, path) {
			return
		}
		if v.Kind != yaml.MappingNode {
			p.fail(v, path, "must be a mapping of "+o.keys+" to values, not "+kindName(v))
			return
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			tk, tv := v.Content[i], v.Content[i+1]
			name, ok := p.str(tk, path)
			if !ok {
				continue
			}
			kv := reflect.ValueOf(name).Convert(t.Key())
			if fv.MapIndex(kv).IsValid() {
				p.fail(tk, join(path, name), "is set twice")
				continue
			}
			ev := reflect.New(t.Elem()).Elem()
			if p.settingScalar(ev, tv, join(path, name), o) {
				fv.SetMapIndex(kv, ev)
			}
		}
	case t.Kind() == reflect.Pointer:
		ev := reflect.New(t.Elem())
		if p.settingScalar(ev.Elem(), v, path, o) {
			fv.Set(ev)
		}
	default:
		p.settingScalar(fv, v, path, o)
	}
}

// settingScalar reads the single value n into fv, reporting whether it
// could; fv is left alone if not.
func (p *yamlParser) settingScalar(fv reflect.Value, n *yaml.Node, path string, o settingOpts) bool {
	var x any
	ok := false
	switch t := fv.Type(); {
	case t == durationType:
		x, ok = p.duration(n, path)
	case t == addrType:
		x, ok = p.addr(n, path)
	case t == prefixType:
		var s string
		if s, ok = p.str(n, path); ok {
			x, ok = p.prefix(n, path, s)
		}
	case t.Kind() == reflect.String:
		x, ok = p.str(n, path)
	case t.Kind() == reflect.Bool:
		x, ok = p.boolean(n, path)
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		x, ok = p.integer(n, path, o.lo, o.hi)
	default:
		// A settings type with a field of a type this file cannot read:
		// TestCheckKindsGeneric and TestCloudKindsGeneric catch it before
		// a user can.
		p.fail(n, path, fmt.Sprintf("cannot be read (a setting of type %s)", t))
		return false
	}
	if ok {
		fv.Set(reflect.ValueOf(x).Convert(fv.Type()))
	}
	return ok
}

// encodeSettings writes the settings s points at (a *checks.DNSConfig) as
// a mapping, their keys in the order of the type's fields.
func encodeSettings(s any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	encodeFields(reflect.ValueOf(s).Elem(), n)
	return n
}

func encodeFields(sv reflect.Value, n *yaml.Node) {
	for o, fv := range settingFields(sv) {
		if o.omitEmpty && settingZero(fv) {
			continue
		}
		var k, v yaml.Node
		_ = k.Encode(o.key) // a string always encodes
		if err := v.Encode(settingText(fv)); err != nil {
			// Every type settingScalar reads encodes: a failure is a
			// settings type with a field nothing can read.
			v = yaml.Node{Kind: yaml.ScalarNode, Value: err.Error()}
		}
		n.Content = append(n.Content, &k, &v)
	}
}

// settingZero reports whether fv holds nothing worth writing: a zero
// value, an invalid address or prefix, an empty list or mapping.
func settingZero(fv reflect.Value) bool {
	switch fv.Kind() {
	case reflect.Slice, reflect.Map:
		return fv.Len() == 0
	}
	switch x := fv.Interface().(type) {
	case netip.Addr:
		return !x.IsValid()
	case netip.Prefix:
		return !x.IsValid()
	}
	return fv.IsZero()
}

// settingText returns fv as the YAML encoder should write it: durations,
// addresses and prefixes as text (an invalid address as ""), lists of them
// as lists of text.
func settingText(fv reflect.Value) any {
	switch x := fv.Interface().(type) {
	case time.Duration:
		return x.String()
	case netip.Addr:
		if !x.IsValid() {
			return ""
		}
		return x.String()
	case netip.Prefix:
		return x.String()
	}
	if fv.Kind() == reflect.Slice {
		switch fv.Type().Elem() {
		case durationType, addrType, prefixType:
			// Each as its String, as a list has no room for an
			// entry left out.
			out := make([]string, fv.Len())
			for i := range out {
				out[i] = fv.Index(i).Interface().(fmt.Stringer).String()
			}
			return out
		}
	}
	return fv.Interface()
}
