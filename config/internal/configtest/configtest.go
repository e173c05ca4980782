// Package configtest holds test helpers shared by the tests of config and
// its front ends (config/keepalived, config/load), which cannot share
// _test.go files.
package configtest

import (
	"strings"
	"testing"

	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/internal/machine"
)

// CheckResult asserts what a parser must return for any input: either a
// Config that passes validation and whose encoding loads back to the same
// settings (checkRoundTrip), or no Config and Diagnostics holding an
// error. Fuzzers call it on every input.
func CheckResult(t *testing.T, cfg *config.Config, err error) {
	if err == nil {
		if cfg == nil {
			t.Fatal("nil Config without an error")
		}
		// What loads must also pass validation on its own.
		if ds := cfg.Validate(nil); ds.HasErrors() {
			t.Fatalf("loaded config fails Validate:\n%s", render(ds))
		}
		checkRoundTrip(t, cfg)
		return
	}
	if cfg != nil {
		t.Fatal("Config returned with an error")
	}
	ds, ok := err.(config.Diagnostics)
	if !ok || !ds.HasErrors() {
		t.Fatalf("error %T %v holds no error diagnostics", err, err)
	}
}

// checkRoundTrip asserts EncodeYAML's contract on a loaded configuration:
// the YAML it writes loads back to the same settings (Config.Differences
// finds nothing). The one documented exception is keepalived input that
// loaded thanks to keepalived's leniency: the native format refuses what
// keepalived.conf only gets a warning for (validator.problem), so the
// output may fail to load, but then every error must be one of the
// input's warnings: the same words up to the first "; ", where the
// warning goes on with what keepalived does and the error with why it is
// refused. Any other error is a bug of the encoder or of a parser.
func checkRoundTrip(t *testing.T, cfg *config.Config) {
	t.Helper()
	out, err := config.EncodeYAML(cfg)
	if err != nil {
		t.Fatalf("EncodeYAML: %v", err)
	}
	again, err := config.ParseYAML("converted.yaml", out, config.LoadOptions{Hostname: "h", System: machine.Root()})
	if err != nil {
		ds, ok := err.(config.Diagnostics)
		if !ok || cfg.Format != config.FormatKeepalived {
			t.Fatalf("the encoding of a loaded %v configuration does not load: %v\n%s", cfg.Format, err, out)
		}
		for _, e := range ds.Errors() {
			if !warned(cfg.Warnings, e.Message) {
				t.Fatalf("the encoding does not load, for a reason the keepalived input was not warned about: %v\n"+
					"input warnings:\n%s\nencoding:\n%s", e, render(cfg.Warnings), out)
			}
		}
		return
	}
	if d := cfg.Differences(again); len(d) > 0 {
		t.Fatalf("the encoding loads to different settings:\n%s\nencoding:\n%s", strings.Join(d, "\n"), out)
	}
}

// warned reports whether ws holds a warning about the problem msg names.
func warned(ws config.Diagnostics, msg string) bool {
	problem, _, _ := strings.Cut(msg, "; ")
	for _, w := range ws {
		if p, _, _ := strings.Cut(w.Message, "; "); w.Severity == config.SeverityWarning && p == problem {
			return true
		}
	}
	return false
}

// render prints diagnostics one a line, for failure messages.
func render(ds config.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString("  " + d.String() + "\n")
	}
	return b.String()
}
