package config

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/notify"
	"github.com/vipd/vipd/priority"
)

// The comparisons (SameSettings, Differences) and the encoder (EncodeYAML)
// are hand-written field by field: a field added to the model and forgotten
// in both passes every other test, and is then silently dropped by "vipd
// config print" and never restarts an instance on reload. These tests walk
// the model by reflection instead, so a new field is covered the day it is
// added, or fails here until it is.

// notSettings are fields that say where or how a configuration was read,
// not what it does: no comparison may notice them (a reload of a file with
// a line added at the top must not restart every instance) and the encoder
// does not write them. Keyed by "Type.Field"; every Pos field is one too.
var notSettings = map[string]string{
	"Config.Path":     "the file the configuration was read from",
	"Config.Format":   "the syntax it was read in",
	"Config.Warnings": "diagnostics of the load",
}

// encodeDerived are settings EncodeYAML does not write because the loader
// derives them from what it does write; the comparisons still notice them.
var encodeDerived = map[string]string{
	"Config.Kind":       "the check kind (checks.Config) is the key of the section that is set (exec:, tcp:...)",
	"ActionConfig.Kind": "the action kind is the key of the section that is set (route:, ebs:...)",
}

// fieldCtx prepares the struct holding a field before the field is set, in
// both configurations compared, where the field only means something next
// to another one; custom, when set, replaces the generic "different value".
type fieldCtx struct {
	why     string
	prepare func(parent reflect.Value)
	custom  func(field reflect.Value)
}

var fieldContext = map[string]fieldCtx{
	"Track.WeightReverse": {
		why:     "the reverse flag of a track applies to its own weight only",
		prepare: func(p reflect.Value) { p.Addr().Interface().(*priority.Track).Weight = ptr(-10) },
	},
	"API.PublicRead": {
		why:     "without any token file reads are open whatever public_read says (API.ReadsOpen)",
		prepare: func(p reflect.Value) { p.Addr().Interface().(*API).TokenFile = "/etc/vipd/token" },
	},
	"Config.RunAs": { // notify.Config
		why:     "a script's user is only kept for a script that is configured",
		prepare: func(p reflect.Value) { p.Addr().Interface().(*notify.Config).Master = []string{"/bin/true"} },
		custom: func(f reflect.Value) {
			f.Set(reflect.ValueOf(map[notify.Script]notify.User{notify.ScriptMaster: {User: "nobody"}}))
		},
	},
}

// step is one move from a value towards a field: into a struct field, through
// a pointer (allocating it), or to a slice's first element (adding one).
type step struct {
	field int // struct field index, or -1
	elem  bool
	index bool
}

// leaf is one field of the model reachable from the root.
type leaf struct {
	path  string // for messages: Instances[0].GARP.MasterDelay
	key   string // "Type.Field" of the field itself, for the tables above
	steps []step // from the root to the struct holding the field
	// within are the keys of the fields l is inside of (Config.Warnings
	// for Warnings[0].Message).
	within []string
	field  int // index of the field in that struct
}

// leaves lists every exported field reachable from t: struct fields,
// through pointers and the first element of slices. A pointer, slice or map
// field is itself a leaf (absent vs present) besides what it leads to; a
// struct field is only its fields.
func leaves(t *testing.T, typ reflect.Type) []leaf {
	var out []leaf
	var walk func(typ reflect.Type, path string, steps []step, within []string)
	walk = func(typ reflect.Type, path string, steps []step, within []string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			if !f.IsExported() {
				continue // src maps: where each setting was written
			}
			key := typ.Name() + "." + f.Name
			p := path + "." + f.Name
			if isAtom(f.Type) || f.Type.Kind() != reflect.Struct { // a struct is its fields
				out = append(out, leaf{path: strings.TrimPrefix(p, "."), key: key, steps: steps, within: within, field: i})
			}
			here := append(append([]step(nil), steps...), step{field: i})
			in := append(append([]string(nil), within...), key)
			ft := f.Type
			switch {
			case isAtom(ft):
			case ft.Kind() == reflect.Struct:
				walk(ft, p, here, in)
			case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p, append(here, step{field: -1, elem: true}), in)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), p+"[0]", append(here, step{field: -1, index: true}), in)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Pointer && ft.Elem().Elem().Kind() == reflect.Struct:
				walk(ft.Elem().Elem(), p+"[0]", append(here, step{field: -1, index: true}, step{field: -1, elem: true}), in)
			case ft.Kind() == reflect.Pointer, ft.Kind() == reflect.Slice, ft.Kind() == reflect.Map:
				// Of scalars: the leaf itself covers them.
			default:
				t.Fatalf("%s: field of kind %v: teach this test how to change it", p, ft.Kind())
			}
		}
	}
	walk(typ, "", nil, nil)
	return out
}

