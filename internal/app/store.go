package app

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/store"
)

// OpenStore opens the store the config names: PostgreSQL (store.kind: postgres), or the
// SQLite file in the data dir. A PostgreSQL that is down does not stop the open: each
// component's Ensure (and /readyz) reports it, naming the store.
func OpenStore(cfg *config.Config) (*store.DB, error) {
	if cfg.Store.Kind == config.StorePostgres {
		dsn, err := config.Secret(cfg.Store.Postgres.DSN)
		if err != nil {
			return nil, fmt.Errorf("store.postgres.dsn: %w", err)
		}
		return store.OpenPostgres(dsn)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: create the data dir %s: %w (check --data-dir is writable)", cfg.DataDir, err)
	}
	db, err := store.OpenSQLite(filepath.Join(cfg.DataDir, store.SQLiteFile))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return db, nil
}

// UsesDataDir reports whether the process keeps state in its data dir: the SQLite store
// lives there. With the store in PostgreSQL, worker and server need no data dir at all.
func UsesDataDir(cfg *config.Config) bool { return !cfg.Store.Shared() }
