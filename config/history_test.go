package config_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
	"github.com/vipd/vipd/history"
)

func TestHistorySection(t *testing.T) {
	dir := t.TempDir()
	configtest.WriteFiles(t, dir, map[string]string{
		"ok.yaml":      "node: {name: n1}\nhistory:\n  dir: /srv/h\n  max_size: 2MiB\n  max_age: 48h\n",
		"default.yaml": "node: {name: n1}\ngossip:\n  cluster_name: c\n  state_file: /var/lib/x/state.json\n",
		"bad.yaml":     "node: {name: n1}\nhistory:\n  dir: rel\n  max_size: 1KiB\n  max_age: 1s\n",
		"junk.yaml":    "node: {name: n1}\nhistory:\n  max_size: lots\n",
	})
	cfg, err := loadYAML(filepath.Join(dir, "ok.yaml"), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HistoryDir() != "/srv/h" || cfg.History.Limits != (history.Options{MaxSize: 2 << 20, MaxAge: 48 * time.Hour}) {
		t.Fatalf("history %+v", cfg.History)
	}
	cfg, err = loadYAML(filepath.Join(dir, "default.yaml"), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HistoryDir() != "/var/lib/x/state.history" || cfg.History.Limits != (history.Options{}) {
		t.Fatalf("default history %q %+v", cfg.HistoryDir(), cfg.History)
	}
	cfg, err = loadYAML(filepath.Join(dir, "bad.yaml"), config.LoadOptions{})
	ds := configtest.DiagnosticsOf(t, cfg, err)
	p := filepath.Join(dir, "bad.yaml")
	configtest.RequireDiag(t, ds, config.SeverityError, p+":3: history.dir: \"rel\" is not an absolute path")
	configtest.RequireDiag(t, ds, config.SeverityError, p+":4: history.max_size: 1KiB is below the minimum")
	configtest.RequireDiag(t, ds, config.SeverityError, p+":5: history.max_age: 1s is below the minimum")
	cfg, err = loadYAML(filepath.Join(dir, "junk.yaml"), config.LoadOptions{})
	configtest.RequireDiag(t, configtest.DiagnosticsOf(t, cfg, err), config.SeverityError, "junk.yaml:3: history.max_size: \"lots\" is not a size")
}
