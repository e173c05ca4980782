// Package fielderrtest checks in tests what a Validate returned: every
// problem, in order, against "field: message" prefixes.
package fielderrtest

import (
	"errors"
	"strings"
	"testing"

	"github.com/vipd/vipd/internal/fielderr"
)

// Require fails t unless err is nil and want is empty, or err is a
// fielderr.List whose problems, one for one, start with want's entries
// ("dns.server: is required").
func Require(t testing.TB, err error, want ...string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate: %v", err)
		}
		return
	}
	var got fielderr.List
	if !errors.As(err, &got) || len(got) != len(want) {
		t.Fatalf("Validate = %v (%T), want %d problems: %q", err, err, len(want), want)
	}
	for i, w := range want {
		if s := got[i].Error(); !strings.HasPrefix(s, w) {
			t.Errorf("problem %d = %q, want %q...", i, s, w)
		}
	}
}
