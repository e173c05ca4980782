package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/load"
)

// runSplit executes the command tree with stdout and stderr apart.
func runSplit(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err = root.Execute()
	return out.String(), errb.String(), err
}

// convertFixture writes a keepalived.conf that uses every part convert must
// carry over (an include, a script, a track file, tracking, notify scripts,
// a sync group) and lines it cannot: a keyword vipd does not support, one
// keepalived does not know, and keepalived's own settings. It returns the
// main file, the included one, and the notify script.
func convertFixture(t *testing.T) (main, included, notify string) {
	t.Helper()
	dir := t.TempDir()
	notify = filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(notify, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	included = filepath.Join(dir, "conf.d", "v2.conf")
	write := func(p, text string) {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(included, `vrrp_instance VI_PRIV {
  interface eth1
  virtual_router_id 52
  priority 150
  advert_int 1
  use_vmac
  virtual_ipaddress {
    203.0.113.100/24
  }
}
`)
	main = filepath.Join(dir, "keepalived.conf")
	write(main, `global_defs {
  router_id lb1
  enable_script_security
  script_user root
  enable_snmp_vrrp
  notification_email {
    ops@example.org
  }
}
vrrp_script chk_svc {
  script "/bin/sh -c 'exit 0'"
  interval 2
  fall 2
  rise 3
  weight -20
}
track_file maint {
  file /run/vipd-test-maint
  weight -10
  init_file 0
}
vrrp_instance VI_PUB {
  interface eth0
  virtual_router_id 51
  priority 150
  advert_int 1
  frobnicate 7
  unicast_src_ip 198.51.100.1
  unicast_peer {
    198.51.100.2
  }
  authentication {
    auth_type PASS
    auth_pass s3cret
  }
  virtual_ipaddress {
    198.51.100.100/24 dev eth0 label eth0:vip
  }
  track_script {
    chk_svc
  }
  track_file {
    maint
  }
  notify "`+notify+`"
  notify_master "`+notify+` master 'the VIP'"
}
include conf.d/*.conf
vrrp_sync_group G {
  group {
    VI_PUB
    VI_PRIV
  }
  notify_fault `+notify+`
  sync_group_tracking_weight
}
`)
	return main, included, notify
}

func TestConvertKeepalived(t *testing.T) {
	main, included, notify := convertFixture(t)
	stdout, stderr, err := runSplit(t, "convert", "--from-keepalived", main)
	if err != nil {
		t.Fatalf("convert: %v\nstderr:\n%s", err, stderr)
	}

	// Every line left out is listed with its file and line, the included
	// file's under its own name.
	for _, want := range []struct{ file, rest string }{
		{main, `:5: .*enable_snmp_vrrp.*not converted`},
		{main, `:6: .*notification_email.*not supported`},
		{main, `:27: .*unknown keyword "frobnicate"`},
		{included, `:6: .*use_vmac.*not supported`},
		{main, `: converted to stdout: 2 instances, 2 checks, 1 sync groups; 4 lines`},
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want.file) + want.rest).MatchString(stderr) {
			t.Errorf("stderr lacks %s%s:\n%s", want.file, want.rest, stderr)
		}
	}

	// The YAML loads on its own and configures what the keepalived.conf
	// configures, tracking, notify and the sync group included.
	orig, err := load.File(main, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := config.ParseYAML("out.yaml", []byte(stdout), config.LoadOptions{})
	if err != nil {
		t.Fatalf("converted YAML does not load: %v\n%s", err, stdout)
	}
	if d := orig.Differences(got); len(d) > 0 {
		t.Fatalf("converted configuration differs:\n%s", strings.Join(d, "\n"))
	}
	// Spot checks, so that two equally wrong readings cannot pass.
	pub := got.Instances[0]
	if pub.Name != "VI_PUB" || pub.AuthPass != "s3cret" || pub.VIPs[0].Label != "eth0:vip" ||
		len(pub.Track) != 2 || len(pub.Notify.Master) != 3 || pub.Notify.Master[0] != notify || pub.Notify.Master[2] != "the VIP" {
		t.Errorf("VI_PUB: %+v", *pub)
	}
	if got.Instances[1].Name != "VI_PRIV" || got.SyncGroupOf("VI_PRIV") == nil || got.Node.Name != "lb1" {
		t.Errorf("include, sync group or node lost: %+v %+v", got.Instances[1], got.Node)
	}
	if c := got.Check("chk_svc"); c == nil || c.Interval.Seconds() != 2 || c.Fall != 2 || c.Rise != 3 || c.Weight != -20 {
		t.Errorf("chk_svc: %+v", c)
	}
	if !strings.HasPrefix(stdout, "# Converted by \"vipd convert\" from "+main) {
		t.Errorf("no header:\n%s", stdout)
	}
}

func TestConvertToFile(t *testing.T) {
	main, _, _ := convertFixture(t)
	out := filepath.Join(t.TempDir(), "vipd.yaml")
	stdout, stderr, err := runSplit(t, "convert", "--from-keepalived", main, "-o", out)
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout not empty with -o: %q", stdout)
	}
	// The written file passes config check as it is.
	check, err := run(t, "config", "check", "--config", out)
	if err != nil {
		t.Fatalf("config check of the converted file: %v\n%s", err, check)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (it may hold passwords)", st.Mode().Perm())
	}
}

