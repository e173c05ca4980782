package notify

import (
	"testing"
	"time"

	"github.com/vipd/vipd/internal/fielderr/fielderrtest"
)

// TestConfigValidate checks that Validate names each bad setting by its
// key below the notify block, with the message a front end prints.
func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		c     Config
		group bool
		want  []string
	}{
		{"nothing to run, no timeout", Config{}, false, nil},
		{"a script", Config{Master: []string{"/x"}, Timeout: DefaultTimeout}, false, nil},
		{"a script without timeout", Config{Master: []string{"/x"}}, false, []string{"timeout: 0s must be greater than 0"}},
		{"negative timeout", Config{Timeout: -time.Second}, false, []string{"timeout: -1s must be greater than 0"}},
		{"empty program", Config{Stop: []string{""}, Timeout: time.Second}, false, []string{"stop: is empty"}},
		{"user of no script", Config{Timeout: time.Second, RunAs: map[Script]User{ScriptFault: {User: "u"}}}, false,
			[]string{"fault.user: a user for a script that is not set"}},
		{"group without user", Config{Any: []string{"/x"}, Timeout: time.Second, RunAs: map[Script]User{ScriptAny: {Group: "g"}}}, false,
			[]string{"any.group: needs user"}},
		{"group's master_rx_lower_pri", Config{MasterRxLowerPri: []string{"/x"}, Timeout: time.Second}, true,
			[]string{"master_rx_lower_pri: sync groups have no master_rx_lower_pri script"}},
		{"instance's master_rx_lower_pri", Config{MasterRxLowerPri: []string{"/x"}, Timeout: time.Second}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.group {
				err = tc.c.ValidateGroup()
			}
			fielderrtest.Require(t, err, tc.want...)
		})
	}
}

// TestConfigSetCommand checks the accessors every script goes through.
func TestConfigSetCommand(t *testing.T) {
	var c Config
	for _, s := range Scripts() {
		c.SetCommand(s, []string{"/bin/" + string(s)})
	}
	if c.Empty() || c.MasterRxLowerPri[0] != "/bin/master_rx_lower_pri" || c.Any[0] != "/bin/any" {
		t.Fatalf("SetCommand filled %+v", c)
	}
	o := c
	if !c.Equal(&o) {
		t.Error("a copy differs")
	}
	o.SetCommand(ScriptStop, nil)
	if c.Equal(&o) || o.Command(ScriptStop) != nil {
		t.Error("unsetting stop changed nothing")
	}
	if ScriptAny.KeepalivedKeyword() != "notify" || ScriptFault.KeepalivedKeyword() != "notify_fault" {
		t.Error("keepalived keywords")
	}
}
