package cloudmove

// The settings of a cloud section, their defaults and the rules every
// section is held to, whoever wrote it (the native YAML front end in
// package config, or code). Each action kind's own settings and rules sit
// beside its behaviour: secondaryip.go, elasticip.go, route.go, ebs.go.

import (
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vipd/vipd/internal/fielderr"
)

// OnFailure says what a node does when a cloud action cannot be completed
// within its retry budget (or cannot succeed at all).
type OnFailure string

const (
	// Stay keeps the node MASTER and keeps retrying.
	Stay OnFailure = "stay"
	// Fault puts the instance (or group) in FAULT, so that another node,
	// perhaps with working permissions or a healthy zone, can try.
	Fault OnFailure = "fault"
)

// ParseOnFailure reads an on_failure value, in any case.
func ParseOnFailure(s string) (OnFailure, error) {
	switch f := OnFailure(strings.ToLower(s)); f {
	case Stay, Fault:
		return f, nil
	}
	return "", fmt.Errorf("%q is not stay or fault", s)
}

// Section defaults.
const (
	// DefaultReconcileInterval is how often a master re-checks that the
	// cloud still points at it.
	DefaultReconcileInterval = 30 * time.Second
	// DefaultRefreshInterval is how often ids, interfaces and route
	// tables are resolved again in the background.
	DefaultRefreshInterval = time.Minute
	// DefaultCallTimeout bounds one API call.
	DefaultCallTimeout = 5 * time.Second
	// DefaultRetryBudget is how long an action may keep failing on
	// retryable errors before it is reported failed (it keeps retrying
	// while the node is master).
	DefaultRetryBudget = time.Minute
	// DefaultFaultHold is how long on_failure: fault holds the FAULT
	// state after a failure before the node may try again.
	DefaultFaultHold = 5 * time.Minute
)

// orDefault returns d, or def when d is not positive: a section built in
// code may leave a period zero.
func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Config is the cloud section of an instance or a sync group.
type Config struct {
	// Region is the AWS region; empty means the instance's region from
	// instance metadata.
	Region string
	// Endpoint overrides the EC2 endpoint URL (tests, VPC endpoints);
	// empty means the region's public endpoint.
	Endpoint string
	// OnFailure is Stay (default) or Fault.
	OnFailure OnFailure
	// ReconcileInterval is the period of the master's re-check.
	ReconcileInterval time.Duration
	// RefreshInterval is the period of the background resolution of ids.
	RefreshInterval time.Duration
	// CallTimeout bounds each API call.
	CallTimeout time.Duration
	// RetryBudget is how long each action retries retryable errors before
	// it is reported failed (and OnFailure applies).
	RetryBudget time.Duration
	// FaultHold is how long OnFailure Fault keeps the FAULT state.
	FaultHold time.Duration
	// SkipDryRun skips the start-up DryRun checks of the mutating calls'
	// permissions. For test endpoints that ignore DryRun (and would make
	// the calls): on AWS a missing permission then shows only at the
	// first failover.
	SkipDryRun bool
	// Actions are the actions, in file order; all start at once.
	Actions []*ActionConfig
}

// DefaultConfig returns a section with its defaults and no actions.
func DefaultConfig() *Config {
	return &Config{
		OnFailure:         Stay,
		ReconcileInterval: DefaultReconcileInterval,
		RefreshInterval:   DefaultRefreshInterval,
		CallTimeout:       DefaultCallTimeout,
		RetryBudget:       DefaultRetryBudget,
		FaultHold:         DefaultFaultHold,
	}
}

// SameSettings reports whether c and o configure the same actions and
// settings; a reload keeps the running actions of an unchanged section.
func (c *Config) SameSettings(o *Config) bool {
	if c == nil || o == nil {
		return c == o
	}
	return c.Region == o.Region && c.Endpoint == o.Endpoint && c.OnFailure == o.OnFailure &&
		c.ReconcileInterval == o.ReconcileInterval && c.RefreshInterval == o.RefreshInterval &&
		c.CallTimeout == o.CallTimeout && c.RetryBudget == o.RetryBudget && c.FaultHold == o.FaultHold &&
		c.SkipDryRun == o.SkipDryRun &&
		slices.EqualFunc(c.Actions, o.Actions, (*ActionConfig).sameSettings)
}

