package config

import (
	"slices"
	"time"
)

// This file holds the model of what makes a VIP follow the service: health
// checks and how instances track them, N-way priority orders, notify
// scripts and sync groups. The parsers fill it; checks/, order/, notify/ and
// the agent read it.

// CheckKind names the kind of a health check.
type CheckKind string

// The check kinds. keepalived's vrrp_script is CheckExec, track_file (once
// vrrp_track_file) is CheckFile and track_interface is CheckInterface.
const (
	CheckExec      CheckKind = "exec"
	CheckProcess   CheckKind = "process"
	CheckTCP       CheckKind = "tcp"
	CheckHTTP      CheckKind = "http"
	CheckDNS       CheckKind = "dns"
	CheckFile      CheckKind = "file"
	CheckInterface CheckKind = "interface"
)

// Check is one health check, shared by every instance that tracks it.
type Check struct {
	// Name identifies the check (keepalived's vrrp_script NAME). Checks
	// made for track_interface entries are named "interface:IFNAME".
	Name string
	// Pos is where the check is defined.
	Pos Pos
	// Kind says which of the kind-specific fields below is set.
	Kind CheckKind

	// Interval is the time between two runs (keepalived default 1 s;
	// keepalived.conf gives whole seconds).
	Interval time.Duration
	// Timeout bounds one run; a run that exceeds it fails (keepalived
	// default: the interval).
	Timeout time.Duration
	// Fall is how many consecutive failures make a healthy check failed.
	Fall int
	// Rise is how many consecutive successes make a failed check healthy.
	Rise int
	// Weight is the default priority weight for instances that track the
	// check without their own: 0 means a failure puts the instance in
	// FAULT; negative is subtracted while failing; positive is added while
	// succeeding. For CheckFile it multiplies the number read from the file.
	Weight int
	// WeightReverse inverts the sense of Weight (keepalived "weight N
	// reverse"): a negative weight is subtracted while succeeding, a
	// positive one added while failing.
	WeightReverse bool
	// InitFail starts the check failed instead of healthy.
	InitFail bool

	// Exactly one of these is set, the one Kind names.
	Exec      *ExecCheck
	Process   *ProcessCheck
	TCP       *TCPCheck
	HTTP      *HTTPCheck
	DNS       *DNSCheck
	File      *FileCheck
	Interface *InterfaceCheck

	// src records where each setting was written; nil for checks built
	// in code.
	src *Source
}

// ExecCheck runs a program; exit status 0 is success.
type ExecCheck struct {
	// Command is the program and its arguments, run without a shell (give
	// "sh", "-c", "..." to use one).
	Command []string
	// User and Group run the program unprivileged (keepalived's "user"
	// keyword); empty User means ScriptSecurity's User and Group. Group
	// empty means the user's primary group.
	User, Group string
}

// ProcessCheck is healthy while a process is alive, found without spawning
// anything: by name in /proc, or through a pid file.
type ProcessCheck struct {
	// Name matches the process name (/proc/PID/comm, or argv[0]'s base
	// name), like `killall -0 NAME`.
	Name string
	// PIDFile, if set, names a file holding the pid to look for.
	PIDFile string
}

// TCPCheck is healthy when a TCP connection to Address succeeds.
type TCPCheck struct {
	// Address is host:port.
	Address string
}

// HTTPCheck is healthy when a GET of URL answers with an expected status
// and, if set, a body matching BodyRegexp.
type HTTPCheck struct {
	// URL is the http:// or https:// address to GET.
	URL string
	// ExpectStatus lists the acceptable status codes; empty means 200-399.
	ExpectStatus []int
	// BodyRegexp, when not empty, must match the (bounded) body.
	BodyRegexp string
	// InsecureSkipVerify disables TLS certificate checks (self-signed
	// health endpoints).
	InsecureSkipVerify bool
}

// DNSCheck is healthy when a query to Server gets the expected answer.
type DNSCheck struct {
	// Server is host:port (port 53 if omitted).
	Server string
	// Name, Type ("A", "TXT", ...) and Class ("IN") of the question.
	Name, Type, Class string
	// Protocol is "udp" (default) or "tcp".
	Protocol string
	// ExpectRcode is the expected response code ("NOERROR" by default).
	ExpectRcode string
	// ExpectAnswer, when not empty, is a regular expression that some
	// answer record's data (as `dig +short` prints it) must match.
	ExpectAnswer string
}

