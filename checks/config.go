package checks

// The settings of a check, their defaults and the rules every check is
// held to, whoever wrote it (a front end in package config, or code). What
// all kinds share is here; each kind's own settings and rules sit beside
// its behaviour (exec.go, process.go, tcp.go, http.go, dns.go, file.go,
// iface.go), registered once in kinds below.

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/fielderr"
)

// Kind names the kind of a health check, spelled as the native format's
// key of its settings.
type Kind string

// The check kinds. keepalived's vrrp_script is KindExec, track_file (once
// vrrp_track_file) is KindFile and track_interface is KindInterface.
const (
	KindExec      Kind = "exec"
	KindProcess   Kind = "process"
	KindTCP       Kind = "tcp"
	KindHTTP      Kind = "http"
	KindDNS       Kind = "dns"
	KindFile      Kind = "file"
	KindInterface Kind = "interface"
)

// kindDef is what the shared code needs to know of a kind: where its
// settings are in a Config, how to check them, and how to build its prober
// from a Config whose settings passed that check.
type kindDef struct {
	kind Kind
	// settings reports whether c has this kind's settings.
	settings func(c *Config) bool
	// validate checks the kind's settings, adding problems through fail
	// with fields below the kind's key ("dns.server").
	validate func(c *Config, fail func(field, msg string))
	// same compares the kind's settings of two checks that both have them.
	same func(a, b *Config) bool
	// prober builds the prober.
	prober func(c *Config, opts Options) (Prober, error)
	// defaults, if set, fills in the settings a front end left empty
	// (FinishSettings).
	defaults func(c *Config)
}

// kinds registers every kind, in the order messages list them. A new kind
// adds its constant above, its field in Config tagged with it, a file of
// its own with its settings (their fields tagged for the native format),
// rules and prober, and one line here (README.md, "Adding a kind").
var kinds = []kindDef{
	execKind,
	processKind,
	tcpKind,
	httpKind,
	dnsKind,
	fileKind,
	interfaceKind,
}

// Kinds lists the kinds in the order messages name them.
func Kinds() []Kind {
	out := make([]Kind, len(kinds))
	for i, k := range kinds {
		out[i] = k.kind
	}
	return out
}

func kindOf(k Kind) *kindDef {
	for i := range kinds {
		if kinds[i].kind == k {
			return &kinds[i]
		}
	}
	return nil
}

// Defaults of the settings every kind has. Timeout defaults to the
// interval.
const (
	// DefaultInterval is the time between two runs when the check sets
	// none (keepalived's vrrp_script default).
	DefaultInterval = time.Second
	// DefaultFall and DefaultRise are the consecutive failures and
	// successes that change a check's state.
	DefaultFall = 1
	DefaultRise = 1
)

// MinWeight and MaxWeight bound check and track weights (keepalived's
// [-253, 253]); file checks, whose weight multiplies a number, may use
// -254 and 254 as keepalived's track_file does (WeightRange).
const (
	MinWeight = -253
	MaxWeight = 253
)

// WeightRange returns the weights a check of kind k, or a track of one,
// may have.
func WeightRange(k Kind) (lo, hi int) {
	if k == KindFile {
		return MinWeight - 1, MaxWeight + 1
	}
	return MinWeight, MaxWeight
}

// Config is one health check, shared by every instance that tracks it.
type Config struct {
	// Name identifies the check (keepalived's vrrp_script NAME). Checks
	// made for track_interface entries are named "interface:IFNAME".
	Name string
	// Kind says which of the kind-specific fields below is set.
	Kind Kind

	// Interval is the time between two runs (default DefaultInterval;
	// keepalived.conf gives whole seconds).
	Interval time.Duration
	// Timeout bounds one run; a run that exceeds it fails (default: the
	// interval).
	Timeout time.Duration
	// Fall is how many consecutive failures make a healthy check failed.
	Fall int
	// Rise is how many consecutive successes make a failed check healthy.
	Rise int
	// Weight is the default priority weight for instances that track the
	// check without their own: 0 means a failure puts the instance in
	// FAULT; negative is subtracted while failing; positive is added while
	// succeeding. For KindFile it multiplies the number read from the file.
	Weight int
	// WeightReverse inverts the sense of Weight (keepalived "weight N
	// reverse"): a negative weight is subtracted while succeeding, a
	// positive one added while failing.
	WeightReverse bool
	// InitFail starts the check failed instead of healthy.
	InitFail bool

	// Exactly one of these is set, the one Kind names. Each is tagged
	// with its kind, which is how NewSettings and Settings find it.
	Exec      *ExecConfig      `kind:"exec"`
	Process   *ProcessConfig   `kind:"process"`
	TCP       *TCPConfig       `kind:"tcp"`
	HTTP      *HTTPConfig      `kind:"http"`
	DNS       *DNSConfig       `kind:"dns"`
	File      *FileConfig      `kind:"file"`
	Interface *InterfaceConfig `kind:"interface"`
}

// kindFields maps each kind to the index of its field in Config, the
// field tagged `kind:"K"`.
var kindFields = func() map[Kind]int {
	m := map[Kind]int{}
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if k, ok := t.Field(i).Tag.Lookup("kind"); ok {
			m[Kind(k)] = i
		}
	}
	return m
}()

