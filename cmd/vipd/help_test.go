package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Each of these commands documents itself fully: a one-line summary, a
// description and examples, all shown by --help.
func TestHelpComplete(t *testing.T) {
	root := newRootCmd()
	for _, path := range [][]string{
		{"agent"}, {"config"}, {"config", "check"}, {"config", "print"}, {"convert"}, {"version"},
		{"status"}, {"members"}, {"watch"}, {"failover"}, {"maintenance"}, {"order"},
		{"cloud"}, {"cloud", "iam-policy"}, {"cloud", "check"},
	} {
		name := strings.Join(path, " ")
		t.Run(name, func(t *testing.T) {
			cmd, _, err := root.Find(path)
			if err != nil || cmd == root {
				t.Fatalf("no command %q: %v", name, err)
			}
			if cmd.Short == "" || cmd.Long == "" || cmd.Example == "" {
				t.Errorf("incomplete help: Short %q, Long %d bytes, Example %d bytes", cmd.Short, len(cmd.Long), len(cmd.Example))
			}
			out, err := run(t, append(path, "--help")...)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{cmd.Long[:min(40, len(cmd.Long))], "Examples:", "Flags:"} {
				if !strings.Contains(out, want) {
					t.Errorf("--help lacks %q:\n%s", want, out)
				}
			}
			cmd.Flags().VisitAll(func(f *pflag.Flag) {
				if f.Usage == "" {
					t.Errorf("flag --%s has no usage text", f.Name)
				}
			})
		})
	}
}

// The root help lists every subcommand with its summary.
func TestRootHelpListsCommands(t *testing.T) {
	out, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range newRootCmd().Commands() {
		if c.Hidden {
			continue
		}
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(c.Name()) + `\s+` + regexp.QuoteMeta(c.Short)).MatchString(out) {
			t.Errorf("root help does not list %s with its summary:\n%s", c.Name(), out)
		}
	}
}

// cobra's completion command writes a script for each shell; each must be
// that shell's script for vipd, with the subcommands completable.
func TestShellCompletion(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash": "complete -o default -F __start_vipd vipd",
		"zsh":  "#compdef vipd",
		"fish": "complete -c vipd ",
	} {
		t.Run(shell, func(t *testing.T) {
			out, err := run(t, "completion", shell)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, marker) {
				t.Errorf("%s script lacks %q:\n%.400s", shell, marker, out)
			}
		})
	}
	// The scripts ask vipd itself for candidates: the hidden __complete
	// command must offer the subcommands and convert's flags.
	out, err := run(t, cobra.ShellCompRequestCmd, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"agent", "config", "convert", "version"} {
		if !regexp.MustCompile(`(?m)^` + want + `\t`).MatchString(out) {
			t.Errorf("completion of the subcommand offers no %s:\n%s", want, out)
		}
	}
	// A required flag is offered first, the others once it is given.
	out, err = run(t, cobra.ShellCompRequestCmd, "convert", "--")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "--from-keepalived") {
		t.Errorf("completion of convert's flags offers no --from-keepalived:\n%s", out)
	}
	out, err = run(t, cobra.ShellCompRequestCmd, "convert", "--from-keepalived", "k.conf", "--")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "--output") {
		t.Errorf("completion of convert's flags offers no --output:\n%s", out)
	}
}

func TestVersionHasCommitAndGo(t *testing.T) {
	old := commit
	commit = "0123abc"
	defer func() { commit = old }()
	out, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^vipd \S+ \(commit 0123abc, go1\.\d+(\.\d+)?\S*, \w+/\w+\)\n$`).MatchString(out) {
		t.Fatalf("version output %q", out)
	}
}
