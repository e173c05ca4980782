package config

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Severity says whether a Diagnostic stops the load.
type Severity int

const (
	// SeverityError makes the configuration unusable.
	SeverityError Severity = iota + 1
	// SeverityWarning is reported but the configuration loads.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Diagnostic is one problem found in a configuration.
type Diagnostic struct {
	// Pos is the file and line the problem is on (the included file for
	// lines that come from an include).
	Pos Pos
	// Field names the setting, e.g. "instances[0].vrid" or
	// "vrrp_instance[VI_1].priority"; empty for syntax problems.
	Field string
	// Severity is SeverityError or SeverityWarning.
	Severity Severity
	// Message says what is wrong and, for warnings, what was done about it.
	Message string
}

// String renders the diagnostic as "PATH:LINE: [warning: ]field: message",
// on one line. Field and message quote what the file says, so control
// bytes (a terminal escape sequence, a newline) and invalid UTF-8 are
// written as \xNN: printing a diagnostic must never drive the terminal
// or forge a line.
func (d Diagnostic) String() string {
	var b strings.Builder
	writeEscaped(&b, d.Pos.String())
	b.WriteString(": ")
	if d.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if d.Field != "" {
		writeEscaped(&b, d.Field)
		b.WriteString(": ")
	}
	writeEscaped(&b, d.Message)
	return b.String()
}

// writeEscaped writes s with every C0 control byte but tab, DEL, every C1
// control character and every byte of invalid UTF-8 as \xNN.
func writeEscaped(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	esc := func(c byte) { b.WriteString(`\x`); b.WriteByte(hex[c>>4]); b.WriteByte(hex[c&15]) }
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			esc(s[i])
		case r < 0x20 && r != '\t', r == 0x7f:
			esc(byte(r))
		case r >= 0x80 && r < 0xa0:
			for k := range n {
				esc(s[i+k])
			}
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
}

// MaxDiagnostics bounds the diagnostics a load returns: a file of
// thousands of bad blocks gets the first ones (errors before warnings) and
// one last line counting the rest, not a report of megabytes.
const MaxDiagnostics = 100

// Diagnostics is a list of problems. As an error it reports its errors only,
// one a line; its warnings stay available through Warnings.
type Diagnostics []Diagnostic

// Error renders every error-severity diagnostic, one a line.
func (ds Diagnostics) Error() string {
	var lines []string
	for _, d := range ds {
		if d.Severity != SeverityWarning {
			lines = append(lines, d.String())
		}
	}
	if len(lines) == 0 {
		return "no errors"
	}
	return strings.Join(lines, "\n")
}

// Errors returns the error-severity diagnostics.
func (ds Diagnostics) Errors() Diagnostics { return ds.filter(SeverityError) }

// Warnings returns the warning-severity diagnostics.
func (ds Diagnostics) Warnings() Diagnostics { return ds.filter(SeverityWarning) }

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity != SeverityWarning {
			return true
		}
	}
	return false
}

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if (d.Severity == SeverityWarning) == (s == SeverityWarning) {
			out = append(out, d)
		}
	}
	return out
}

// diags collects diagnostics while parsing and validating.
type diags struct {
	list Diagnostics
}

func (c *diags) add(sev Severity, pos Pos, field, msg string) {
	c.list = append(c.list, Diagnostic{Pos: pos, Field: field, Severity: sev, Message: msg})
}

func (c *diags) err(pos Pos, field, msg string) { c.add(SeverityError, pos, field, msg) }

func (c *diags) warn(pos Pos, field, msg string) { c.add(SeverityWarning, pos, field, msg) }

// Finish ends a front end's load of cfg: it runs the validation shared by
// both formats (host, if not nil, answers the address-owner questions),
// drops diagnostics that repeat what parsing said, sorts them by position
// and caps them, and returns either cfg, its warnings in cfg.Warnings, or
// nil and Diagnostics. parsed holds the front end's own diagnostics; bad
// names the fields whose values did not parse ("F.*": a whole section), so
// that validation does not report them again as missing. A nil cfg (the
// front end gave up) is not validated and always fails.
func Finish(cfg *Config, parsed Diagnostics, bad map[string]bool, host Host) (*Config, error) {
	d := diags{list: parsed}
	if cfg != nil {
		validate(cfg, host, &d)
	}
	return finish(cfg, d.list, len(parsed), bad)
}

// finish turns a parsed configuration and its diagnostics into a load's result.
// The first nParse diagnostics come from parsing; later (validation) errors
// on fields that already failed to parse are dropped, so that a bad value is
// reported once, not again as "missing". A bad entry "F.*" marks a whole
// section F unreadable: every later diagnostic on F or below it is dropped.
func finish(cfg *Config, list Diagnostics, nParse int, bad map[string]bool) (*Config, error) {
	var kept Diagnostics
	seen := map[string]bool{}
	for i, d := range list {
		key := d.String()
		late := i >= nParse
		// A late diagnostic (from validation) about a field whose value
		// did not parse says nothing the parse error did not (a list of
		// bad VIPs is not also "no VIP").
		if seen[key] || (late && bad[d.Field]) || (late && inBadSection(bad, d.Field)) {
			continue
		}
		seen[key] = true
		kept = append(kept, d)
	}
	sortByPosition(kept)
	kept = capDiagnostics(kept, MaxDiagnostics)
	if cfg == nil || kept.HasErrors() {
		return nil, kept
	}
	cfg.Warnings = kept
	return cfg, nil
}

// sortByPosition orders diagnostics by line within each file, files in the
// order they first appear, so that fix-ups found after parsing sit next to
// the lines they are about.
func sortByPosition(list Diagnostics) {
	rank := map[string]int{}
	for _, d := range list {
		if _, ok := rank[d.Pos.File]; !ok {
			rank[d.Pos.File] = len(rank)
		}
	}
	slices.SortStableFunc(list, func(a, b Diagnostic) int {
		if c := rank[a.Pos.File] - rank[b.Pos.File]; c != 0 {
			return c
		}
		return a.Pos.Line - b.Pos.Line
	})
}

// inBadSection reports whether field is, or is below, a section marked
// "F.*" in bad.
func inBadSection(bad map[string]bool, field string) bool {
	for f := field; f != ""; {
		if bad[f+".*"] {
			return true
		}
		i := strings.LastIndexAny(f, ".[")
		if i < 0 {
			break
		}
		f = f[:i]
	}
	return false
}

// capDiagnostics keeps at most max of list, sorted: errors first, then
// warnings, in their order; a last diagnostic counts what was left out (an
// error if any error was), so HasErrors is unchanged.
func capDiagnostics(list Diagnostics, max int) Diagnostics {
	if len(list) <= max {
		return list
	}
	errs := 0
	for _, d := range list {
		if d.Severity != SeverityWarning {
			errs++
		}
	}
	keepErrs := min(errs, max)
	keepWarns := max - keepErrs
	out := make(Diagnostics, 0, max+1)
	for _, d := range list {
		if d.Severity != SeverityWarning {
			if keepErrs > 0 {
				out = append(out, d)
				keepErrs--
			}
		} else if keepWarns > 0 {
			out = append(out, d)
			keepWarns--
		}
	}
	moreErrs := errs - min(errs, max)
	moreWarns := len(list) - errs - (max - min(errs, max))
	sev := SeverityWarning
	if moreErrs > 0 {
		sev = SeverityError
	}
	return append(out, Diagnostic{
		Pos:      Pos{File: list[0].Pos.File},
		Severity: sev,
		Message:  fmt.Sprintf("%d more errors and %d more warnings not shown (at most %d are)", moreErrs, moreWarns, max),
	})
}
