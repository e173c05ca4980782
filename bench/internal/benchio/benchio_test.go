package benchio

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestAppend(t *testing.T) {
	type rec struct {
		N int `json:"n"`
	}
	t.Setenv(OutEnv, "")
	Append(t, rec{1}) // unset: nothing to write, no failure
	path := filepath.Join(t.TempDir(), "out.jsonl")
	t.Setenv(OutEnv, path)
	Append(t, rec{1}, rec{2})
	Append(t, rec{3})
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"; string(got) != want {
		t.Fatalf("file holds %q, want %q", got, want)
	}
}

func TestDuration(t *testing.T) {
	const name = "VIPD_BENCHIO_TEST_DURATION"
	t.Setenv(name, "")
	if d := Duration(t, name, 8*time.Second); d != 8*time.Second {
		t.Errorf("unset: %v, want the default 8s", d)
	}
	t.Setenv(name, "250ms")
	if d := Duration(t, name, 8*time.Second); d != 250*time.Millisecond {
		t.Errorf("250ms: %v", d)
	}
}

func TestInt(t *testing.T) {
	const name = "VIPD_BENCHIO_TEST_INT"
	t.Setenv(name, "")
	if v := Int(t, name, 256); v != 256 {
		t.Errorf("unset: %d, want the default 256", v)
	}
	t.Setenv(name, "3")
	if v := Int(t, name, 256); v != 3 {
		t.Errorf("3: %d", v)
	}
}