// FileCheck reads an integer from a file (keepalived's track_file, once
// vrrp_track_file); the instance's priority moves by that number times the
// weight, and with weight 0 a non-zero number means FAULT.
type FileCheck struct {
	// Path is the file holding the number (a missing file reads as 0).
	Path string
	// InitValue is written to Path at start if it does not exist
	// (keepalived's init_file); nil means leave it.
	InitValue *int
	// InitOverwrite writes InitValue even over an existing file
	// (keepalived's "init_file VALUE overwrite"); only on a first start,
	// not on reload.
	InitOverwrite bool
}

// InterfaceCheck fails while the interface's link is down.
type InterfaceCheck struct {
	// Name is the interface watched.
	Name string
}

// Track is one instance's use of a check.
type Track struct {
	// Check is the name of the tracked check.
	Check string
	// Weight overrides the check's weight for this instance when set.
	Weight *int
	// WeightReverse overrides the check's reverse flag when Weight is set.
	WeightReverse bool
	// Pos is where the tracking is configured.
	Pos Pos
}

// Effective returns the weight and reverse flag this track applies with
// check c (the one named by t.Check): its own when Weight is set, else the
// check's.
func (t Track) Effective(c *Check) (weight int, reverse bool) {
	if t.Weight != nil {
		return *t.Weight, t.WeightReverse
	}
	if c == nil {
		return 0, false
	}
	return c.Weight, c.WeightReverse
}

// MinWeight and MaxWeight bound check and track weights (keepalived's
// [-253, 253]); file checks, whose weight multiplies a number, may use
// -254 and 254 as keepalived's track_file does.
const (
	MinWeight = -253
	MaxWeight = 253
)

// Unhealthy says what an order does with this node when it is unhealthy
// or disabled.
type Unhealthy string

const (
	// UnhealthyLowest drops to the lowest priority (1, below every
	// position of the order): still a backup of last resort.
	UnhealthyLowest Unhealthy = "lowest"
	// UnhealthyFault puts the instance in FAULT: it never takes the VIP.
	UnhealthyFault Unhealthy = "fault"
)

// Order gives an instance its priority from this node's place in an ordered
// list of node names (scenario 5 of the design): the first healthy node is
// master, the next its first backup, and so on. Only the native format has
// orders. An instance with an order has no priority of its own (its
// Priority keeps the default and is not used) and cannot be an address
// owner.
type Order struct {
	// Nodes is the list given in the configuration. Ignored when File is set.
	Nodes []string
	// File is a file with one node name per line; a line starting with '#'
	// disables that node (the file is watched for changes). A relative path
	// in the native format is relative to the configuration file's
	// directory; the parser stores it joined.
	File string
	// Reverse walks the list from its end (a second VIP preferring the
	// opposite order).
	Reverse bool
	// Priorities are the priorities of the positions, first to last; nodes
	// past the end get the last one minus 1 per step. Default 250, 200,
	// 150, 100, 50 (DefaultOrderPriorities); the parsers fill it in. Each
	// is 2-254 (1 is UnhealthyLowest's, 255 the address owner's), in
	// strictly decreasing order.
	Priorities []uint8
	// Unhealthy is what happens to this node's instance when it is
	// disabled in the order, missing from it, or a tracked check fails
	// (whatever the check's weight). Default UnhealthyLowest.
	Unhealthy Unhealthy
	// Pos is where the order is configured.
	Pos Pos
}

// DefaultOrderPriorities returns the priorities of the first positions of
// an order when the configuration gives none: 250, 200, 150, 100, 50.
func DefaultOrderPriorities() []uint8 { return []uint8{250, 200, 150, 100, 50} }

// MinOrderPriority is the lowest priority of a healthy node in an order;
// UnhealthyLowest's 1 is below all of them.
const MinOrderPriority = 2

// Priority returns the priority of position i (0 is the first) of the
// order: Priorities[i], or past their end the last one minus 1 per extra
// step, never below MinOrderPriority.
func (o *Order) Priority(i int) uint8 {
	ps := o.Priorities
	if len(ps) == 0 {
		ps = DefaultOrderPriorities()
	}
	if i < 0 {
		i = 0
	}
	if i < len(ps) {
		return ps[i]
	}
	p := int(ps[len(ps)-1]) - (i - len(ps) + 1)
	return uint8(max(p, MinOrderPriority))
}

// DefaultNotifyTimeout bounds a notify script that sets no timeout.
const DefaultNotifyTimeout = 10 * time.Second

