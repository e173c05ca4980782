package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// run executes the vipd command tree in-process.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func write(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec)
	}
	return -1
}

func TestConfigCheck(t *testing.T) {
	cases := []struct {
		name, file, text string
		status           int
		want             []string // regexps; PATH stands for the file's path
	}{
		{
			name: "good yaml", file: "ok.yaml", status: 0,
			text: "node: {name: a}\ninstances:\n  - name: web\n    interface: eth0\n    vrid: 51\n    vips: [198.51.100.100/24]\n",
			want: []string{`^PATH: OK \(1 instances\)$`},
		},
		{
			name: "yaml dual-family instance gets a note", file: "dual.yaml", status: 0,
			text: "node: {name: a}\ninstances:\n  - name: dns\n    interface: eth0\n    vrid: 51\n    vips:\n      - 198.51.100.100/24\n      - 2001:db8::100/64\n",
			want: []string{
				`^PATH:8: note: instances\[0\]\.vips: 2001:db8::100 is not IPv4 like the instance's adverts: vipd holds it with the instance's state and leaves it out of adverts`,
				`^PATH: OK \(1 instances\)$`,
			},
		},
		{
			name: "yaml errors name file, line and field", file: "bad.yaml", status: 1,
			text: "instances:\n  - name: web\n    interface: eth0\n    vrid: 300\n    bogus: 1\n    vips: [198.51.100.100/24]\n",
			want: []string{
				`^PATH:4: instances\[0\]\.vrid: 300 is out of range 1-255$`,
				`^PATH:5: instances\[0\]\.bogus: unknown key`,
			},
		},
		{
			name: "keepalived leniency warns with line and passes", file: "keepalived.conf", status: 0,
			text: "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  frobnicate 7\n  authentication {\n    auth_type PASS\n    auth_pass 0123456789\n  }\n  virtual_ipaddress {\n    198.51.100.100/24\n  }\n}\n",
			want: []string{
				`^PATH:4: warning: .*frobnicate`,
				`^PATH:7: warning: .*auth_pass.*truncated to 8`,
				`^PATH: OK \(1 instances\)$`,
			},
		},
		{
			name: "keepalived fatal error", file: "keepalived.conf", status: 1,
			text: "vrrp_instance VI_1 {\n  interface eth0\n  virtual_ipaddress {\n    198.51.100.100/24\n  }\n}\n",
			want: []string{`^PATH:1: .*virtual_router_id`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := write(t, c.file, c.text)
			out, err := run(t, "config", "check", "--config", path)
			if got := exitStatus(err); got != c.status {
				t.Fatalf("exit status %d (err %v), want %d; output:\n%s", got, err, c.status, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			for _, w := range c.want {
				re := regexp.MustCompile(strings.ReplaceAll(w, "PATH", regexp.QuoteMeta(path)))
				found := false
				for _, l := range lines {
					found = found || re.MatchString(l)
				}
				if !found {
					t.Errorf("no line matches %q in:\n%s", w, out)
				}
			}
		})
	}
}

func TestConfigCheckMissingFile(t *testing.T) {
	out, err := run(t, "config", "check", "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil {
		t.Fatalf("missing file accepted; output %q", out)
	}
	if !strings.Contains(out+err.Error(), "nope.yaml") {
		t.Fatalf("error does not name the file: %v %q", err, out)
	}
}

func TestAgentRefusesBadConfig(t *testing.T) {
	path := write(t, "bad.yaml", "instances:\n  - name: web\n    vrid: 0\n")
	_, err := run(t, "agent", "--config", path, "--log-level", "error")
	if exitStatus(err) != 1 {
		t.Fatalf("agent with a bad config: %v, want exit status 1", err)
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^vipd \S+ \(commit \S+, go1\.\d+`).MatchString(out) {
		t.Fatalf("version output %q", out)
	}
}