// Kind names the kind of a cloud action.
type Kind string

// The action kinds, spelled as the native format's keys. A new kind adds
// its constant here and in Kinds, its field in ActionConfig tagged with
// the kind, and a file of its own whose settings type is a kindConfig
// with tagged fields (the front end in package config reads and writes
// its keys from those tags).
const (
	KindSecondaryIP Kind = "secondary_ip"
	KindElasticIP   Kind = "elastic_ip"
	KindRoute       Kind = "route"
	KindEBS         Kind = "ebs"
)

// Kinds lists the kinds in the order messages name them.
func Kinds() []Kind {
	return []Kind{KindSecondaryIP, KindElasticIP, KindRoute, KindEBS}
}

// ActionConfig is one action; exactly one of the kind fields is set, the
// one Kind names.
type ActionConfig struct {
	Kind Kind
	// Each kind's field is tagged with the kind: that is how blocks,
	// NewSettings and SettingsOf find it.
	SecondaryIP *SecondaryIPConfig `kind:"secondary_ip"`
	ElasticIP   *ElasticIPConfig   `kind:"elastic_ip"`
	Route       *RouteConfig       `kind:"route"`
	EBS         *VolumeConfig      `kind:"ebs"`
}

// kindFields maps each kind to the index of its field in ActionConfig,
// the field tagged `kind:"K"`; kindOrder lists the indexes in field
// order.
var kindFields, kindOrder = func() (map[Kind]int, []int) {
	m := map[Kind]int{}
	var order []int
	t := reflect.TypeFor[ActionConfig]()
	for i := range t.NumField() {
		if k, ok := t.Field(i).Tag.Lookup("kind"); ok {
			m[Kind(k)] = i
			order = append(order, i)
		}
	}
	return m, order
}()

// defaulter is a kind's settings type whose zero value is not its
// default (VolumeConfig's ForceDetachAfter).
type defaulter interface {
	// setDefaults sets every setting to its default.
	setDefaults()
}

// NewSettings makes k a's kind, gives a new settings of that kind with
// their defaults and returns them (a *RouteConfig for KindRoute) for a
// front end to fill; nil if k is not a kind. A settings type's fields say
// how the native format spells and reads them with struct tags: `yaml`
// for the key (",omitempty" when a zero value is not written back,
// ",inline" for the embedded Target) and `vipd` for options (package
// config's yamlkind.go lists them).
func (a *ActionConfig) NewSettings(k Kind) any {
	i, ok := kindFields[k]
	if !ok || !slices.Contains(Kinds(), k) {
		return nil
	}
	f := reflect.ValueOf(a).Elem().Field(i)
	v := reflect.New(f.Type().Elem())
	if d, ok := v.Interface().(defaulter); ok {
		d.setDefaults()
	}
	f.Set(v)
	a.Kind = k
	return v.Interface()
}

// SettingsOf returns a's settings of kind k (a *RouteConfig for
// KindRoute), or nil if a has none of that kind.
func (a *ActionConfig) SettingsOf(k Kind) any {
	i, ok := kindFields[k]
	if !ok {
		return nil
	}
	f := reflect.ValueOf(a).Elem().Field(i)
	if f.IsNil() {
		return nil
	}
	return f.Interface()
}

// kindConfig is what every kind's settings provide, each in the kind's
// own file; ActionConfig's kind tags are the one place that ties the kinds
// to their fields.
type kindConfig interface {
	// kind is the kind the settings belong to.
	kind() Kind
	// validate reports the settings' problems; k is their field
	// ("actions[0].route").
	validate(v *validation, o Owner, k string)
	// same reports whether o holds the same settings.
	same(o kindConfig) bool
	// newAction builds the action that carries the settings out.
	newAction(o Owner) action
	// grant is what the action needs in an IAM policy (Policy).
	grant(region string) grant
}