// NotifyEvent names one of the scripts of a Notify, as the native format
// spells its key.
type NotifyEvent string

// The notify scripts. keepalived's keyword is "notify" for NotifyAny and
// "notify_" followed by the event for the others.
const (
	NotifyAny              NotifyEvent = "any"
	NotifyMaster           NotifyEvent = "master"
	NotifyBackup           NotifyEvent = "backup"
	NotifyFault            NotifyEvent = "fault"
	NotifyStop             NotifyEvent = "stop"
	NotifyMasterRxLowerPri NotifyEvent = "master_rx_lower_pri"
)

// NotifyEvents lists every NotifyEvent, in the order of the Notify fields.
func NotifyEvents() []NotifyEvent {
	return []NotifyEvent{NotifyAny, NotifyMaster, NotifyBackup, NotifyFault, NotifyStop, NotifyMasterRxLowerPri}
}

// KeepalivedKeyword returns keepalived's keyword for the script:
// "notify", "notify_master", ...
func (e NotifyEvent) KeepalivedKeyword() string {
	if e == NotifyAny {
		return "notify"
	}
	return "notify_" + string(e)
}

// ScriptUser names the user, and optionally the group, a script runs as.
type ScriptUser struct {
	// User is a user name; empty means the default (ScriptSecurity.User,
	// else the user vipd runs as).
	User string
	// Group is a group name; empty means User's primary group.
	Group string
}

// Notify holds the scripts run on state changes, keepalived-style. Each is
// a command line split into words (keepalived's quoting rules); nil means
// none.
type Notify struct {
	// Any runs on every change with arguments TYPE NAME STATE PRIORITY
	// (keepalived's notify).
	Any []string
	// Master, Backup, Fault and Stop run on entering that state, with no
	// added arguments.
	Master, Backup, Fault, Stop []string
	// MasterRxLowerPri runs when a master hears a lower-priority advert.
	MasterRxLowerPri []string
	// Timeout bounds each run; the process group is killed after it.
	// Default 10 s (DefaultNotifyTimeout); the parsers fill it in.
	Timeout time.Duration
	// RunAs gives the user of scripts that name their own (keepalived's
	// `notify_master "CMD" USER [GROUP]`, the native `user:` of a script);
	// the others run as ScriptSecurity says. Nil when none does.
	RunAs map[NotifyEvent]ScriptUser
}

// Empty reports whether no script is configured.
func (n Notify) Empty() bool {
	return n.Any == nil && n.Master == nil && n.Backup == nil && n.Fault == nil &&
		n.Stop == nil && n.MasterRxLowerPri == nil
}

// Command returns the script run for e, or nil.
func (n *Notify) Command(e NotifyEvent) []string {
	if p := n.slot(e); p != nil {
		return *p
	}
	return nil
}

// User returns who runs the script for e: its own RunAs entry, or the
// zero ScriptUser (the default).
func (n *Notify) User(e NotifyEvent) ScriptUser { return n.RunAs[e] }

// SetCommand sets e's script (nil: none).
func (n *Notify) SetCommand(e NotifyEvent, argv []string) { *n.slot(e) = argv }

// slot returns the field holding e's script.
func (n *Notify) slot(e NotifyEvent) *[]string {
	switch e {
	case NotifyAny:
		return &n.Any
	case NotifyMaster:
		return &n.Master
	case NotifyBackup:
		return &n.Backup
	case NotifyFault:
		return &n.Fault
	case NotifyStop:
		return &n.Stop
	case NotifyMasterRxLowerPri:
		return &n.MasterRxLowerPri
	}
	return nil
}

// Equal reports whether n and o configure the same scripts, users and
// timeout.
func (n *Notify) Equal(o *Notify) bool {
	for _, e := range NotifyEvents() {
		if !slices.Equal(n.Command(e), o.Command(e)) || n.User(e) != o.User(e) {
			return false
		}
	}
	return n.Timeout == o.Timeout
}

// SyncGroup makes instances change state together (keepalived's
// vrrp_sync_group): when one leaves MASTER or enters FAULT, all do.
// keepalived's tracking on a group (track_script and the like inside
// vrrp_sync_group) is stored as tracks of every member.
type SyncGroup struct {
	// Name identifies the group; unique.
	Name string
	// Pos is where the group is defined.
	Pos Pos
	// Instances are the member instances' names. An instance is in at most
	// one group.
	Instances []string
	// Notify are the group's scripts (TYPE is GROUP). A group has no
	// MasterRxLowerPri script.
	Notify Notify
	// Cloud, when set, lists the cloud actions run while the group is
	// MASTER (native format only).
	Cloud *Cloud

	src *Source
}

