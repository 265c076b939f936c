package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
)

// ApplyRoutes makes the shared routing table match the configured routes (gateway.routes):
// quench dev at start (it is the only process) and quench setup. Each change is logged by
// the table; a route an open incident holds is kept and reported.
func (a *Adapters) ApplyRoutes(ctx context.Context, cfg *config.Config, by string) (routetable.Changes, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	changes, err := a.Routes.Apply(ctx, cfg.Gateway.Routes, by)
	if err != nil {
		return nil, fmt.Errorf("apply gateway.routes to the routing table in %s: %w", a.Store, err)
	}
	return changes, nil
}

// WarnRouteDrift is what quench worker and quench server do with their configured routes:
// never write them (the table is shared, and the last process to start must not win),
// but say loudly, once per difference, that the table is not what this process was
// configured with.
func (a *Adapters) WarnRouteDrift(ctx context.Context, cfg *config.Config, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	changes, err := a.Routes.Diff(ctx, cfg.Gateway.Routes)
	if err != nil {
		logger.Warn("cannot compare gateway.routes with the shared routing table", "store", a.Store.String(), "err", err)
		return
	}
	for _, c := range changes {
		logger.Warn("gateway.routes differs from the shared routing table: run quench setup to apply",
			"route", c.Route, "change", c.Action, "config", strings.Join(c.Providers, ","), "table", strings.Join(c.Was, ","),
			"held_by", strings.Join(c.HeldBy, ","), "store", a.Store.String())
	}
}
