package keepalived

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vipd/vipd/checks"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/notify"
)

// kaTrackConf puts body lines (starting at line 4) in instance VI_1 with
// interface eth0, VRID 51 and one VIP, after defs (which must end in a
// newline and are counted in the line numbers given by the tests).
func kaTrackConf(defs string, body ...string) string {
	return defs + instanceConf(append(body, "  virtual_ipaddress {", "    192.0.2.1", "  }")...)
}

const chkScript = "vrrp_script chk {\n  script /usr/bin/true\n}\n" // lines 1-3

// The keepalived reader's tracking keywords, run as an unprivileged vipd
// so that script security stays out of the way (see scriptsec_test.go).
func TestKeepalivedTracking(t *testing.T) {
	tests := []struct {
		name  string
		conf  string
		sys   *fakeSys
		warns []string
		check func(t *testing.T, c *config.Config)
	}{
		{
			name: "vrrp_script defaults are keepalived's",
			conf: chkScript + instanceConf("  virtual_ipaddress {", "    192.0.2.1", "  }"),
			check: func(t *testing.T, c *config.Config) {
				ch := c.Check("chk")
				want := checks.Config{Name: "chk", Kind: checks.KindExec, Interval: time.Second, Timeout: time.Second, Fall: 1, Rise: 1}
				if ch == nil || ch.Name != want.Name || ch.Kind != want.Kind || ch.Interval != want.Interval || ch.Timeout != want.Timeout ||
					ch.Fall != 1 || ch.Rise != 1 || ch.Weight != 0 || ch.WeightReverse || ch.InitFail ||
					!slices.Equal(ch.Exec.Command, []string{"/usr/bin/true"}) || ch.Pos != (config.Pos{File: kc, Line: 1}) {
					t.Errorf("got %+v", ch)
				}
				if !c.FastTakeover || c.Scripts.Enforce || c.Scripts.User != "" {
					t.Errorf("globals: fast takeover %v, scripts %+v", c.FastTakeover, c.Scripts)
				}
			},
		},
		{
			name: "every vrrp_script keyword",
			conf: "vrrp_script chk {\n  script \"/usr/bin/dig +short x TXT\"\n  interval 3\n  weight -20 reverse\n  rise 2\n  fall 4\n  user nobody nogroup\n  init_fail\n}\n",
			check: func(t *testing.T, c *config.Config) {
				ch := c.Checks[0]
				if ch.Interval != 3*time.Second || ch.Timeout != 3*time.Second || ch.Weight != -20 || !ch.WeightReverse ||
					ch.Rise != 2 || ch.Fall != 4 || !ch.InitFail || ch.Exec.User != "nobody" || ch.Exec.Group != "nogroup" ||
					len(ch.Exec.Command) != 4 {
					t.Errorf("got %+v %+v", ch, ch.Exec)
				}
			},
		},
		{
			name: "interval and timeout 0 become 1",
			conf: "vrrp_script chk {\n  script /usr/bin/true\n  interval 0\n  timeout 0\n}\n",
			warns: []string{
				kc + ":3: warning: vrrp_script[chk].interval: must be greater than 0; set to 1",
				kc + ":4: warning: vrrp_script[chk].timeout: must be greater than 0; set to 1",
			},
			check: func(t *testing.T, c *config.Config) {
				if ch := c.Checks[0]; ch.Interval != time.Second || ch.Timeout != time.Second {
					t.Errorf("got %+v", ch)
				}
			},
		},
		{
			name:  "invalid interval is ignored",
			conf:  "vrrp_script chk {\n  script /usr/bin/true\n  interval 1.5\n  timeout 2\n}\n",
			warns: []string{kc + ":3: warning: vrrp_script[chk].interval: invalid number '1.5'; used anyway"},
			check: func(t *testing.T, c *config.Config) {
				// keepalived reads the leading "1" (ignore_error).
				if ch := c.Checks[0]; ch.Interval != time.Second || ch.Timeout != 2*time.Second {
					t.Errorf("got %+v", ch)
				}
			},
		},
		{
			name:  "weight out of range is clamped",
			conf:  "vrrp_script chk {\n  script /usr/bin/true\n  weight 300\n}\n",
			warns: []string{kc + ":3: warning: vrrp_script[chk].weight: number '300' outside range [-253, 253]: weight must be in [-253, 253]; 253 used"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Checks[0].Weight, 253) },
		},
		{
			name:  "weight that is not a number is 0, as strtol makes it",
			conf:  "vrrp_script chk {\n  script /usr/bin/true\n  weight heavy sideways\n}\n",
			warns: []string{kc + ":3: warning: vrrp_script[chk].weight: invalid number 'heavy'; 0 used", kc + `:3: warning: vrrp_script[chk].weight: unknown weight option "sideways"`},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Checks[0].Weight, 0) },
		},
		{
			name:  "invalid rise means 1",
			conf:  "vrrp_script chk {\n  script /usr/bin/true\n  rise 0\n  fall 2\n}\n",
			warns: []string{kc + ":3: warning: vrrp_script[chk].rise: number '0' outside range [1, 2147483647]: invalid; 1 used"},
			check: func(t *testing.T, c *config.Config) {
				if ch := c.Checks[0]; ch.Rise != 1 || ch.Fall != 2 {
					t.Errorf("got %+v", ch)
				}
			},
		},
		{
			name: "an unknown user removes the script, and tracking it is ignored",
			conf: kaTrackConf("vrrp_script chk {\n  script /usr/bin/true\n  user ghost\n}\n", "  track_script {", "    chk", "  }"),
			warns: []string{
				kc + `:3: warning: vrrp_script[chk].user: cannot use script user "ghost": does not exist; vrrp_script removed`,
				kc + ":9: warning: vrrp_instance[VI_1].track_script: track script chk not found",
			},
			check: func(t *testing.T, c *config.Config) {
				if len(c.Checks) != 0 || len(c.Instances[0].Track) != 0 {
					t.Errorf("checks %v tracks %v", c.Checks, c.Instances[0].Track)
				}
			},
		},
		{
			name:  "a vrrp_script without script is removed",
			conf:  "vrrp_script chk {\n  interval 2\n}\n",
			warns: []string{kc + ":1: warning: vrrp_script[chk]: no script set; vrrp_script removed"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Checks), 0) },
		},
		{
			name:  "a second vrrp_script of the same name is ignored",
			conf:  chkScript + "vrrp_script chk {\n  script /usr/bin/false\n}\n",
			warns: []string{kc + ":4: warning: vrrp_script[chk]: vrrp_script chk is already defined at " + kc + ":1; keepalived tracks the first one"},
			check: func(t *testing.T, c *config.Config) {
				if len(c.Checks) != 1 || c.Checks[0].Exec.Command[0] != "/usr/bin/true" {
					t.Errorf("got %v", c.Checks)
				}
			},
		},
		{
			name:  "words after an unquoted script are ignored",
			conf:  "vrrp_script chk {\n  script /usr/bin/killall -0 haproxy\n}\n",
			warns: []string{kc + `:2: warning: vrrp_script[chk].script: words after the script (-0 haproxy) are ignored, as keepalived does; quote the whole command line`},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Checks[0].Exec.Command), 1) },
		},
		{
			name:  "a script with an unterminated quote removes the vrrp_script",
			conf:  "vrrp_script chk {\n  script \"sh -c 'x\"\n}\n",
			warns: []string{kc + `:2: warning: vrrp_script[chk].script: cannot parse the script "sh -c 'x": missing terminating '`, kc + ":1: warning: vrrp_script[chk]: no script set"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Checks), 0) },
		},
		{
			name:  "track_script before its vrrp_script is not found, as in keepalived",
			conf:  kaTrackConf("", "  track_script {", "    chk", "  }") + chkScript,
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].track_script: track script chk not found (it must be defined before it is tracked); ignored"},
			check: func(t *testing.T, c *config.Config) {
				if len(c.Checks) != 1 || len(c.Instances[0].Track) != 0 {
					t.Errorf("checks %v tracks %v", c.Checks, c.Instances[0].Track)
				}
			},
		},
		{
			name: "track_script weights",
			conf: kaTrackConf("vrrp_script a {\n  script /usr/bin/true\n  weight -10 reverse\n}\nvrrp_script b {\n  script /usr/bin/true\n}\n"+
				"vrrp_script c {\n  script /usr/bin/true\n}\nvrrp_script d {\n  script /usr/bin/true\n  weight 7\n}\n",
				"  track_script {", "    a weight 5", "    b weight -254 noreverse", "    c weight 4 upside", "    d weight lots", "    a", "  }"),
			warns: []string{
				kc + ":20: warning: vrrp_instance[VI_1].track_script: weight for b cannot be -254; -253 used",
				kc + `:21: warning: vrrp_instance[VI_1].track_script: unknown weight option "upside" for c; ignored`,
				// strtol makes "lots" 0, and keepalived takes it.
				kc + ":22: warning: vrrp_instance[VI_1].track_script: invalid number 'lots'; 0 used",
				kc + ":23: warning: vrrp_instance[VI_1].track_script: duplicate track_script a; ignored",
			},
			check: func(t *testing.T, c *config.Config) {
				tr := c.Instances[0].Track
				type w struct {
					check   string
					weight  int
					reverse bool
				}
				var got []w
				for _, x := range tr {
					got = append(got, w{x.Check, *x.Weight, x.WeightReverse})
				}
				// "a weight 5" keeps a's reverse flag, as keepalived does.
				want := []w{{"a", 5, true}, {"b", -253, false}, {"c", 4, false}, {"d", 0, false}}
				if !slices.Equal(got, want) {
					t.Errorf("tracks %+v, want %+v", got, want)
				}
				if tr[0].Pos != (config.Pos{File: kc, Line: 19}) {
					t.Errorf("track position %v", tr[0].Pos)
				}
			},
		},
		{
			name: "track_script entries keepalived ignores",
			conf: kaTrackConf(chkScript, "  track_script {", "    chk weighs 5", "    chk weight", "  }"),
			warns: []string{
				kc + `:8: warning: vrrp_instance[VI_1].track_script: unknown track script option "weighs"; chk ignored`,
				kc + ":9: warning: vrrp_instance[VI_1].track_script: weight without a value for chk; ignored",
			},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Instances[0].Track), 0) },
		},
		{
			name: "track_interface makes one interface check per interface",
			conf: kaTrackConf("", "  track_interface {", "    eth1", "    eth2 weight -30 reverse", "    eth3 weight x", "    bad/name", "  }") +
				strings.NewReplacer("VI_1", "VI_2", "id 51", "id 52").Replace(kaTrackConf("", "  track_interface {", "    eth1 weight 10", "  }")),
			warns: []string{
				kc + ":7: warning: vrrp_instance[VI_1].track_interface: invalid number 'x'; 0 used",
				kc + `:8: warning: vrrp_instance[VI_1].track_interface: tracked interface "bad/name" contains a character`,
			},
			check: func(t *testing.T, c *config.Config) {
				if len(c.Checks) != 3 {
					t.Fatalf("checks %v", c.Checks)
				}
				ch := c.Check("interface:eth1")
				if ch == nil || ch.Kind != checks.KindInterface || ch.Interface.Name != "eth1" || ch.Weight != 0 || ch.Pos != (config.Pos{File: kc, Line: 5}) {
					t.Errorf("interface:eth1 = %+v", ch)
				}
				a, b := c.Instances[0].Track, c.Instances[1].Track
				if len(a) != 3 || a[0].Weight != nil || *a[1].Weight != -30 || !a[1].WeightReverse || *a[2].Weight != 0 {
					t.Errorf("VI_1 tracks %+v", a)
				}
				if len(b) != 1 || b[0].Check != "interface:eth1" || *b[0].Weight != 10 {
					t.Errorf("VI_2 tracks %+v", b)
				}
			},
		},
		{
			name: "track_file and its defaults",
			conf: kaTrackConf("track_file f {\n  file /run/f\n  init_file 300 overwrite\n}\nvrrp_track_file g {\n  file /run/g\n  weight -2 reverse\n}\n",
				"  track_file {", "    f", "    g weight 254 noreverse", "    f", "  }"),
			warns: []string{
				kc + ":3: warning: track_file[f].init_file: init value 300 is outside the sensible range [-254, 254]; used anyway",
				kc + `:5: warning: vrrp_track_file[g]: "vrrp_track_file" is deprecated`,
				kc + ":15: warning: vrrp_instance[VI_1].track_file: duplicate track_file f; ignored",
			},
			check: func(t *testing.T, c *config.Config) {
				f, g := c.Check("f"), c.Check("g")
				if f == nil || f.Kind != checks.KindFile || f.Weight != 1 || f.File.Path != "/run/f" || *f.File.InitValue != 300 || !f.File.InitOverwrite {
					t.Errorf("f = %+v %+v", f, f.File)
				}
				if g == nil || g.Weight != -2 || !g.WeightReverse || g.File.InitValue != nil {
					t.Errorf("g = %+v", g)
				}
				tr := c.Instances[0].Track
				if len(tr) != 2 || tr[0].Weight != nil || *tr[1].Weight != 254 || tr[1].WeightReverse {
					t.Errorf("tracks %+v", tr)
				}
			},
		},
		{
			name: "track_file entries keepalived ignores",
			conf: kaTrackConf("track_file f {\n  weight 3\n}\ntrack_file g {\n  file /run/g\n}\n", "  track_file {", "    f", "    g weight 2 sideways", "  }"),
			warns: []string{
				kc + ":1: warning: track_file[f]: no file set; ignored",
				kc + ":11: warning: vrrp_instance[VI_1].track_file: track file f not found",
				kc + `:12: warning: vrrp_instance[VI_1].track_file: unknown weight option "sideways" for g; ignored with the entry`,
			},
			check: func(t *testing.T, c *config.Config) {
				if len(c.Checks) != 1 || len(c.Instances[0].Track) != 0 {
					t.Errorf("checks %v tracks %v", c.Checks, c.Instances[0].Track)
				}
			},
		},
		{
			name:  "a track_file named like a vrrp_script is renamed",
			conf:  chkScript + "track_file chk {\n  file /run/chk\n}\n",
			warns: []string{kc + `:4: warning: track_file[chk]: another check has this name; vipd calls this one "file:chk"`},
			check: func(t *testing.T, c *config.Config) {
				if c.Check("file:chk") == nil || c.Check("chk").Kind != checks.KindExec {
					t.Errorf("checks %v", c.Checks)
				}
			},
		},
		{
			name: "notify scripts are split as keepalived splits them",
			conf: kaTrackConf("",
				`  notify /etc/keepalived/notify.sh`,
				`  notify_master "/etc/keepalived/notify.sh 'two words' a\\ b \"q\""`,
				`  notify_backup "/etc/keepalived/notify.sh backup" bob staff`,
				`  notify_fault "sh -c 'echo fault >> /tmp/log'"`,
				`  notify_stop '/etc/keepalived/notify.sh stop'`,
				`  notify_master_rx_lower_pri /etc/keepalived/notify.sh`),
			check: func(t *testing.T, c *config.Config) {
				n := c.Instances[0].Notify
				want := map[notify.Script][]string{
					notify.ScriptAny:              {"/etc/keepalived/notify.sh"},
					notify.ScriptMaster:           {"/etc/keepalived/notify.sh", "two words", "a b", "q"},
					notify.ScriptBackup:           {"/etc/keepalived/notify.sh", "backup"},
					notify.ScriptFault:            {"sh", "-c", "echo fault >> /tmp/log"},
					notify.ScriptStop:             {"/etc/keepalived/notify.sh", "stop"},
					notify.ScriptMasterRxLowerPri: {"/etc/keepalived/notify.sh"},
				}
				for e, w := range want {
					if !slices.Equal(n.Command(e), w) {
						t.Errorf("%s = %q, want %q", e, n.Command(e), w)
					}
				}
				if n.User(notify.ScriptBackup) != (notify.User{User: "bob", Group: "staff"}) || n.User(notify.ScriptMaster) != (notify.User{}) || n.Timeout != notify.DefaultTimeout {
					t.Errorf("users %+v timeout %v", n.RunAs, n.Timeout)
				}
			},
		},
		{
			name: "unquoted notify arguments are the user, as in keepalived",
			conf: kaTrackConf("", "  notify_master /etc/keepalived/notify.sh master", "  notify_master /etc/keepalived/notify.sh",
				"  notify_backup \"/x 'y\"", "  notify_fault"),
			warns: []string{
				kc + `:4: warning: vrrp_instance[VI_1].notify_master: cannot use script user "master": does not exist; notify script ignored`,
				kc + `:6: warning: vrrp_instance[VI_1].notify_backup: cannot parse the script "/x 'y": missing terminating '`,
				kc + ":7: warning: vrrp_instance[VI_1].notify_fault: notify_fault has no script; ignored",
			},
			check: func(t *testing.T, c *config.Config) {
				n := c.Instances[0].Notify
				if !slices.Equal(n.Master, []string{"/etc/keepalived/notify.sh"}) || n.Backup != nil || n.Fault != nil {
					t.Errorf("notify %+v", n)
				}
			},
		},
		{
			name:  "a second notify of a kind is ignored",
			conf:  kaTrackConf("", "  notify_stop /a", "  notify_stop /b"),
			warns: []string{kc + ":5: warning: vrrp_instance[VI_1].notify_stop: notify_stop script already specified; this one ignored"},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Instances[0].Notify.Stop[0], "/a") },
		},
		{
			name: "global_defs script settings",
			conf: "global_defs {\n  enable_script_security\n  script_user nobody nogroup\n  vipd_fast_takeover false\n}\n" + chkScript,
			check: func(t *testing.T, c *config.Config) {
				if c.FastTakeover || !c.Scripts.Enforce || c.Scripts != (config.ScriptSecurity{Enforce: true, User: "nobody", Group: "nogroup"}) {
					t.Errorf("fast takeover %v scripts %+v", c.FastTakeover, c.Scripts)
				}
			},
		},
		{
			name:  "vipd_fast_takeover with a bad value is ignored",
			conf:  "global_defs {\n  vipd_fast_takeover maybe\n}\n",
			warns: []string{kc + `:2: warning: global_defs.vipd_fast_takeover: invalid value "maybe" (true or false); ignored`},
			check: func(t *testing.T, c *config.Config) { wantField(t, c.FastTakeover, true) },
		},
		{
			name: "keepalived_script is the default script user when it exists",
			conf: chkScript,
			sys: func() *fakeSys {
				s := newFakeSys(1000, 1000)
				s.Users[kaDefaultScriptUser] = [2]uint32{990, 990}
				return s
			}(),
			check: func(t *testing.T, c *config.Config) { wantField(t, c.Scripts.User, kaDefaultScriptUser) },
		},
		{
			name: "an unknown script_user disables scripts without their own user",
			conf: "global_defs {\n  script_user ghost\n}\nvrrp_script a {\n  script /usr/bin/true\n}\nvrrp_script b {\n  script /usr/bin/true\n  user nobody\n}\n" +
				kaTrackConf("", "  track_script {", "    a", "    b", "  }", "  notify_master /x"),
			warns: []string{
				kc + `:2: warning: global_defs.script_user: cannot use script user "ghost": does not exist; keepalived then runs no script that lacks a user of its own`,
				kc + `:5: warning: vrrp_script[a].script: check "a" has no user of its own and the default script user could not be set; disabled`,
				kc + `:18: warning: vrrp_instance[VI_1].notify_master: notify_master script of instance VI_1 has no user of its own`,
			},
			check: func(t *testing.T, c *config.Config) {
				if len(c.Checks) != 1 || c.Checks[0].Name != "b" || len(c.Instances[0].Track) != 1 || c.Instances[0].Notify.Master != nil {
					t.Errorf("checks %v tracks %+v notify %+v", c.Checks, c.Instances[0].Track, c.Instances[0].Notify)
				}
			},
		},
		{
			name:  "enable_script_security without any script user disables scripts, as keepalived does",
			conf:  "global_defs {\n  enable_script_security\n}\n" + chkScript,
			warns: []string{kc + ":2: warning: global_defs.enable_script_security: no script_user and no user keepalived_script", kc + `:5: warning: vrrp_script[chk].script: check "chk" has no user of its own`},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.Checks), 0) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sys := tc.sys
			if sys == nil {
				sys = newFakeSys(1000, 1000)
			}
			tc.check(t, parseWarned(t, tc.conf, sys, tc.warns))
		})
	}
}

