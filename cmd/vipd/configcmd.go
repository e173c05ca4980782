package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/config"
)

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with configuration files",
	}
	var cfgPath string
	check := &cobra.Command{
		Use:   "check --config PATH",
		Short: "Validate a configuration; print warnings and errors as PATH:LINE: message",
		Long: `Validate a configuration file (native YAML, or keepalived.conf syntax) and
print every warning and error as PATH:LINE: message. Exit status 1 when there
is any error, 0 otherwise (warnings alone do not fail).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath, config.LoadOptions{Host: localHost{}})
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
			fmt.Fprintf(out, "%s: OK (%d instances)\n", cfgPath, len(cfg.Instances))
			return nil
		},
	}
	check.Flags().StringVarP(&cfgPath, "config", "c", "/etc/vipd/vipd.yaml", "configuration file")
	cmd.AddCommand(check)
	return cmd
}
