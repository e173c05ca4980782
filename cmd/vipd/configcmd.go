package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/load"
	"github.com/vipd/vipd/inet"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Validate configuration files and print the effective configuration",
		Long: `Work with configuration files, native YAML (*.yaml, *.yml) or keepalived.conf
syntax (any other name), without running anything.`,
		Example: `  vipd config check --config /etc/vipd/vipd.yaml
  vipd config print --config /etc/keepalived/keepalived.conf`,
	}
	var cfgPath string
	check := &cobra.Command{
		Use:   "check --config PATH",
		Short: "Validate a configuration; print warnings and errors as PATH:LINE: message",
		Long: `Validate a configuration file (native YAML, or keepalived.conf syntax) and
print every warning and error as PATH:LINE: message, and a note for each VIP
of the other family than its instance's adverts (vipd keeps such VIPs with
the instance's state; keepalived would drop them). Exit status 1 when there
is any error, 0 otherwise (warnings and notes do not fail).`,
		Example: `  vipd config check --config /etc/vipd/vipd.yaml
  vipd config check --config /etc/keepalived/keepalived.conf   # warns where vipd differs`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load.File(cfgPath, config.LoadOptions{Host: localHost{}})
			out := cmd.OutOrStdout()
			if cfg != nil {
				for _, w := range cfg.Warnings {
					fmt.Fprintln(out, w.String())
				}
			}
			if err != nil {
				var ds config.Diagnostics
				if !errors.As(err, &ds) {
					return err
				}
				for _, d := range ds {
					fmt.Fprintln(out, d.String())
				}
				return exitCode(1)
			}
			if len(cfg.Instances) == 0 {
				// Valid, but a reload to it is refused: say so here first.
				fmt.Fprintln(out, config.Diagnostic{Pos: config.Pos{File: cfgPath}, Field: "instances", Severity: config.SeverityWarning,
					Message: "no instances: nothing for vipd to run; the agent refuses a reload to this file, since it would stop every running instance"})
			}
			for _, n := range familyNotes(cfg) {
				fmt.Fprintln(out, n)
			}
			fmt.Fprintf(out, "%s: OK (%d instances)\n", cfgPath, len(cfg.Instances))
			return nil
		},
	}
	check.Flags().StringVarP(&cfgPath, "config", "c", "/etc/vipd/vipd.yaml", "configuration file")
	_ = check.MarkFlagFilename("config")
	cmd.AddCommand(check)
	cmd.AddCommand(newConfigPrintCmd())
	return cmd
}

func newConfigPrintCmd() *cobra.Command {
	var cfgPath string
	pr := &cobra.Command{
		Use:   "print --config PATH",
		Short: "Print the effective configuration, every default filled in, as native YAML",
		Long: `Load a configuration (native YAML, or keepalived.conf syntax) as "vipd agent"
would and print it as native YAML with every setting explicit: defaults
filled in, global settings (vrrp.version, vrrp.garp) applied to each
instance, keepalived's fix-ups applied, and the gossip timings of the
chosen profile written out.

Warnings go to stderr as PATH:LINE: message. A configuration with errors
prints them (stderr) and exits with status 1. For a keepalived.conf,
"vipd convert" gives the same YAML plus the list of lines it leaves out.`,
		Example: `  vipd config print --config /etc/vipd/vipd.yaml
  vipd config print --config /etc/vipd/vipd.yaml | diff /etc/vipd/vipd.yaml -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errw := cmd.ErrOrStderr()
			cfg, err := load.File(cfgPath, config.LoadOptions{Host: localHost{}})
			if cfg != nil {
				for _, w := range cfg.Warnings {
					fmt.Fprintln(errw, w.String())
				}
			}
			if err != nil {
				var ds config.Diagnostics
				if !errors.As(err, &ds) {
					return err
				}
				for _, d := range ds {
					fmt.Fprintln(errw, d.String())
				}
				return exitCode(1)
			}
			yml, err := config.EncodeYAML(effective(cfg))
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(yml)
			return err
		},
	}
	pr.Flags().StringVarP(&cfgPath, "config", "c", "/etc/vipd/vipd.yaml", "configuration file (.yaml/.yml native, otherwise keepalived.conf syntax)")
	_ = pr.MarkFlagFilename("config")
	return pr
}

// effective returns cfg with the settings EncodeYAML leaves implicit made
// explicit: the gossip profile's timings. cfg itself is not changed.
func effective(cfg *config.Config) *config.Config {
	if cfg.Gossip == nil {
		return cfg
	}
	c := *cfg
	g := *cfg.Gossip
	g.Timings = g.EffectiveTimings()
	c.Gossip = &g
	return &c
}

// familyNotes says, for each VIP of the other family than its instance's
// adverts, what vipd does with it: valid in the native format, but
// keepalived would drop it, so a reader moving from keepalived should know.
// keepalived.conf input already warns about these at the same line.
func familyNotes(cfg *config.Config) []string {
	var out []string
	warned := map[config.Pos]bool{} // a set: a list scanned for each VIP was quadratic
	for _, w := range cfg.Warnings {
		warned[w.Pos] = true
	}
	for i, in := range cfg.Instances {
		for _, v := range in.VIPs {
			a := v.Prefix.Addr()
			if v.Excluded || inet.FamilyOf(a) == in.Family || warned[v.Pos] {
				continue
			}
			out = append(out, fmt.Sprintf("%s: note: instances[%d].vips: %v is not %v like the instance's adverts: vipd holds it with the instance's state and leaves it out of adverts (keepalived would drop it)",
				v.Pos, i, a, in.Family))
		}
	}
	return out
}
