package keepalived

import (
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

// keepalived.conf follows keepalived: enforced with enable_script_security
// only; missing scripts are disabled whatever the setting.
func TestScriptSecurityKeepalived(t *testing.T) {
	script := func(path string) string {
		return "vrrp_script chk {\n  script " + path + "\n}\n" // lines 1-3
	}
	secure := "global_defs {\n  enable_script_security\n  script_user root\n}\n" // lines 1-4
	tracked := func(defs string) string {
		return defs + instanceConf("  track_script {", "    chk", "  }", "  notify_master /etc/keepalived/gone.sh", "  virtual_ipaddress {", "    192.0.2.1", "  }")
	}
	tests := []struct {
		name    string
		conf    string
		wantErr string
		warns   []string
		checks  int
		tracks  int
	}{
		{name: "secure, enforced", conf: secure + script("/etc/keepalived/check.sh"), checks: 1},
		{name: "insecure, enforced: refused", conf: secure + script("/home/bob/check.sh"),
			wantErr: kc + `:6: vrrp_script[chk].script: check "chk" runs as root but /home/bob is owned by uid 1000, not root; refusing it (script security)`},
		{name: "insecure without enable_script_security: run with warnings", conf: script("/home/bob/check.sh"), checks: 1,
			warns: []string{
				kc + `:2: warning: vrrp_script[chk].script: check "chk" runs as root but /home/bob is owned by uid 1000, not root; keepalived runs it without enable_script_security, and so does vipd`,
				kc + ":2: warning: vrrp_script[chk].script: scripts run as root but enable_script_security is not set (keepalived reports a SECURITY VIOLATION)",
			}},
		{name: "missing scripts are disabled, and so are their tracks", conf: tracked(script("/etc/keepalived/gone.sh")), checks: 0, tracks: 0,
			warns: []string{
				kc + `:2: warning: vrrp_script[chk].script: check "chk": /etc/keepalived/gone.sh cannot be accessed: file does not exist; disabled, as keepalived does`,
				kc + `:10: warning: vrrp_instance[VI_1].notify_master: notify_master script of instance VI_1: /etc/keepalived/gone.sh cannot be accessed: file does not exist; disabled`,
			}},
		{name: "bare names are looked up in PATH", conf: tracked(secure + script("killall")), checks: 1, tracks: 1,
			warns: []string{kc + `:14: warning: vrrp_instance[VI_1].notify_master: notify_master script of instance VI_1: /etc/keepalived/gone.sh cannot be accessed`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse(kc, []byte(tc.conf), config.LoadOptions{Hostname: "h1", System: rootSys()})
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("loaded; warnings:\n%s", configtest.Render(cfg.Warnings))
				}
				configtest.RequireDiag(t, configtest.DiagnosticsOf(t, cfg, err), config.SeverityError, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.warns {
				configtest.RequireDiag(t, cfg.Warnings, config.SeverityWarning, w)
			}
			if len(cfg.Warnings) != len(tc.warns) {
				t.Errorf("%d warnings, want %d:\n%s", len(cfg.Warnings), len(tc.warns), configtest.Render(cfg.Warnings))
			}
			if len(cfg.Checks) != tc.checks {
				t.Errorf("%d checks, want %d", len(cfg.Checks), tc.checks)
			}
			if len(cfg.Instances) > 0 && len(cfg.Instances[0].Track) != tc.tracks {
				t.Errorf("%d tracks, want %d", len(cfg.Instances[0].Track), tc.tracks)
			}
		})
	}
}
