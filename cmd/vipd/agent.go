package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/config"
)

func newAgentCmd() *cobra.Command {
	var cfgPath, logLevel string
	cmd := &cobra.Command{
		Use:   "agent --config PATH",
		Short: "Run the VRRP instances of a configuration in the foreground",
		Long: `Run every VRRP instance of the configuration in the foreground, logging to
stderr.

Signals: SIGTERM or SIGINT stop gracefully (a master sends a priority-0
advert so a backup takes over at once, and every VIP is released); SIGHUP
reloads the configuration, keeping unchanged instances (and their
mastership) running. A configuration with errors is not applied on reload:
the running one stays and the errors are logged.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			cfg, err := config.Load(cfgPath, config.LoadOptions{Host: localHost{}})
			if cfg != nil {
				for _, w := range cfg.Warnings {
					log.Warn(w.String())
				}
			}
			if err != nil {
				var ds config.Diagnostics
				if errors.As(err, &ds) {
					for _, d := range ds {
						log.Error(d.String())
					}
					return exitCode(1)
				}
				return err
			}

			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			a := agent.New(agent.Options{Log: log, Version: version})
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						reload(ctx, log, a, cfgPath)
					}
				}
			}()
			return a.Run(ctx, cfg)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "/etc/vipd/vipd.yaml", "configuration file (.yaml/.yml native, otherwise keepalived.conf syntax)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
