package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/quench-dev/quench/internal/app"
	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/datadir"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/targets/gateway/routetable"
	"github.com/quench-dev/quench/internal/temporalsetup"
)

// applyRoutes applies gateway.routes to the shared routing table in the store (with
// dryRun, only compares) and adds a line per route to the report. Workers and servers
// never write routes: this, and quench dev for itself, are where they change.
func applyRoutes(ctx context.Context, cfg *config.Config, rep *temporalsetup.Report, dryRun bool) error {
	routes := cfg.Gateway.Routes
	if !cfg.Store.Shared() {
		if dryRun {
			if _, err := os.Stat(filepath.Join(cfg.DataDir, store.SQLiteFile)); errors.Is(err, fs.ErrNotExist) {
				// No store yet: every route is missing, and a dry run creates nothing.
				var changes routetable.Changes
				for name, providers := range routes {
					changes = append(changes, routetable.Change{Route: name, Action: routetable.Added, Providers: providers, Provider: providers[0]})
				}
				temporalsetup.AddRoutes(rep, routes, changes, true)
				markNotReady(rep)
				return nil
			}
		}
		// The SQLite store is in the data dir, which a running quench dev owns.
		lock, err := datadir.AcquireShared(cfg.DataDir, "quench setup")
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	db, err := app.OpenStore(cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// The report says every change; the table's own log lines would repeat it.
	opts := []routetable.Option{routetable.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if !dryRun {
		opts = append(opts, routetable.WithImport(cfg.DataDir))
	}
	table, err := routetable.Open(ctx, db, opts...)
	if err != nil {
		return fmt.Errorf("routing table in %s: %w", db, err)
	}
	var changes routetable.Changes
	if dryRun {
		changes, err = table.Diff(ctx, routes)
	} else {
		changes, err = table.Apply(ctx, routes, "quench setup")
	}
	if err != nil {
		return fmt.Errorf("apply gateway.routes to the routing table in %s: %w", db, err)
	}
	temporalsetup.AddRoutes(rep, routes, changes, dryRun)
	if dryRun && changes.Applied() {
		markNotReady(rep)
	}
	return nil
}

func markNotReady(rep *temporalsetup.Report) { rep.Ready = false }
