package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/config"
	"github.com/vipd/vipd/config/load"
	"github.com/vipd/vipd/internal/exepages"
	"github.com/vipd/vipd/metrics"
	"github.com/vipd/vipd/server"
)

func newAgentCmd() *cobra.Command {
	var cfgPath, logLevel, apiSocket string
	cmd := &cobra.Command{
		Use:   "agent --config PATH",
		Short: "Run the VRRP instances of a configuration in the foreground",
		Long: `Run every VRRP instance of the configuration in the foreground, logging to
stderr.

Signals: SIGTERM or SIGINT stop gracefully (a master sends a priority-0
advert so a backup takes over at once, and every VIP is released); SIGHUP
reloads the configuration, keeping unchanged instances (and their
mastership) running. A configuration with errors is not applied on reload:
the running one stays and the errors are logged.

Under systemd (Type=notify, see deploy/systemd/vipd.service) it reports
READY=1 once running, RELOADING=1 and READY=1 around a reload, and
STOPPING=1 when a graceful stop begins.`,
		Example: `  vipd agent --config /etc/vipd/vipd.yaml
  vipd agent --config /etc/keepalived/keepalived.conf --log-level debug
  kill -HUP "$(pidof vipd)"     # reload`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logLevel)
			if err != nil {
				return err
			}
			cfg, err := load.File(cfgPath, config.LoadOptions{Host: localHost{}})
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
			// Scheduling and locked memory first, before the threads and
			// pages the start-up makes (busy.go).
			guard := startBusyGuard(ctx, log, cfg.Node)
			defer func() { stop(); guard.wait() }()
			setProcs(log, cfg) // one P for a few slow instances (busy.go)
			sd := systemd{log: log}
			rl := newReloader(cfgPath) // for SIGHUP and the API's reload
			if load := rl.load; load != nil {
				// Both reload paths warn when node.scheduling or
				// node.lock_memory changed: they apply at start only.
				rl.load = func(path string) (*config.Config, error) {
					c, err := load(path)
					guard.reloaded(c)
					if c != nil {
						setProcs(log, c)
					}
					return c, err
				}
			}
			m := metrics.New(metrics.BuildInfo{Version: version, Commit: buildCommit(), GoVersion: runtime.Version()})
			a := agent.New(agent.Options{
				Log: log, Version: version, Metrics: m,
				LoadConfig: rl.Load,
				OnReady: func() {
					sd.ready(runningStatus(len(cfg.Instances), cfgPath))
					if guard.locked {
						// Locked pages stay: the first takeover must not
						// wait on the disk (internal/exepages).
						log.Debug("start-up pages kept mapped: memory is locked (node.lock_memory)")
						return
					}
					releaseStartupPages(log)
				},
			})
			if cmd.Flags().Changed("api-socket") {
				cfg.API.Socket = apiSocket
			}
			api, err := server.New(cfg.API, server.NewService(a.Service()), server.Options{Ready: a.Ready, Logger: log.With("component", "api"), Metrics: m.Handler(), Observer: m})
			if err != nil {
				return err
			}
			// Listen before anything runs: an API that cannot listen (its
			// socket held by another agent, say) stops the start cleanly.
			if err := api.Listen(); err != nil {
				return err
			}
			apiDone := make(chan error, 1)
			go func() { apiDone <- api.Run(ctx) }()
			defer func() {
				stop()
				if err := <-apiDone; err != nil {
					log.Error("API server", "err", err)
				}
			}()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-hup:
						sd.reloading()
						reload(ctx, log, a, rl)
						sd.ready("running; reload of " + cfgPath + " done (the log says whether it applied)")
					}
				}
			}()
			defer context.AfterFunc(ctx, sd.stopping)()
			return a.Run(ctx, cfg)
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "/etc/vipd/vipd.yaml", "configuration file (.yaml/.yml native, otherwise keepalived.conf syntax)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&apiSocket, "api-socket", config.DefaultAPISocket, "the API's unix socket, overriding the configuration's api.socket (\"\" for none)")
	return cmd
}

// releaseStartupPages gives back the mappings of the binary's code and
// read-only data that only start-up touched (see internal/exepages): most
// of the agent's resident memory otherwise.
func releaseStartupPages(log *slog.Logger) {
	st, err := exepages.Release()
	if err != nil {
		log.Debug("start-up pages kept mapped", "err", err)
		return
	}
	log.Debug("start-up pages released", "mappings", st.Mappings, "mapped_kb", st.Resident>>10, "skipped", st.Skipped)
}
