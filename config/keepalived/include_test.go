package keepalived

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

// instanceFile is a complete instance; its virtual_router_id is on line 3.
func instanceFile(name, vrid, addr string) string {
	return "vrrp_instance " + name + " {\n  interface eth0\n  virtual_router_id " + vrid +
		"\n  virtual_ipaddress {\n    " + addr + "\n  }\n}\n"
}

func TestIncludes(t *testing.T) {
	tests := []struct {
		name      string
		files     map[string]string
		exec      []string // files to make executable
		dirs      []string // extra directories
		wantNames []string // instances, in order; nil when an error is expected
		wantErr   string   // "DIR/" is replaced by the temporary directory
		wantWarn  string
	}{
		{
			name: "glob relative to the including file, in order",
			files: map[string]string{
				"keepalived.conf":         "global_defs {\n  router_id r1\n}\ninclude sub/site.conf\n",
				"sub/site.conf":           "include conf.d/*.conf\n",
				"sub/conf.d/20-b.conf":    instanceFile("VI_B", "2", "192.0.2.2"),
				"sub/conf.d/10-a.conf":    instanceFile("VI_A", "1", "192.0.2.1"),
				"conf.d/99-wrong.conf":    instanceFile("VI_WRONG", "9", "192.0.2.9"),
				"sub/conf.d/notes.txt":    "not matched",
				"sub/conf.d/30-exec.conf": instanceFile("VI_X", "3", "192.0.2.3"),
			},
			exec:      []string{"sub/conf.d/30-exec.conf"},
			dirs:      []string{"sub/conf.d/40-dir.conf"},
			wantNames: []string{"VI_A", "VI_B"},
			wantWarn:  `DIR/sub/site.conf:1: warning: include: configuration file "DIR/sub/conf.d/30-exec.conf" is not a regular non-executable file - skipping`,
		},
		{
			name: "error inside an included file points into it",
			files: map[string]string{
				"keepalived.conf":      "include conf.d/*.conf\n",
				"conf.d/10-a.conf":     instanceFile("VI_A", "1", "192.0.2.1"),
				"conf.d/20-bad.conf":   "! leading comment\n" + instanceFile("VI_B", "300", "192.0.2.2"),
				"conf.d/30-after.conf": instanceFile("VI_C", "3", "192.0.2.3"),
			},
			wantErr: "DIR/conf.d/20-bad.conf:4: vrrp_instance[VI_B].virtual_router_id: 300 is out of range 1-255",
		},
		{
			name: "lines after an include continue the including file",
			files: map[string]string{
				"keepalived.conf": "vrrp_instance VI_A {\n  interface eth0\n  include vrid.inc\n  virtual_ipaddress {\n    192.0.2.1\n  }\n  priority 300\n}\n",
				"vrid.inc":        "virtual_router_id 7\n",
			},
			wantNames: []string{"VI_A"},
			wantWarn:  "DIR/keepalived.conf:7: warning: vrrp_instance[VI_A].priority: 300 is out of range 1-255",
		},
		{
			name: "brace expansion",
			files: map[string]string{
				"keepalived.conf": "include {b,a}.conf\n",
				"a.conf":          instanceFile("VI_A", "1", "192.0.2.1"),
				"b.conf":          instanceFile("VI_B", "2", "192.0.2.2"),
			},
			wantNames: []string{"VI_B", "VI_A"},
		},
		{
			name: "plain include of a missing file only warns",
			files: map[string]string{
				"keepalived.conf": "include missing.conf\n" + instanceFile("VI_A", "1", "192.0.2.1"),
			},
			wantNames: []string{"VI_A"},
			wantWarn:  `DIR/keepalived.conf:1: warning: include: config files missing "missing.conf"`,
		},
		{
			name: "plain include of an empty glob only warns",
			files: map[string]string{
				"keepalived.conf": "include conf.d/*.conf\n" + instanceFile("VI_A", "1", "192.0.2.1"),
				"conf.d/x.txt":    "",
			},
			wantNames: []string{"VI_A"},
			wantWarn:  `DIR/keepalived.conf:1: warning: include: no config files matched "conf.d/*.conf"`,
		},
		{
			name:    "includea of a missing file is an error",
			files:   map[string]string{"keepalived.conf": "includea missing.conf\n" + instanceFile("VI_A", "1", "192.0.2.1")},
			wantErr: `DIR/keepalived.conf:1: include: config files missing "missing.conf"`,
		},
		{
			name: "includew of an empty glob is an error",
			files: map[string]string{
				"keepalived.conf": instanceFile("VI_A", "1", "192.0.2.1") + "includew conf.d/*.conf\n",
				"conf.d/x.txt":    "",
			},
			wantErr: `DIR/keepalived.conf:8: include: no config files matched "conf.d/*.conf"`,
		},
		{
			name: "include_check makes a later plain include strict",
			files: map[string]string{
				"keepalived.conf": "global_defs {\n  include_check\n}\ninclude missing.conf\n" + instanceFile("VI_A", "1", "192.0.2.1"),
			},
			wantErr: `DIR/keepalived.conf:4: include: config files missing "missing.conf"`,
		},
		{
			name:    "a file including itself",
			files:   map[string]string{"keepalived.conf": "include keepalived.conf\n"},
			wantErr: "include: includes nest more than 32 deep",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			configtest.WriteFiles(t, dir, tc.files)
			for _, f := range tc.exec {
				if err := os.Chmod(filepath.Join(dir, f), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range tc.dirs {
				if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			fix := func(s string) string { return replaceDir(s, dir) }
			cfg, err := loadFile(filepath.Join(dir, "keepalived.conf"), config.LoadOptions{Hostname: "h"})
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("no error; instances %v", cfg.Instances)
				}
				configtest.RequireDiag(t, configtest.DiagnosticsOf(t, cfg, err), config.SeverityError, fix(tc.wantErr))
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var names []string
			for _, i := range cfg.Instances {
				names = append(names, i.Name)
			}
			if len(names) != len(tc.wantNames) {
				t.Fatalf("instances %v, want %v", names, tc.wantNames)
			}
			for i := range names {
				if names[i] != tc.wantNames[i] {
					t.Fatalf("instances %v, want %v", names, tc.wantNames)
				}
			}
			if tc.wantWarn != "" {
				configtest.RequireDiag(t, cfg.Warnings, config.SeverityWarning, fix(tc.wantWarn))
			}
		})
	}
}

func replaceDir(s, dir string) string {
	if len(s) >= 4 && s[:4] == "DIR/" {
		s = dir + "/" + s[4:]
	}
	for i := 0; i+4 <= len(s); i++ {
		if s[i:i+4] == "DIR/" && (s[i-1] == '"' || s[i-1] == ' ') {
			s = s[:i] + dir + "/" + s[i+4:]
		}
	}
	return s
}

func TestIncludedPositions(t *testing.T) {
	dir := t.TempDir()
	configtest.WriteFiles(t, dir, map[string]string{
		"keepalived.conf": "include inc/a.conf\n",
		"inc/a.conf":      "\n\n" + instanceFile("VI_A", "1", "192.0.2.1"),
	})
	cfg, err := loadFile(filepath.Join(dir, "keepalived.conf"), config.LoadOptions{Hostname: "h"})
	if err != nil {
		t.Fatal(err)
	}
	want := config.Pos{File: filepath.Join(dir, "inc/a.conf"), Line: 3}
	if got := cfg.Instances[0].Pos; got != want {
		t.Errorf("instance at %v, want %v", got, want)
	}
	want.Line = 7
	if got := cfg.Instances[0].VIPs[0].Pos; got != want {
		t.Errorf("VIP at %v, want %v", got, want)
	}
}
