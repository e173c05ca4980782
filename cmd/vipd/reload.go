package main

import (
	"context"
	"log/slog"

	"github.com/vipd/vipd/agent"
	"github.com/vipd/vipd/config"
)

// reload re-reads the configuration on SIGHUP. A configuration with errors is
// reported and not applied, so a typo never takes a running cluster down.
func reload(ctx context.Context, log *slog.Logger, a *agent.Agent, path string) {
	log.Info("reloading configuration", "path", path)
	cfg, err := config.Load(path, config.LoadOptions{Host: localHost{}})
	if cfg != nil {
		for _, w := range cfg.Warnings {
			log.Warn(w.String())
		}
	}
	if err != nil {
		log.Error("configuration not reloaded: keeping the running one", "err", err)
		return
	}
	if err := a.Reload(ctx, cfg); err != nil {
		log.Error("reload incomplete", "err", err)
		return
	}
	log.Info("configuration reloaded")
}
