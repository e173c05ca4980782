package notify

// The scripts an instance or a sync group runs, who runs them, their
// timeout, and the rules every set of scripts is held to, whoever wrote it
// (a front end in package config, or code).

import (
	"fmt"
	"slices"
	"time"

	"github.com/vipd/vipd/internal/fielderr"
)

// Script names one of the scripts of a Config, as the native format
// spells its key.
type Script string

// The scripts. keepalived's keyword is "notify" for ScriptAny and
// "notify_" followed by the name for the others.
const (
	ScriptAny              Script = "any"
	ScriptMaster           Script = "master"
	ScriptBackup           Script = "backup"
	ScriptFault            Script = "fault"
	ScriptStop             Script = "stop"
	ScriptMasterRxLowerPri Script = "master_rx_lower_pri"
)

// Scripts lists every Script, in the order of the Config fields.
func Scripts() []Script {
	return []Script{ScriptAny, ScriptMaster, ScriptBackup, ScriptFault, ScriptStop, ScriptMasterRxLowerPri}
}

// KeepalivedKeyword returns keepalived's keyword for the script:
// "notify", "notify_master", ...
func (s Script) KeepalivedKeyword() string {
	if s == ScriptAny {
		return "notify"
	}
	return "notify_" + string(s)
}

// User names the user, and optionally the group, a script runs as.
type User struct {
	// User is a user name; empty means the default (Options.User, the
	// configuration's script user, else the user vipd runs as).
	User string
	// Group is a group name; empty means User's primary group.
	Group string
}

// Config holds the scripts run on state changes, keepalived-style. Each
// is a command line split into words (keepalived's quoting rules); nil
// means none.
type Config struct {
	// Any runs on every change with arguments TYPE NAME STATE PRIORITY
	// (keepalived's notify).
	Any []string
	// Master, Backup, Fault and Stop run on entering that state, with no
	// added arguments.
	Master, Backup, Fault, Stop []string
	// MasterRxLowerPri runs when a master hears a lower-priority advert.
	MasterRxLowerPri []string
	// Timeout bounds each run; the process group is killed after it.
	// Front ends fill in DefaultTimeout; zero is only valid without
	// scripts (and then means DefaultTimeout).
	Timeout time.Duration
	// RunAs gives the user of scripts that name their own (keepalived's
	// `notify_master "CMD" USER [GROUP]`, the native `user:` of a script);
	// the others run as Options says. Nil when none does.
	RunAs map[Script]User
}

// Empty reports whether no script is configured.
func (c Config) Empty() bool {
	return c.Any == nil && c.Master == nil && c.Backup == nil && c.Fault == nil &&
		c.Stop == nil && c.MasterRxLowerPri == nil
}

// Command returns the script run for s, or nil.
func (c *Config) Command(s Script) []string {
	if p := c.slot(s); p != nil {
		return *p
	}
	return nil
}

// User returns who runs the script for s: its own RunAs entry, or the
// zero User (the default).
func (c *Config) User(s Script) User { return c.RunAs[s] }

// SetCommand sets s's script (nil: none).
func (c *Config) SetCommand(s Script, argv []string) {
	if p := c.slot(s); p != nil {
		*p = argv
	}
}

// slot returns the field holding s's script.
func (c *Config) slot(s Script) *[]string {
	switch s {
	case ScriptAny:
		return &c.Any
	case ScriptMaster:
		return &c.Master
	case ScriptBackup:
		return &c.Backup
	case ScriptFault:
		return &c.Fault
	case ScriptStop:
		return &c.Stop
	case ScriptMasterRxLowerPri:
		return &c.MasterRxLowerPri
	}
	return nil
}

// Equal reports whether c and o configure the same scripts, users and
// timeout.
func (c *Config) Equal(o *Config) bool {
	for _, s := range Scripts() {
		if !slices.Equal(c.Command(s), o.Command(s)) || c.User(s) != o.User(s) {
			return false
		}
	}
	return c.Timeout == o.Timeout
}

// FieldError is a problem with one setting of a Config. Its Field is the
// setting's path below the scripts, spelled as the native format's keys
// ("master", "master.group", "timeout"), so that a front end can say where
// it was written and name it as the user did.
type FieldError = fielderr.Error

// ValidationError lists every problem Validate found, in the order of the
// settings.
type ValidationError = fielderr.List

// Validate checks an instance's scripts and returns nil or a
// ValidationError. Whether a script is safe to run, and its user exists,
// depend on the machine: the caller checks them.
func (c *Config) Validate() error { return c.validate(false) }

// ValidateGroup checks a sync group's scripts as Validate does; a group
// has no master_rx_lower_pri script (as in keepalived).
func (c *Config) ValidateGroup() error { return c.validate(true) }

func (c *Config) validate(group bool) error {
	var errs ValidationError
	fail := errs.Add
	for _, s := range Scripts() {
		key := string(s)
		cmd := c.Command(s)
		if cmd == nil {
			if _, has := c.RunAs[s]; has {
				fail(key+".user", "a user for a script that is not set")
			}
			continue
		}
		switch {
		case group && s == ScriptMasterRxLowerPri:
			fail(key, "sync groups have no master_rx_lower_pri script (as in keepalived)")
		case len(cmd) == 0 || cmd[0] == "":
			fail(key, "is empty; give the program and its arguments")
		}
		if u := c.User(s); u.Group != "" && u.User == "" {
			fail(key+".group", "needs user")
		}
	}
	// A zero timeout is allowed where there is nothing to run, so that
	// code-built instances without scripts need not set one.
	if c.Timeout < 0 || (c.Timeout == 0 && !c.Empty()) {
		fail("timeout", fmt.Sprintf("%v must be greater than 0", c.Timeout))
	}
	return errs.Err()
}
