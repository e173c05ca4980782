package load

import (
	"errors"
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
)

// diagnosticsOf returns every diagnostic of a load: the warnings of a
// successful one or the whole list of a failed one.
func diagnosticsOf(t testing.TB, cfg *config.Config, err error) config.Diagnostics {
	t.Helper()
	if err == nil {
		return cfg.Warnings
	}
	var ds config.Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("error is %T, not Diagnostics: %v", err, err)
	}
	return ds
}

// render prints diagnostics one a line, for failure messages.
func render(ds config.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}
