package load

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/configtest"
)

// TestLoadRefusesFIFO: a FIFO as the configuration, or included from it,
// is refused at once (opening it would wait for a writer forever).
func TestLoadRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "vipd.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	kfifo := filepath.Join(dir, "inc.conf")
	if err := syscall.Mkfifo(kfifo, 0o600); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(main, []byte("include inc.conf\nvrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  virtual_ipaddress {\n    192.0.2.1\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, want string }{
		{fifo, fifo + ": " + fifo + " is not a regular file: a named pipe (FIFO)"},
		{main, `inc.conf" is not a regular non-executable file - skipping`},
		{dir, dir + ": " + dir + " is not a regular file: a directory"},
	} {
		done := make(chan string, 1)
		go func() {
			cfg, err := File(c.path, config.LoadOptions{Hostname: "h"})
			done <- configtest.Render(configtest.DiagnosticsOf(t, cfg, err))
		}()
		select {
		case got := <-done:
			if !strings.Contains(got, c.want) {
				t.Errorf("%s: %q not in:\n%s", c.path, c.want, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("File(%s) still blocked after 10 s", c.path)
		}
	}
	// The open itself does not block: a FIFO swapped in after the type
	// check is refused on the open file.
	if _, err := config.ReadFileFS(swapFS{fifo}, "x"); err == nil || !strings.Contains(err.Error(), "a named pipe (FIFO)") {
		t.Errorf("ReadFileFS of a FIFO swapped in: %v", err)
	}
}

// swapFS says every file is a regular one but opens a FIFO.
type swapFS struct{ fifo string }

func (s swapFS) Open(string) (fs.File, error) {
	return os.OpenFile(s.fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
func (s swapFS) Stat(string) (os.FileInfo, error)      { return os.Stat(os.Args[0]) }
func (s swapFS) Glob(pattern string) ([]string, error) { return nil, nil }

func TestLoadMissingFile(t *testing.T) {
	for _, name := range []string{"/nonexistent/vipd.yaml", "/nonexistent/keepalived.conf"} {
		_, err := File(name, config.LoadOptions{})
		if got, want := configtest.Render(configtest.DiagnosticsOf(t, nil, err)), name+": no such file or directory"; !strings.Contains(got, want) {
			t.Errorf("%q not in:\n%s", want, got)
		}
	}
	if _, err := File(t.TempDir(), config.LoadOptions{}); err == nil {
		t.Error("loading a directory did not fail")
	}
}