// NewSettings makes k c's kind, gives c new, empty settings of that kind
// and returns them (a *DNSConfig for KindDNS) for a front end to fill; nil
// if k is not a registered kind. A settings type's fields say how the
// native format spells and reads them with struct tags: `yaml:"key"`
// (",omitempty" when a zero value is not written back, ",inline" for an
// embedded struct whose keys sit beside the others) and `vipd:"..."`
// options (package config's yamlkind.go lists them). Once the front end
// has filled them, FinishSettings gives what it left empty its default.
func (c *Config) NewSettings(k Kind) any {
	i, ok := kindFields[k]
	if !ok || kindOf(k) == nil {
		return nil
	}
	f := reflect.ValueOf(c).Elem().Field(i)
	v := reflect.New(f.Type().Elem())
	f.Set(v)
	c.Kind = k
	return v.Interface()
}

// SettingsOf returns c's settings of kind k (a *DNSConfig for KindDNS),
// or nil if c has none of that kind.
func (c *Config) SettingsOf(k Kind) any {
	i, ok := kindFields[k]
	if !ok {
		return nil
	}
	f := reflect.ValueOf(c).Elem().Field(i)
	if f.IsNil() {
		return nil
	}
	return f.Interface()
}

// FinishSettings gives the settings of c's kind that a front end left
// empty their defaults (DefaultDNSConfig), where the kind has any.
func (c *Config) FinishSettings() {
	if k := kindOf(c.Kind); k != nil && k.defaults != nil && k.settings(c) {
		k.defaults(c)
	}
}

// DefaultConfig returns the settings of a check that gives none but its
// name and kind (whose own settings the caller adds): DefaultInterval,
// a timeout of the interval, DefaultFall and DefaultRise, weight 0.
func DefaultConfig(name string, kind Kind) Config {
	return Config{Name: name, Kind: kind, Interval: DefaultInterval, Timeout: DefaultInterval,
		Fall: DefaultFall, Rise: DefaultRise}
}

// SameSettings reports whether c and o configure the same check; a reload
// restarts only checks that changed.
func (c *Config) SameSettings(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	same := c.Name == o.Name && c.Kind == o.Kind && c.Interval == o.Interval && c.Timeout == o.Timeout &&
		c.Fall == o.Fall && c.Rise == o.Rise && c.Weight == o.Weight &&
		c.WeightReverse == o.WeightReverse && c.InitFail == o.InitFail
	if !same {
		return false
	}
	var mine *kindDef
	for i, k := range kinds {
		if k.settings(c) != k.settings(o) {
			return false
		}
		if k.settings(c) && mine == nil {
			mine = &kinds[i]
		}
	}
	return mine == nil || mine.same(c, o)
}

// FieldError is a problem with one setting of a check. Its Field is the
// setting's path below the check, spelled as the native format's keys
// ("interval", "dns.server", "http.expect_status"), so that a front end
// can say where the setting was written and name it as the user did.
type FieldError = fielderr.Error

// ValidationError lists every problem Validate found, in the order of the
// settings.
type ValidationError = fielderr.List

// Validate checks every setting of c and returns nil or a
// ValidationError. Unlike NewRunner it gives zero values no default: a
// front end fills in the defaults it documents (DefaultConfig) before.
// The check's name being unique, and the script security of an exec
// check, are the caller's to check: they depend on the other checks and
// on the machine.
func (c *Config) Validate() error {
	var errs ValidationError
	fail := errs.Add
	if strings.TrimSpace(c.Name) == "" {
		fail("name", "is required")
	}
	if c.Interval <= 0 {
		fail("interval", fmt.Sprintf("%v must be greater than 0", c.Interval))
	}
	if c.Timeout <= 0 {
		fail("timeout", fmt.Sprintf("%v must be greater than 0", c.Timeout))
	}
	if c.Fall < 1 {
		fail("fall", fmt.Sprintf("%d must be at least 1", c.Fall))
	}
	if c.Rise < 1 {
		fail("rise", fmt.Sprintf("%d must be at least 1", c.Rise))
	}
	lo, hi := WeightRange(c.Kind)
	if c.Weight < lo || c.Weight > hi {
		fail("weight", fmt.Sprintf("%d is out of range %d..%d", c.Weight, lo, hi))
	}
	c.validateKind(fail)
	return errs.Err()
}

// validateKind checks that c has exactly its kind's settings, and them.
func (c *Config) validateKind(fail func(field, msg string)) {
	n := 0
	for _, k := range kinds {
		if k.settings(c) {
			n++
		}
	}
	k := kindOf(c.Kind)
	switch {
	case k == nil:
		fail("kind", fmt.Sprintf("%q is not a check kind", c.Kind))
	case !k.settings(c) || n != 1:
		fail(string(c.Kind), fmt.Sprintf("a %s check needs its %s settings and no other kind's", c.Kind, c.Kind))
	default:
		k.validate(c, fail)
	}
}

// kindError returns the first problem of c's kind-specific settings as a
// *ConfigError, or nil: the probers are built only from settings that
// pass the rules a front end reports.
func (c *Config) kindError() error {
	var first *ConfigError
	c.validateKind(func(field, msg string) {
		if first == nil {
			first = &ConfigError{Check: c.Name, Kind: c.Kind, Field: field, Err: errors.New(msg)}
		}
	})
	if first == nil {
		return nil
	}
	return first
}