// SameSettings reports whether g and o configure the same group, its cloud
// section included, ignoring positions.
func (g *SyncGroup) SameSettings(o *SyncGroup) bool {
	if g == nil || o == nil {
		return g == o
	}
	return g.Name == o.Name && slices.Equal(g.Instances, o.Instances) && g.Notify.Equal(&o.Notify) &&
		g.Cloud.SameSettings(o.Cloud)
}

// SameSettings reports whether c and o configure the same check, ignoring
// positions; a reload restarts only checks that changed.
func (c *Check) SameSettings(o *Check) bool {
	if c == nil || o == nil {
		return c == o
	}
	same := c.Name == o.Name && c.Kind == o.Kind && c.Interval == o.Interval && c.Timeout == o.Timeout &&
		c.Fall == o.Fall && c.Rise == o.Rise && c.Weight == o.Weight &&
		c.WeightReverse == o.WeightReverse && c.InitFail == o.InitFail
	if !same {
		return false
	}
	switch {
	case (c.Exec == nil) != (o.Exec == nil), (c.Process == nil) != (o.Process == nil),
		(c.TCP == nil) != (o.TCP == nil), (c.HTTP == nil) != (o.HTTP == nil),
		(c.DNS == nil) != (o.DNS == nil), (c.File == nil) != (o.File == nil),
		(c.Interface == nil) != (o.Interface == nil):
		return false
	case c.Exec != nil:
		return slices.Equal(c.Exec.Command, o.Exec.Command) && c.Exec.User == o.Exec.User && c.Exec.Group == o.Exec.Group
	case c.Process != nil:
		return *c.Process == *o.Process
	case c.TCP != nil:
		return *c.TCP == *o.TCP
	case c.HTTP != nil:
		return c.HTTP.URL == o.HTTP.URL && slices.Equal(c.HTTP.ExpectStatus, o.HTTP.ExpectStatus) &&
			c.HTTP.BodyRegexp == o.HTTP.BodyRegexp && c.HTTP.InsecureSkipVerify == o.HTTP.InsecureSkipVerify
	case c.DNS != nil:
		return *c.DNS == *o.DNS
	case c.File != nil:
		a, b := c.File, o.File
		return a.Path == b.Path && a.InitOverwrite == b.InitOverwrite &&
			(a.InitValue == nil) == (b.InitValue == nil) && (a.InitValue == nil || *a.InitValue == *b.InitValue)
	case c.Interface != nil:
		return *c.Interface == *o.Interface
	}
	return true
}

// sameTracks compares track lists, ignoring positions.
func sameTracks(a, b []Track) bool {
	return slices.EqualFunc(a, b, func(x, y Track) bool {
		return x.Check == y.Check && x.WeightReverse == y.WeightReverse &&
			(x.Weight == nil) == (y.Weight == nil) && (x.Weight == nil || *x.Weight == *y.Weight)
	})
}

// sameOrder compares orders, ignoring positions.
func sameOrder(a, b *Order) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Nodes, b.Nodes) && a.File == b.File && a.Reverse == b.Reverse &&
		slices.Equal(a.Priorities, b.Priorities) && a.Unhealthy == b.Unhealthy
}

// Check returns the check named name, or nil.
func (c *Config) Check(name string) *Check {
	for _, ch := range c.Checks {
		if ch.Name == name {
			return ch
		}
	}
	return nil
}

// SyncGroupOf returns the sync group instance name belongs to, or nil.
func (c *Config) SyncGroupOf(name string) *SyncGroup {
	for _, g := range c.SyncGroups {
		if slices.Contains(g.Instances, name) {
			return g
		}
	}
	return nil
}

// ScriptSecurity is the global policy for running scripts.
type ScriptSecurity struct {
	// Enforce refuses scripts (and their directories) writable by a
	// non-root user when vipd runs as root (keepalived's
	// enable_script_security). On by default in the native format. Loading
	// applies it: a configuration with an insecure script that would run
	// as root does not load (keepalived.conf without
	// enable_script_security gets a warning per such script instead).
	Enforce bool
	// User and Group run scripts that set no user of their own
	// (keepalived's script_user; for keepalived.conf without one, the
	// user keepalived_script when it exists, as keepalived does); empty
	// User means the user vipd runs as, empty Group the user's primary
	// group.
	User, Group string
}
