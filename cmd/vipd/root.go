package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

// exitCode ends the process with a status after the command has already
// printed what went wrong.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func asExit(err error, ec *exitCode) bool { return errors.As(err, ec) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "vipd",
		Short: "Keep service addresses alive with keepalived-compatible VRRP",
		Long: `vipd moves virtual IP addresses (VIPs) to a healthy node when a server,
a process or a zone fails. It speaks VRRP v2 and v3 (IPv4 and IPv6, unicast
and multicast) and elects correctly together with keepalived nodes.

Configuration is native YAML (*.yaml, *.yml) or keepalived.conf syntax (any
other file name).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// One command per line: the daemon, its configuration tools, then the
	// API clients and cloud tools.
	root.AddCommand(newAgentCmd())
	root.AddCommand(newConfigCmd())
	root.AddCommand(newConvertCmd())
	root.AddCommand(newVersionCmd())
	root.AddCommand(newStatusCmd())
	root.AddCommand(newMembersCmd())
	root.AddCommand(newWatchCmd())
	root.AddCommand(newFailoverCmd())
	root.AddCommand(newMaintenanceCmd())
	root.AddCommand(newOrderCmd())
	root.AddCommand(newCloudCmd())
	root.AddCommand(newEventsCmd())
	root.AddCommand(newWhyCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print vipd's version, commit and Go version",
		Long: `Print vipd's version and the commit it was built from (set at build time
with -ldflags "-X main.version=... -X main.commit=...", otherwise the VCS
revision Go recorded, otherwise "unknown"), the Go version it was built
with, and the OS/architecture.`,
		Example: `  $ vipd version
  vipd 0.7.0 (commit 099674f, go1.26.8, linux/amd64)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := buildCommit()
			fmt.Fprintf(cmd.OutOrStdout(), "vipd %s (commit %s, %s, %s/%s)\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// buildCommit is the commit vipd was built from: -X main.commit, else the
// VCS revision Go recorded, else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