// isAtom reports whether values of typ are changed as a whole.
func isAtom(typ reflect.Type) bool {
	switch typ {
	case reflect.TypeFor[netip.Addr](), reflect.TypeFor[netip.Prefix](), reflect.TypeFor[netip.AddrPort](), reflect.TypeFor[Pos]():
		return true
	}
	switch typ.Kind() {
	case reflect.Bool, reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// reach follows steps from v, allocating pointers and adding a first slice
// element on the way, and returns the struct it arrives at.
func reach(v reflect.Value, steps []step) reflect.Value {
	for _, s := range steps {
		switch {
		case s.elem:
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		case s.index:
			if v.Len() == 0 {
				v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
			}
			v = v.Index(0)
		default:
			v = v.Field(s.field)
		}
	}
	return v
}

// change sets v to a value different from the one it has.
func change(t *testing.T, path string, v reflect.Value) {
	switch v.Type() {
	case reflect.TypeFor[netip.Addr]():
		a := netip.MustParseAddr("198.51.100.7")
		if v.Interface() == a {
			a = netip.MustParseAddr("203.0.113.7")
		}
		v.Set(reflect.ValueOf(a))
		return
	case reflect.TypeFor[netip.Prefix]():
		p := netip.MustParsePrefix("198.51.100.7/24")
		if v.Interface() == p {
			p = netip.MustParsePrefix("203.0.113.7/24")
		}
		v.Set(reflect.ValueOf(p))
		return
	case reflect.TypeFor[netip.AddrPort]():
		ap := netip.MustParseAddrPort("127.0.0.1:9746")
		if v.Interface() == ap {
			ap = netip.MustParseAddrPort("127.0.0.1:9747")
		}
		v.Set(reflect.ValueOf(ap))
		return
	case reflect.TypeFor[Pos]():
		p := v.Interface().(Pos)
		v.Set(reflect.ValueOf(Pos{File: p.File + "x.conf", Line: p.Line + 1}))
		return
	case reflect.TypeFor[time.Duration]():
		v.SetInt(v.Int() + int64(time.Second))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		} else {
			v.SetZero()
		}
	case reflect.Slice:
		e := reflect.New(v.Type().Elem()).Elem()
		if e.Kind() == reflect.Pointer {
			e.Set(reflect.New(e.Type().Elem())) // never a nil entry
		} else if isAtom(e.Type()) {
			change(t, path, e)
		}
		v.Set(reflect.Append(v, e))
	case reflect.Map:
		k := reflect.New(v.Type().Key()).Elem()
		change(t, path, k)
		e := reflect.New(v.Type().Elem()).Elem()
		if isAtom(e.Type()) {
			change(t, path, e)
		} else if e.Kind() == reflect.Struct {
			change(t, path, e.Field(0))
		}
		m := reflect.MakeMap(v.Type())
		m.SetMapIndex(k, e)
		v.Set(m)
	default:
		t.Fatalf("%s: cannot change a %v", path, v.Type())
	}
}

// variant returns two configurations that differ in l alone: the first has
// the path to l built (pointers allocated, one slice element) and l's
// context prepared, the second has l changed too.
func variant(t *testing.T, l leaf) (base, changed *Config) {
	build := func(set bool) *Config {
		c := &Config{}
		parent := reach(reflect.ValueOf(c).Elem(), l.steps)
		ctx := fieldContext[l.key]
		if ctx.prepare != nil {
			ctx.prepare(parent)
		}
		if set {
			f := parent.Field(l.field)
			if ctx.custom != nil {
				ctx.custom(f)
			} else {
				change(t, l.path, f)
			}
		}
		return c
	}
	return build(false), build(true)
}

func encode(t *testing.T, c *Config) []byte {
	t.Helper()
	b, err := EncodeYAML(c)
	if err != nil {
		t.Fatalf("EncodeYAML: %v", err)
	}
	return b
}

// TestEverySettingCompared changes each field of the model in turn and
// checks that Config.SameSettings notices it, and EncodeYAML writes it, or
// that neither does for a field that is not a setting.
func TestEverySettingCompared(t *testing.T) {
	ls := leaves(t, reflect.TypeFor[Config]())
	if len(ls) < 100 {
		t.Fatalf("only %d fields found: the walk is broken", len(ls))
	}
	for _, l := range ls {
		base, changed := variant(t, l)
		notSetting := strings.HasSuffix(l.key, ".Pos")
		for _, k := range append(l.within, l.key) {
			_, no := notSettings[k]
			notSetting = notSetting || no
		}
		same := base.SameSettings(changed) && changed.SameSettings(base)
		sameYAML := bytes.Equal(encode(t, base), encode(t, changed))
		if notSetting {
			if !same {
				t.Errorf("%s is not a setting, yet SameSettings sees a change: %v", l.path, base.Differences(changed))
			}
			if !sameYAML {
				t.Errorf("%s is not a setting, yet EncodeYAML writes it", l.path)
			}
			continue
		}
		if same {
			t.Errorf("%s: Config.SameSettings does not notice a change (a reload or convert would miss it)", l.path)
		}
		if sameYAML && encodeDerived[l.key] == "" {
			t.Errorf("%s: EncodeYAML does not write it (vipd config print and convert would drop it)", l.path)
		}
	}
}

// TestEveryInstanceSettingRestarts changes each field of an instance in turn
// (its checks are compared apart, by Check.SameSettings) and checks that
// Instance.SameSettings, which decides whether a reload restarts the
// instance, notices it, except for the fields that must not restart it.
func TestEveryInstanceSettingRestarts(t *testing.T) {
	// keepRunning are the instance's fields a reload must not restart it
	// for: positions only (an edit elsewhere in the file moves them).
	keepRunning := func(l leaf) bool { return strings.HasSuffix(l.key, ".Pos") }
	n := 0
	for _, l := range leaves(t, reflect.TypeFor[Config]()) {
		if !strings.HasPrefix(l.path, "Instances[0].") {
			continue
		}
		n++
		base, changed := variant(t, l)
		a, b := base.Instances[0], changed.Instances[0]
		same := a.SameSettings(b) && b.SameSettings(a)
		if keepRunning(l) && !same {
			t.Errorf("%s: a reload would restart the instance for a field that is not a setting", l.path)
		}
		if !keepRunning(l) && same {
			t.Errorf("%s: Instance.SameSettings does not notice a change: a reload keeps the instance running with the old value", l.path)
		}
	}
	if n < 40 {
		t.Fatalf("only %d instance fields found: the walk is broken", n)
	}
}

// TestEveryCheckSettingRestarts does the same for checks: a reload restarts
// only the checks Check.SameSettings finds changed.
func TestEveryCheckSettingRestarts(t *testing.T) {
	n := 0
	for _, l := range leaves(t, reflect.TypeFor[Config]()) {
		if !strings.HasPrefix(l.path, "Checks[0].") {
			continue
		}
		n++
		base, changed := variant(t, l)
		a, b := base.Checks[0], changed.Checks[0]
		same := a.SameSettings(b) && b.SameSettings(a)
		if pos := strings.HasSuffix(l.key, ".Pos"); pos != same {
			t.Errorf("%s: Check.SameSettings says same=%v", l.path, same)
		}
	}
	if n < 20 {
		t.Fatalf("only %d check fields found: the walk is broken", n)
	}
}

// TestCoverageTablesCurrent keeps the tables above honest: each entry must
// name a field that exists.
func TestCoverageTablesCurrent(t *testing.T) {
	keys := map[string]bool{}
	for _, l := range leaves(t, reflect.TypeFor[Config]()) {
		keys[l.key] = true
	}
	for _, m := range []map[string]string{notSettings, encodeDerived} {
		for k := range m {
			if !keys[k] {
				t.Errorf("%s is in a table but is no field of the model", k)
			}
		}
	}
	for k := range fieldContext {
		if !keys[k] {
			t.Errorf("%s has a context but is no field of the model", k)
		}
	}
}
