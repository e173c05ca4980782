package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/cloudmove"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/load"
)

func newCloudCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cloud",
		Short: "Tools for the cloud actions (AWS)",
		Long: `Tools for the cloud actions of the native format (the cloud sections of
instances and sync groups, docs/cloud.md): print the IAM policy they need,
and check on a node what they would change and whether it is allowed.`,
		Example: `  vipd cloud iam-policy --config /etc/vipd/vipd.yaml
  vipd cloud check --config /etc/vipd/vipd.yaml`,
	}
	cmd.AddCommand(newCloudPolicyCmd(), newCloudCheckCmd())
	return cmd
}

// loadCloud loads a configuration and returns its owners of cloud
// actions, printing load errors as config check does.
func loadCloud(cmd *cobra.Command, path string) ([]cloudmove.Owner, error) {
	cfg, err := load.File(path, config.LoadOptions{})
	if err != nil {
		var ds config.Diagnostics
		if !errors.As(err, &ds) {
			return nil, err
		}
		for _, d := range ds {
			fmt.Fprintln(cmd.ErrOrStderr(), d.String())
		}
		return nil, exitCode(1)
	}
	owners := cfg.CloudOwners()
	if len(owners) == 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: no instance or sync group has a cloud section\n", path)
		return nil, exitCode(1)
	}
	return owners, nil
}

func newCloudPolicyCmd() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "iam-policy --config PATH",
		Short: "Print the least-privilege IAM policy for the configured cloud actions",
		Long: `Print, as JSON, the IAM policy the instance role needs for the cloud actions
of every instance and sync group: the describe calls on "*", each mutating
call on the resources the configuration names (all resources of the type
where they are only found at run time).`,
		Example: `  vipd cloud iam-policy --config /etc/vipd/vipd.yaml > vipd-policy.json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			owners, err := loadCloud(cmd, cfgPath)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), cloudmove.Policy(owners).JSON())
			return nil
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "/etc/vipd/vipd.yaml", "configuration file")
	return c
}

func newCloudCheckCmd() *cobra.Command {
	var (
		cfgPath, imdsEndpoint string
		timeout               time.Duration
		noDryRun              bool
	)
	c := &cobra.Command{
		Use:   "check --config PATH",
		Short: "Dry-run every cloud action and report what becoming master would change",
		Long: `Read this node's identity from instance metadata, resolve every cloud action,
look at each resource and print what it points at now and what becoming
master would change; check the permissions of the mutating calls with
DryRun. Nothing is changed. Exit status 1 when an action cannot be looked
at or a permission is denied.`,
		Example: `  vipd cloud check --config /etc/vipd/vipd.yaml
  vipd cloud check --config /etc/vipd/vipd.yaml --no-dry-run --timeout 1m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			owners, err := loadCloud(cmd, cfgPath)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			out := cmd.OutOrStdout()
			ok := true
			for _, o := range owners {
				rep, err := cloudmove.Inspect(ctx, o, cloudmove.Options{IMDSEndpoint: imdsEndpoint, NoPermissionCheck: noDryRun,
					Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
				if err != nil {
					return err
				}
				printReport(out, rep)
				ok = ok && rep.OK()
			}
			if !ok {
				return exitCode(1)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&cfgPath, "config", "c", "/etc/vipd/vipd.yaml", "configuration file")
	c.Flags().StringVar(&imdsEndpoint, "imds-endpoint", "", "instance metadata endpoint (default: the EC2 link-local address)")
	c.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	c.Flags().BoolVar(&noDryRun, "no-dry-run", false, "skip the DryRun permission checks (for endpoints that ignore DryRun)")
	return c
}

func printReport(w io.Writer, rep *cloudmove.Report) {
	fmt.Fprintf(w, "%s %s:\n", rep.Owner.Kind, rep.Owner.Name)
	for _, a := range rep.Actions {
		fmt.Fprintf(w, "  %s\n", a.Name)
		switch {
		case a.Error != "":
			fmt.Fprintf(w, "    error:  %s\n", a.Error)
		case a.Ours:
			fmt.Fprintf(w, "    now:    %s\n    change: none (already here)\n", a.Current)
		default:
			fmt.Fprintf(w, "    now:    %s\n    change: %s\n", a.Current, a.Change)
		}
		for _, warn := range a.Warnings {
			fmt.Fprintf(w, "    warning: %s\n", warn)
		}
	}
	if len(rep.Permissions) > 0 {
		fmt.Fprintln(w, "  permissions:")
	}
	for _, p := range rep.Permissions {
		verdict := "allowed (DryRun)"
		switch {
		case !p.Checked:
			verdict = "not checked: " + p.Note
		case !p.Allowed:
			verdict = "DENIED: " + p.Note
		}
		fmt.Fprintf(w, "    %-30s %s\n", p.Permission, verdict)
	}
}