// blocks returns the kind settings that are set, in field order.
func (a *ActionConfig) blocks() []kindConfig {
	var out []kindConfig
	v := reflect.ValueOf(a).Elem()
	for _, i := range kindOrder {
		if f := v.Field(i); !f.IsNil() {
			out = append(out, f.Interface().(kindConfig))
		}
	}
	return out
}

// settings returns the settings of the kind Kind names, nil unless they
// are the only ones set.
func (a *ActionConfig) settings() kindConfig {
	if b := a.blocks(); len(b) == 1 && b[0].kind() == a.Kind {
		return b[0]
	}
	return nil
}

func (a *ActionConfig) sameSettings(o *ActionConfig) bool {
	if a == nil || o == nil {
		return a == o
	}
	return a.Kind == o.Kind && slices.EqualFunc(a.blocks(), o.blocks(), kindConfig.same)
}

// Owner is an instance or a sync group that has a cloud section, with the
// settings its actions fall back on.
type Owner struct {
	// Kind is "instance" or "sync_group".
	Kind string
	// Name is the instance's or group's name.
	Name string
	// Cloud is the section.
	Cloud *Config
	// Interface is what actions that name no interface use: the
	// instance's, or a group's first member's.
	Interface string
	// VIPs are the IPv4 VIPs secondary_ip takes when it lists no
	// addresses: the instance's, or every member's in group order.
	VIPs []netip.Addr
}

// FieldError is a problem with one setting of an owner's section. Field
// is the setting's path below the section, spelled as the native format's
// keys ("region", "actions[1].route.route_tables[0]"), so that a front end
// can say where the setting was written and name it as the user did. Err
// is a *ConflictError when another action already moves the same
// resource.
type FieldError = fielderr.Error

// ValidationError lists the problems of one owner's section, in the order
// of its settings.
type ValidationError = fielderr.List

// ConflictError says that a resource is already moved by an earlier
// action: two actions moving one resource would take it from each other.
type ConflictError struct {
	// Resource names the resource ("volume vol-...").
	Resource string
	// Owner is the earlier action's owner, by its index in the list given
	// to Validate; Field its setting, as in FieldError.
	Owner int
	Field string
}

// Error names the resource and the earlier setting.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s is already moved by owner %d's %s", e.Resource, e.Owner, e.Field)
}

// Validate checks the owner's section alone: nil or a ValidationError.
func (o Owner) Validate() error { return Validate([]Owner{o})[0] }

// Validate checks every owner's section, and that no resource is moved by
// two actions. It returns one error per owner, in their order: nil or a
// ValidationError.
func Validate(owners []Owner) []error {
	v := &validation{claims: map[string]claimant{}, errs: make([]ValidationError, len(owners))}
	for i, o := range owners {
		v.owner = i
		v.section(o)
	}
	out := make([]error, len(owners))
	for i, l := range v.errs {
		out[i] = l.Err()
	}
	return out
}

// claimant is the setting that first claimed a resource.
type claimant struct {
	owner int
	field string
}

// validation collects the problems of one Validate call.
type validation struct {
	owner  int
	claims map[string]claimant // resource → its first claimant
	errs   []ValidationError   // by owner
}

func (v *validation) fail(field, msg string) { v.errs[v.owner].Add(field, msg) }

func (v *validation) failErr(field string, err error) {
	v.errs[v.owner] = append(v.errs[v.owner], &FieldError{Field: field, Err: err})
}

// claim records that the setting at field moves resource, or reports the
// earlier claimant.
func (v *validation) claim(field, resource string) {
	if prev, dup := v.claims[resource]; dup {
		v.failErr(field, &ConflictError{Resource: resource, Owner: prev.owner, Field: prev.field})
		return
	}
	v.claims[resource] = claimant{owner: v.owner, field: field}
}

// awsIDRE matches an EC2 resource id: a prefix, a dash, then 8 (older
// resources) or 17 lower-case hex digits.
func awsIDRE(prefix string) *regexp.Regexp {
	return regexp.MustCompile(`^` + prefix + `-[0-9a-f]{8}([0-9a-f]{9})?$`)
}

