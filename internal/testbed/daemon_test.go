package testbed

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBecameMaster: each kind of daemon is read by its own words, and
// only a move to MASTER counts (a move from MASTER, or one to BACKUP, is
// not one).
func TestBecameMaster(t *testing.T) {
	cases := []struct {
		kind, log string
		want      bool
	}{
		{"vipd", `time=2026-12-06T07:00:00.000Z level=INFO msg="state change" instance=web from=BACKUP to=MASTER reason="master down timer expired"` + "\n", true},
		{"vipd", `time=2026-12-06T07:00:00.000Z level=INFO msg="state change" instance=web from=INIT to=BACKUP reason=start` + "\n" +
			`time=2026-12-06T07:00:01.000Z level=INFO msg="state change" instance=web from=MASTER to=BACKUP reason="higher priority advert"` + "\n", false},
		{"vipd", `time=2026-12-06T07:00:00.000Z level=DEBUG msg="advert sent" to=MASTER` + "\n", false},
		{"vipd", "", false},
		{"keepalived", "Sun Dec  6 07:00:00 2026: (VI_1) Entering MASTER STATE\n", true},
		{"keepalived", "Sun Dec  6 07:00:00 2026: (VI_1) Entering BACKUP STATE\n", false},
	}
	for i, c := range cases {
		path := filepath.Join(t.TempDir(), "daemon.log")
		if err := os.WriteFile(path, []byte(c.log), 0o600); err != nil {
			t.Fatal(err)
		}
		d := &Daemon{Kind: c.kind, Log: path}
		if got := d.BecameMaster(); got != c.want {
			t.Errorf("case %d (%s): BecameMaster() = %t, want %t\n%s", i, c.kind, got, c.want, c.log)
		}
	}
}
