package config_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
)

// A keepalived.conf may give a script an argument that is not UTF-8 (a
// file name in another encoding): YAML text cannot hold those bytes, so
// EncodeYAML writes them as !!binary, and the native parser must read that
// back as the bytes, not as their base64 text (the convert fuzzer found
// the round trip changing the command).
func TestNonUTF8StringRoundTrip(t *testing.T) {
	const text = "checks:\n- name: c\n  exec: {command: [sh, !!binary xA==]}\n"
	cfg, err := config.ParseYAML("b.yaml", []byte(text), config.LoadOptions{Hostname: "h", System: rootSys()})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sh", "\xc4"}
	if got := cfg.Checks[0].Exec.Command; !slices.Equal(got, want) {
		t.Fatalf("command %q, want %q", got, want)
	}
	out, err := config.EncodeYAML(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("!!binary")) {
		t.Fatalf("the encoding does not mark the bytes as binary:\n%s", out)
	}
	again, err := config.ParseYAML("again.yaml", out, config.LoadOptions{Hostname: "h", System: rootSys()})
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Differences(again); len(d) > 0 {
		t.Fatalf("round trip differs: %s\n%s", strings.Join(d, "\n"), out)
	}
}

func TestBadBinaryString(t *testing.T) {
	_, err := config.ParseYAML("b.yaml", []byte("checks:\n- name: c\n  exec: {command: [sh, !!binary \"%%%\"]}\n"),
		config.LoadOptions{Hostname: "h", System: rootSys()})
	if err == nil || !strings.Contains(err.Error(), "b.yaml:3") || !strings.Contains(err.Error(), "!!binary") {
		t.Fatalf("err = %v, want b.yaml:3 and the bad !!binary named", err)
	}
}