var (
	eniRE = awsIDRE("eni")
	// regionRE matches region names such as eu-west-1, us-gov-west-1,
	// ap-southeast-4.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// id checks an optional id against its pattern; false if it is set and
// wrong.
func (v *validation) id(field, val string, re *regexp.Regexp, example string) bool {
	if val != "" && !re.MatchString(val) {
		v.fail(field, fmt.Sprintf("%q is not an id such as %s", val, example))
		return false
	}
	return true
}

// Target says which network interface (ENI) of this node an action works
// on: the one named, else the one behind a local interface.
type Target struct {
	// Interface is the local interface whose ENI is meant; empty means
	// the owner's interface.
	Interface string `yaml:"interface,omitempty"`
	// ENI names the network interface (eni-...); empty means the one whose
	// MAC address the interface has, from instance metadata.
	ENI string `yaml:"eni,omitempty"`
}

// validate checks the target of the action at k: an interface given, or
// the owner's to default to, and the ENI's id. The spelling of a given
// interface name is the front end's to check (the kernel's rules hold for
// every interface a configuration names).
func (t Target) validate(v *validation, o Owner, k string) {
	if t.Interface == "" && o.Interface == "" {
		v.fail(k+".interface", "is required (the owner has no interface to default to)")
	}
	v.id(k+".eni", t.ENI, eniRE, "eni-0123456789abcdef0")
}

// target returns t: the settings of every kind that embeds a Target
// have it.
func (t *Target) target() *Target { return t }

func (v *validation) section(o Owner) {
	cl := o.Cloud
	if cl == nil {
		v.fail("", "no cloud section")
		return
	}
	if cl.Region != "" && !regionRE.MatchString(cl.Region) {
		v.fail("region", fmt.Sprintf("%q is not a region name such as eu-west-1", cl.Region))
	}
	if cl.Endpoint != "" {
		if u, err := url.Parse(cl.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.fail("endpoint", fmt.Sprintf("%q is not an http:// or https:// URL", cl.Endpoint))
		}
	}
	if cl.OnFailure != Stay && cl.OnFailure != Fault {
		v.fail("on_failure", fmt.Sprintf("%q is not stay or fault", cl.OnFailure))
	}
	atLeast := func(field string, d, min time.Duration) {
		if d < min {
			v.fail(field, fmt.Sprintf("%v must be at least %v", d, min))
		}
	}
	atLeast("reconcile_interval", cl.ReconcileInterval, time.Second)
	atLeast("refresh_interval", cl.RefreshInterval, time.Second)
	atLeast("call_timeout", cl.CallTimeout, 100*time.Millisecond)
	atLeast("retry_budget", cl.RetryBudget, cl.CallTimeout)
	if cl.FaultHold < 0 {
		v.fail("fault_hold", fmt.Sprintf("%v is negative", cl.FaultHold))
	}
	if len(cl.Actions) == 0 {
		v.fail("actions", "must list at least one action")
	}
	for j, a := range cl.Actions {
		v.action(o, a, "actions["+strconv.Itoa(j)+"]")
	}
}

func (v *validation) action(o Owner, a *ActionConfig, field string) {
	if !slices.Contains(Kinds(), a.Kind) {
		v.fail(field, fmt.Sprintf("%q is not a cloud action kind", a.Kind))
		return
	}
	kc := a.settings()
	if kc == nil {
		v.fail(field, fmt.Sprintf("a %s action needs its %s settings and no other kind's", a.Kind, a.Kind))
		return
	}
	kc.validate(v, o, field+"."+string(a.Kind))
}

// Interfaces returns the interface names the section's actions give, by
// field, for the front end's spelling check.
func (c *Config) Interfaces() map[string]string {
	out := map[string]string{}
	for j, a := range c.Actions {
		k := "actions[" + strconv.Itoa(j) + "]." + string(a.Kind) + ".interface"
		// Without its settings (Validate reports it) an action's fields
		// are not read.
		if t, ok := a.settings().(interface{ target() *Target }); ok && t.target().Interface != "" {
			out[k] = t.target().Interface
		}
	}
	return out
}