// instanceNamed writes a multicast instance on eth0 with the given VRID
// and body lines.
func instanceNamed(name string, vrid int, body ...string) string {
	return "vrrp_instance " + name + " {\n  interface eth0\n  virtual_router_id " + strconv.Itoa(vrid) + "\n" +
		strings.Join(append(body, "  virtual_ipaddress {", "    192.0.2."+strconv.Itoa(vrid), "  }"), "\n") + "\n}\n"
}

func TestKeepalivedSyncGroups(t *testing.T) {
	scripts := "vrrp_script s {\n  script /usr/bin/true\n  weight -20\n}\ntrack_file f {\n  file /run/f\n}\nvrrp_script z {\n  script /usr/bin/true\n}\n" // lines 1-10
	tests := []struct {
		name  string
		conf  string
		warns []string
		check func(t *testing.T, c *config.Config)
	}{
		{
			name: "members, group notify and unknown members",
			conf: instanceNamed("A", 1) + instanceNamed("B", 2) + instanceNamed("C", 3) + // lines 1-24
				"vrrp_sync_group G {\n  group {\n    A B\n    ghost\n  }\n  notify_master \"/etc/keepalived/notify.sh master\"\n  notify \"/etc/keepalived/notify.sh\"\n}\n" +
				"vrrp_sync_group H {\n  group {\n    B C\n  }\n}\n",
			warns: []string{
				kc + ":25: warning: vrrp_sync_group[G].group: virtual router ghost does not exist; ignored",
				kc + ":32: warning: vrrp_sync_group[H].group: B is already in sync group G and cannot be in two; ignored here",
				kc + ":30: warning: vrrp_sync_group[H]: sync group has only 1 virtual router",
			},
			check: func(t *testing.T, c *config.Config) {
				if len(c.SyncGroups) != 2 {
					t.Fatalf("groups %+v", c.SyncGroups)
				}
				g, h := c.SyncGroups[0], c.SyncGroups[1]
				if !slices.Equal(g.Instances, []string{"A", "B"}) || !slices.Equal(h.Instances, []string{"C"}) || g.Pos != (config.Pos{File: kc, Line: 22}) {
					t.Errorf("members %v %v", g.Instances, h.Instances)
				}
				if !slices.Equal(g.Notify.Master, []string{"/etc/keepalived/notify.sh", "master"}) || len(g.Notify.Any) != 1 || g.Notify.Timeout != notify.DefaultTimeout {
					t.Errorf("notify %+v", g.Notify)
				}
				if c.SyncGroupOf("C") != h || c.SyncGroupOf("ghost") != nil {
					t.Error("SyncGroupOf")
				}
			},
		},
		{
			name: "groups keepalived removes",
			conf: instanceNamed("A", 1) + "vrrp_sync_group E {\n}\nvrrp_sync_group N {\n  group {\n    nobody\n  }\n}\nvrrp_sync_group\nvrrp_sync_group N {\n}\n",
			warns: []string{
				kc + ":8: warning: vrrp_sync_group[E]: sync group has no virtual router(s); removed",
				kc + ":12: warning: vrrp_sync_group[N].group: virtual router nobody does not exist",
				kc + ":10: warning: vrrp_sync_group[N]: no matching virtual router found; sync group removed",
				kc + ":15: warning: vrrp_sync_group: vrrp_sync_group must have exactly one name; block skipped",
				kc + ":16: warning: vrrp_sync_group: vrrp_sync_group N is already defined at " + kc + ":10; block skipped",
			},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.SyncGroups), 0) },
		},
		{
			name: "members lose weighted tracks without sync_group_tracking_weight",
			conf: scripts + instanceNamed("A", 1, "  track_script {", "    s", "    z", "  }", "  track_interface {", "    eth1 weight -5", "  }", "  track_file {", "    f", "  }") +
				instanceNamed("B", 2) + "vrrp_sync_group G {\n  group {\n    A B\n  }\n}\n",
			warns: []string{
				kc + ":15: warning: vrrp_instance[A].track_script: ignoring tracked script s with weight -20 due to sync group G (no sync_group_tracking_weight)",
				kc + ":19: warning: vrrp_instance[A].track_interface: ignoring the weight of tracked interface eth1 due to sync group G",
				kc + ":22: warning: vrrp_instance[A].track_file: ignoring the weight of tracked file f due to sync group G",
			},
			check: func(t *testing.T, c *config.Config) {
				tr := c.Instances[0].Track
				if len(tr) != 3 || tr[0].Check != "z" || *tr[1].Weight != 0 || *tr[2].Weight != 0 {
					t.Errorf("tracks %+v", tr)
				}
			},
		},
		{
			name: "sync_group_tracking_weight keeps them",
			conf: scripts + instanceNamed("A", 1, "  track_script {", "    s", "  }") + instanceNamed("B", 2) +
				"vrrp_sync_group G {\n  group {\n    A B\n  }\n  sync_group_tracking_weight\n}\n",
			check: func(t *testing.T, c *config.Config) {
				if tr := c.Instances[0].Track; len(tr) != 1 || tr[0].Weight != nil {
					t.Errorf("tracks %+v", tr)
				}
			},
		},
		{
			name: "group tracks go to every member",
			conf: scripts + instanceNamed("A", 1, "  track_script {", "    z weight 3", "  }") + instanceNamed("B", 2) + // A 11-20, B 21-28
				"vrrp_sync_group G {\n  group {\n    A B\n  }\n  track_script {\n    s\n    z weight -7\n  }\n  track_interface {\n    eth2\n  }\n  global_tracking\n}\n",
			warns: []string{
				kc + ":39: warning: vrrp_sync_group[G].global_tracking: global_tracking is deprecated",
				kc + ":15: warning: vrrp_instance[A].track_script: z is tracked by the instance and by its sync group G; keepalived uses the group's weight unless the instance's is 0",
			},
			check: func(t *testing.T, c *config.Config) {
				a, b := c.Instances[0].Track, c.Instances[1].Track
				if len(a) != 3 || a[0].Check != "z" || *a[0].Weight != -7 || a[1].Check != "s" || *a[1].Weight != -20 || a[2].Check != "interface:eth2" || *a[2].Weight != 0 {
					t.Errorf("A tracks %+v", a)
				}
				if len(b) != 3 || b[0].Check != "s" || b[0].Pos != (config.Pos{File: kc, Line: 33}) {
					t.Errorf("B tracks %+v", b)
				}
			},
		},
		{
			name: "a group with an address owner has its track weights cleared",
			conf: scripts + instanceNamed("A", 1, "  priority 255") + instanceNamed("B", 2, "  priority 255") +
				"vrrp_sync_group G {\n  group {\n    A B\n  }\n  track_script {\n    s\n  }\n}\n",
			warns: []string{kc + ":32: warning: vrrp_sync_group[G].track_script: cannot have a weighted tracked script s with a member of priority 255; weight cleared"},
			check: func(t *testing.T, c *config.Config) {
				if tr := c.Instances[1].Track; len(tr) != 1 || *tr[0].Weight != 0 {
					t.Errorf("tracks %+v", tr)
				}
			},
		},
		{
			name:  "a group with some address owners",
			conf:  instanceNamed("A", 1, "  priority 255") + instanceNamed("B", 2) + "vrrp_sync_group G {\n  group {\n    A B\n  }\n}\n",
			warns: []string{kc + ":16: warning: vrrp_sync_group[G]: some members are address owners (priority 255) and some are not"},
			check: func(t *testing.T, c *config.Config) { wantField(t, len(c.SyncGroups[0].Instances), 2) },
		},
		{
			name: "the address owner drops weighted tracks and keeps FAULT ones",
			conf: scripts + instanceNamed("A", 1, "  priority 255", "  track_script {", "    s", "    z", "  }", "  track_interface {", "    eth1 weight 9", "    eth2", "  }", "  track_file {", "    f", "  }"),
			warns: []string{
				kc + ":16: warning: vrrp_instance[A].track_script: ignoring tracked script s with weight -20 due to the address owner (priority 255)",
				kc + ":20: warning: vrrp_instance[A].track_interface: ignoring tracked interface eth1 with weight 9 due to the address owner",
				kc + ":24: warning: vrrp_instance[A].track_file: ignoring the weight of tracked file f due to the address owner",
			},
			check: func(t *testing.T, c *config.Config) {
				tr := c.Instances[0].Track
				if len(tr) != 3 || tr[0].Check != "z" || tr[1].Check != "interface:eth2" || tr[2].Check != "f" || *tr[2].Weight != 0 {
					t.Errorf("tracks %+v", tr)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, parseWarned(t, tc.conf, newFakeSys(1000, 1000), tc.warns))
		})
	}
}
