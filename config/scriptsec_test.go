package config_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/config/internal/machine"
	"github.com/vipd/vipd/internal/lab"
)

// Script security in the native format, on a fake machine.
func TestScriptSecurityYAML(t *testing.T) {
	const f = "/etc/vipd.yaml"
	// one check (command on line 3) and, with notify, an instance whose
	// master script is on line 9.
	conf := func(command string, extra ...string) string {
		return "checks:\n- name: c\n  exec: {command: \"" + command + "\"" + strings.Join(extra, "") + "}\n"
	}
	withNotify := func(script string) string {
		return "instances:\n- name: VI_1\n  interface: eth0\n  vrid: 1\n  vips: [192.0.2.1]\n  notify:\n    timeout: 5s\n    fault: /etc/vipd/notify.sh\n    master: " + script + "\n"
	}
	machine := func(change func(s *fakeSys)) *fakeSys {
		s := rootSys()
		if change != nil {
			change(s)
		}
		return s
	}
	tests := []struct {
		name string
		yaml string
		sys  *fakeSys
		want string // "" means it loads
	}{
		{"secure absolute path", conf("/usr/bin/true"), machine(nil), ""},
		{"bare name found in PATH", conf("true -x"), machine(nil), ""},
		{"bare name with PATH unset uses /bin:/usr/bin", conf("dig"), machine(func(s *fakeSys) { s.Path = "" }), ""},
		{"bare name not in PATH", conf("nosuch"), machine(nil), f + `:3: checks[0].exec.command: check "c": nosuch not found in PATH (/usr/local/bin:/usr/bin:/bin)`},
		{"script in a user's directory", conf("/home/bob/check.sh"), machine(nil),
			f + `:3: checks[0].exec.command: check "c" runs as root but /home/bob is owned by uid 1000, not root; refusing it (script security)`},
		{"directory writable by a group", conf("/opt/check.sh"), machine(func(s *fakeSys) {
			s.Files["/opt"] = fileMeta{Mode: fs.ModeDir | 0o775, GID: 50}
			s.Files["/opt/check.sh"] = fileMeta{Mode: execMode}
		}), f + `:3: checks[0].exec.command: check "c" runs as root but /opt is writable by group 50 (mode drwxrwxr-x)`},
		{"directory writable by root's group is fine", conf("/opt/check.sh"), machine(func(s *fakeSys) {
			s.Files["/opt"] = fileMeta{Mode: fs.ModeDir | 0o775}
			s.Files["/opt/check.sh"] = fileMeta{Mode: execMode}
		}), ""},
		{"script writable by everyone", conf("/etc/vipd/ww.sh"), machine(func(s *fakeSys) { s.Files["/etc/vipd/ww.sh"] = fileMeta{Mode: 0o757} }),
			f + `:3: checks[0].exec.command: check "c" runs as root but /etc/vipd/ww.sh is writable by everyone (mode -rwxr-xrwx)`},
		{"root's script in sticky /tmp", conf("/tmp/ok.sh"), machine(func(s *fakeSys) { s.Files["/tmp/ok.sh"] = fileMeta{Mode: execMode} }), ""},
		{"someone else's script in sticky /tmp", conf("/tmp/bob.sh"), machine(func(s *fakeSys) { s.Files["/tmp/bob.sh"] = fileMeta{Mode: execMode, UID: 1000} }),
			f + `:3: checks[0].exec.command: check "c" runs as root but /tmp/bob.sh is owned by uid 1000, not root`},
		{"not executable", conf("/etc/vipd/noexec.sh"), machine(func(s *fakeSys) { s.Files["/etc/vipd/noexec.sh"] = fileMeta{Mode: 0o644} }),
			f + `:3: checks[0].exec.command: check "c": /etc/vipd/noexec.sh is not executable for uid:gid 0:0`},
		{"a directory", conf("/etc/vipd"), machine(nil), f + `:3: checks[0].exec.command: check "c": /etc/vipd is not a regular file`},
		{"missing", conf("/etc/vipd/gone.sh"), machine(nil), f + `:3: checks[0].exec.command: check "c": /etc/vipd/gone.sh cannot be accessed`},
		{"link to a secure program", conf("/usr/local/bin/t"), machine(func(s *fakeSys) { s.Links["/usr/local/bin/t"] = "/usr/bin/true" }), ""},
		{"link in a user's directory", conf("/home/bob/t"), machine(func(s *fakeSys) { s.Links["/home/bob/t"] = "/usr/bin/true" }),
			f + `:3: checks[0].exec.command: check "c" runs as root but /home/bob is owned by uid 1000, not root (it holds the link /home/bob/t)`},
		{"run as nobody: not checked", conf("/home/bob/check.sh", ", user: nobody"), machine(nil), ""},
		{"run as nobody with group root: checked", conf("/home/bob/check.sh", ", user: nobody, group: root"), machine(nil),
			f + `:3: checks[0].exec.command: check "c" runs as root but /home/bob is owned by uid 1000`},
		{"scripts.user nobody: not checked", "scripts: {user: nobody}\n" + conf("/home/bob/check.sh"), machine(nil), ""},
		{"scripts.user nobody but the check runs as root", "scripts: {user: nobody}\n" + conf("/home/bob/check.sh", ", user: root"), machine(nil),
			f + `:4: checks[0].exec.command: check "c" runs as root but /home/bob is owned by uid 1000`},
		{"security off", "scripts: {security: false}\n" + conf("/home/bob/check.sh"), machine(nil), ""},
		{"vipd not root: not checked", conf("/home/bob/check.sh"), newFakeSys(1000, 1000), ""},
		{"unknown check user, even when not root", conf("/usr/bin/true", ", user: ghost"), newFakeSys(1000, 1000),
			f + `:3: checks[0].exec.user: user "ghost" does not exist`},
		{"unknown scripts group", "scripts:\n  user: nobody\n  group: ghosts\n" + conf("/usr/bin/true"), newFakeSys(1000, 1000),
			f + `:3: scripts.group: group "ghosts" does not exist`},
		{"insecure notify script", withNotify("/home/bob/check.sh"), machine(nil),
			f + `:9: instances[0].notify.master: notify.master script of instance VI_1 runs as root but /home/bob is owned by uid 1000`},
		{"unknown notify user", withNotify("{command: /usr/bin/true, user: ghost}"), machine(nil),
			f + `:9: instances[0].notify.master.user: user "ghost" does not exist`},
		{"insecure sync group script", withNotify("/usr/bin/true") + "sync_groups:\n- name: G\n  instances: [VI_1]\n  notify:\n    fault: /home/bob/check.sh\n", machine(nil),
			f + `:14: sync_groups[0].notify.fault: notify.fault script of sync group G runs as root but /home/bob is owned by uid 1000`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.ParseYAML(f, []byte(tc.yaml), config.LoadOptions{Hostname: "h", System: tc.sys})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if len(cfg.Warnings) != 0 {
					t.Errorf("warnings:\n%s", configtest.Render(cfg.Warnings))
				}
				return
			}
			if err == nil {
				t.Fatal("loaded")
			}
			configtest.RequireDiag(t, configtest.DiagnosticsOf(t, cfg, err), config.SeverityError, tc.want)
		})
	}
}