func TestConvertRefusesErrors(t *testing.T) {
	path := write(t, "keepalived.conf", "vrrp_instance VI_1 {\n  interface eth0\n  virtual_ipaddress {\n    198.51.100.100/24\n  }\n}\n")
	out := filepath.Join(t.TempDir(), "vipd.yaml")
	stdout, stderr, err := runSplit(t, "convert", "--from-keepalived", path, "-o", out)
	if exitStatus(err) != 1 {
		t.Fatalf("exit %v, want 1", err)
	}
	if !regexp.MustCompile("(?m)^" + regexp.QuoteMeta(path) + ":1: .*virtual_router_id").MatchString(stderr) {
		t.Errorf("error not reported with file and line:\n%s", stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) || stdout != "" {
		t.Errorf("output written for a config with errors (stat: %v, stdout %q)", err, stdout)
	}
}

// A configuration only keepalived's leniency accepts (VRRPv2 over IPv6)
// converts faithfully but cannot load as native YAML: convert says so and
// fails instead of handing over a file that will not start.
func TestConvertSelfCheck(t *testing.T) {
	path := write(t, "keepalived.conf", "vrrp_instance VI_6 {\n  interface eth0\n  virtual_router_id 51\n  version 2\n  virtual_ipaddress {\n    2001:db8::100/64\n  }\n}\n")
	stdout, stderr, err := runSplit(t, "convert", "--from-keepalived", path)
	if exitStatus(err) != 1 {
		t.Fatalf("exit %v, want 1; stderr:\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "converted.yaml:") || !strings.Contains(stderr, "does not load or differs") {
		t.Errorf("stderr does not explain:\n%s", stderr)
	}
	if !strings.Contains(stdout, "version: 2") {
		t.Errorf("the faithful conversion is not printed:\n%s", stdout)
	}
}

func TestConvertNeedsSource(t *testing.T) {
	if _, _, err := runSplit(t, "convert"); err == nil || !strings.Contains(err.Error(), "from-keepalived") {
		t.Fatalf("convert without --from-keepalived: %v", err)
	}
	if _, _, err := runSplit(t, "convert", "--from-keepalived", filepath.Join(t.TempDir(), "nope.conf")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestConfigPrint(t *testing.T) {
	path := write(t, "min.yaml", `node: {name: a}
gossip: {cluster_name: c, profile: wan, keys: ["MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="]}
vrrp: {garp: {master_delay: 2s}}
instances:
  - {name: web, interface: eth0, vrid: 51, vips: [198.51.100.100/24]}
`)
	stdout, stderr, err := runSplit(t, "config", "print", "--config", path)
	if err != nil {
		t.Fatalf("print: %v\n%s", err, stderr)
	}
	// Defaults are written out, the global garp applied to the instance,
	// and the profile's timings made explicit.
	for _, want := range []string{
		"    priority: 100\n", "    advert_interval: 1s\n", "    state: backup\n", "    version: 2\n",
		"    preempt: true\n", "      master_delay: 2s\n", "      master_repeat: 5\n",
		"    probe_interval: 5s\n", "    suspicion_mult: 6\n", "  state_file: /var/lib/vipd/state.json\n",
		"  fast_takeover: true\n", "  security: true\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// What it prints loads to the same behaviour.
	orig, err := load.File(path, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := config.ParseYAML("printed.yaml", []byte(stdout), config.LoadOptions{})
	if err != nil {
		t.Fatalf("printed YAML does not load: %v\n%s", err, stdout)
	}
	if !again.Gossip.SameSettings(orig.Gossip) {
		// Timings now explicit: same effective values.
		if again.Gossip.EffectiveTimings() != orig.Gossip.EffectiveTimings() {
			t.Errorf("gossip timings changed: %+v vs %+v", again.Gossip.EffectiveTimings(), orig.Gossip.EffectiveTimings())
		}
	}
	again.Gossip, orig.Gossip = nil, nil
	if d := orig.Differences(again); len(d) > 0 {
		t.Errorf("printed configuration differs:\n%s", strings.Join(d, "\n"))
	}
}

func TestConfigPrintKeepalivedAndErrors(t *testing.T) {
	ka := write(t, "keepalived.conf", "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  frob 1\n  virtual_ipaddress {\n    198.51.100.100/24\n  }\n}\n")
	stdout, stderr, err := runSplit(t, "config", "print", "--config", ka)
	if err != nil {
		t.Fatalf("print: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "    vrid: 51\n") || !regexp.MustCompile(regexp.QuoteMeta(ka)+`:4: warning: .*frob`).MatchString(stderr) {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	bad := write(t, "bad.yaml", "instances:\n  - name: web\n    vrid: 0\n")
	stdout, stderr, err = runSplit(t, "config", "print", "--config", bad)
	if exitStatus(err) != 1 || stdout != "" || !strings.Contains(stderr, bad+":3:") {
		t.Fatalf("bad config: err %v stdout %q stderr %q", err, stdout, stderr)
	}
}

// TestConvertElectionOnly: an instance without virtual_ipaddress (seed
// 000's shape: its notify scripts move the address) passes `config check`
// with a warning, converts, and the YAML loads (with a warning, not the
// old "at least one VIP is required"), configuring the same instance.
func TestConvertElectionOnly(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "move-ip.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(conf, []byte(`vrrp_instance testdns0 {
  state BACKUP
  interface eth0
  virtual_router_id 60
  priority 250
  advert_int 1
  unicast_src_ip 198.51.100.1
  unicast_peer {
    198.51.100.2
  }
  notify_master "`+script+` master"
  notify_backup "`+script+` backup"
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errs, err := runSplit(t, "config", "check", "--config", conf); err != nil {
		t.Fatalf("config check refused it: %v\n%s%s", err, out, errs)
	}
	yml := filepath.Join(dir, "vipd.yaml")
	if out, errs, err := runSplit(t, "convert", "--from-keepalived", conf, "-o", yml); err != nil {
		t.Fatalf("convert: %v\n%s%s", err, out, errs)
	}
	cfg, err := load.File(yml, config.LoadOptions{})
	if err != nil {
		t.Fatalf("the converted YAML does not load: %v", err)
	}
	if len(cfg.Instances) != 1 || len(cfg.Instances[0].VIPs) != 0 || cfg.Instances[0].VRID != 60 {
		t.Fatalf("instances %+v", cfg.Instances)
	}
	warned := false
	for _, d := range cfg.Warnings {
		warned = warned || strings.Contains(d.String(), "no VIP: the instance only elects a master")
	}
	if !warned {
		t.Errorf("no warning about the missing VIP: %v", cfg.Warnings)
	}
}
