package app

import (
	"path/filepath"

	"github.com/quench-dev/quench/internal/config"
	"github.com/quench-dev/quench/internal/evidence"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// openEvidence picks the evidence store: with a PostgreSQL store every replica reaches
// the bundles as rows of it; otherwise they stay files under <data-dir>/evidence, readable
// with sha256sum, as quench dev has always kept them (and old file:// references with them).
func openEvidence(cfg *config.Config, db *store.DB) (ports.EvidenceStore, error) {
	if cfg.Store.Kind == config.StorePostgres {
		return evidence.OpenDB(db), nil
	}
	return evidence.Open(filepath.Join(cfg.DataDir, "evidence"))
}