// asRoot is the real machine, except that vipd counts as root and so do
// files of the user running the test: a non-root test can then check real
// directories and modes set with chmod (as root nothing changes).
type asRoot struct {
	machine.OS
	uid, gid uint32
}

func (s asRoot) IDs() (uint32, uint32) { return 0, 0 }

func (s asRoot) owned(m fileMeta, err error) (fileMeta, error) {
	if m.UID == s.uid {
		m.UID = 0
	}
	if m.GID == s.gid {
		m.GID = 0
	}
	return m, err
}

func (s asRoot) Lstat(p string) (fileMeta, error) { return s.owned(s.OS.Lstat(p)) }
func (s asRoot) Stat(p string) (fileMeta, error)  { return s.owned(s.OS.Stat(p)) }

// Script security on real files, modes set with chmod.
func TestScriptSecurityRealFiles(t *testing.T) {
	dir := t.TempDir()
	sys := asRoot{uid: uint32(os.Getuid()), gid: uint32(os.Getgid())}
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	load := func(path string) error {
		_, err := config.ParseYAML("r.yaml", []byte("checks:\n- name: c\n  exec: {command: [\""+path+"\"]}\n"), config.LoadOptions{Hostname: "h", System: sys})
		return err
	}
	if err := load(script); err != nil {
		// The directories above the test's temporary directory are not
		// ours to fix.
		lab.SkipOrFail(t, "the temporary directory is not in a root-safe place here (a script in it is refused): %v", err)
	}
	chmod := func(p string, m fs.FileMode) {
		t.Helper()
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "pub", "link")
	if err := os.Mkdir(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(script, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		setup func()
		path  string
		want  string
	}{
		{"secure", func() {}, script, ""},
		{"script writable by everyone", func() { chmod(script, 0o757) }, script, script + " is writable by everyone"},
		{"directory writable by everyone", func() { chmod(dir, 0o777) }, script, dir + " is writable by everyone"},
		{"sticky directory writable by everyone", func() { chmod(dir, 0o777|fs.ModeSticky) }, script, ""},
		{"not executable", func() { chmod(script, 0o644) }, script, "is not executable for uid:gid 0:0"},
		{"link to a secure script", func() {}, link, ""},
		{"link in a directory writable by everyone", func() { chmod(filepath.Dir(link), 0o777) }, link, filepath.Dir(link) + " is writable by everyone (mode drwxrwxrwx) (it holds the link " + link + ")"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chmod(script, 0o755)
			chmod(dir, 0o755)
			chmod(filepath.Dir(link), 0o755)
			tc.setup()
			err := load(tc.path)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	chmod(dir, 0o755)
}
