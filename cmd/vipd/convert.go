package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/keepalived"
	"github.com/vipd/vipd/internal/atomicfile"
)

func newConvertCmd() *cobra.Command {
	var from, out string
	cmd := &cobra.Command{
		Use:   "convert --from-keepalived PATH [-o FILE]",
		Short: "Turn a keepalived.conf into vipd's native YAML",
		Long: `Read a keepalived.conf (the VRRP subset: global_defs, vrrp_script,
track_file, vrrp_instance, vrrp_sync_group, include) exactly as "vipd agent"
reads it, and write the same configuration in vipd's native YAML, every
setting explicit (defaults included).

Nothing is left out silently. On stderr, as PATH:LINE: message:
  - every warning of the load: keywords vipd does not support yet (skipped
    with their block), keywords unknown to keepalived too, values keepalived
    itself would change (an auth_pass cut to 8 bytes, an advert_int rounded);
  - every setting of keepalived itself that has no meaning for vipd
    (process, logging, LVS, SNMP, e-mail...), as "not converted".

Run it on the node that runs the keepalived.conf: scripts are vetted and
script users looked up on this machine as keepalived would (a script
keepalived would disable is left out, with its warning), and the node name
is the host name when global_defs has no router_id.

The result is loaded back and compared with the original before it is
written; if it does not load as native YAML or would behave differently,
the problems are printed and the exit status is 1. Exit status 1 also when
the keepalived.conf has errors (nothing is written then).`,
		Example: `  # Print the native form of the running keepalived configuration
  vipd convert --from-keepalived /etc/keepalived/keepalived.conf

  # Write it for vipd, then check it
  vipd convert --from-keepalived /etc/keepalived/keepalived.conf -o /etc/vipd/vipd.yaml
  vipd config check --config /etc/vipd/vipd.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConvert(cmd.OutOrStdout(), cmd.ErrOrStderr(), from, out)
		},
	}
	cmd.Flags().StringVar(&from, "from-keepalived", "", "keepalived.conf to convert (required)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the YAML to this file instead of stdout")
	_ = cmd.MarkFlagRequired("from-keepalived")
	_ = cmd.MarkFlagFilename("from-keepalived")
	_ = cmd.MarkFlagFilename("output", "yaml", "yml")
	return cmd
}

// runConvert converts the keepalived.conf at from and writes the YAML to
// out (stdout when empty); diagnostics go to errw.
func runConvert(stdout, errw io.Writer, from, out string) error {
	data, err := config.ReadFile(from)
	if err != nil {
		return err
	}
	opts := config.LoadOptions{}
	cfg, err := keepalived.Parse(from, data, opts)
	if err != nil {
		var ds config.Diagnostics
		if !errors.As(err, &ds) {
			return err
		}
		for _, d := range ds {
			fmt.Fprintln(errw, d.String())
		}
		fmt.Fprintf(errw, "%s: not converted: the file has errors\n", from)
		return exitCode(1)
	}
	left := leftOut(cfg.Warnings, keepalived.Unused(from, data, opts))
	for _, d := range left {
		fmt.Fprintln(errw, d)
	}

	yml, err := config.EncodeYAML(cfg)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", from, err)
	}
	yml = append(convertHeader(from, len(left)), yml...)

	// Load the output back: what is written must load as native YAML and
	// configure what the keepalived.conf configures.
	name := out
	if name == "" {
		name = "converted.yaml"
	}
	problems := selfCheck(cfg, name, yml, opts)

	if out == "" {
		if _, err := stdout.Write(yml); err != nil {
			return err
		}
	} else if err := writeFileAtomic(out, yml); err != nil {
		return err
	}
	dest := out
	if dest == "" {
		dest = "stdout"
	}
	fmt.Fprintf(errw, "%s: converted to %s: %d instances, %d checks, %d sync groups; %d lines not converted or changed (listed above)\n",
		from, dest, len(cfg.Instances), len(cfg.Checks), len(cfg.SyncGroups), len(left))
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(errw, p)
		}
		fmt.Fprintf(errw, "%s: the converted configuration does not load or differs from the keepalived.conf (see above); fix it by hand\n", dest)
		return exitCode(1)
	}
	return nil
}

// leftOut merges the load's warnings and the silently skipped settings into
// one list in file and line order, rendered as PATH:LINE: lines.
func leftOut(warnings, unused config.Diagnostics) []string {
	all := append(append(config.Diagnostics{}, warnings...), unused...)
	files := map[string]int{}
	for _, d := range all {
		if _, ok := files[d.Pos.File]; !ok {
			files[d.Pos.File] = len(files)
		}
	}
	// A stable insertion sort keeps the load's order for equal positions;
	// the lists are short.
	for i := 1; i < len(all); i++ {
		for j := i; j > 0 && before(all[j], all[j-1], files); j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	out := make([]string, 0, len(all))
	for _, d := range all {
		out = append(out, d.String())
	}
	return out
}

func before(a, b config.Diagnostic, files map[string]int) bool {
	if fa, fb := files[a.Pos.File], files[b.Pos.File]; fa != fb {
		return fa < fb
	}
	return a.Pos.Line < b.Pos.Line
}

// convertHeader is the comment on top of the YAML: where it came from and
// whether anything was left behind.
func convertHeader(from string, left int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Converted by \"vipd convert\" from %s.\n", from)
	if left > 0 {
		fmt.Fprintf(&b, "# %d lines of it were not converted or were changed as keepalived would;\n", left)
		b.WriteString("# convert listed them on stderr (PATH:LINE: message).\n")
	}
	b.WriteString("# Every setting is explicit: see docs/config.md for each key and its default.\n")
	return b.Bytes()
}

// selfCheck loads yml as native YAML and compares it with cfg. It returns
// the problems, empty when the output is faithful.
func selfCheck(cfg *config.Config, name string, yml []byte, opts config.LoadOptions) []string {
	again, err := config.ParseYAML(name, yml, opts)
	if err != nil {
		var ds config.Diagnostics
		if !errors.As(err, &ds) {
			return []string{err.Error()}
		}
		var out []string
		for _, d := range ds.Errors() {
			out = append(out, d.String())
		}
		return out
	}
	var out []string
	for _, d := range cfg.Differences(again) {
		out = append(out, name+": differs from the keepalived.conf: "+d)
	}
	return out
}

// writeFileAtomic writes data to path so that a reader (or a vipd
// reloading) never sees half a file.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.Write(path, data, 0o600)
}
