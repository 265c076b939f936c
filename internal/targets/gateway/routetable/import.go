package routetable

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
)

// ImportedSuffix is appended to routes.json once it has been imported into the store.
const ImportedSuffix = ".imported"

// fileState is routes.json as quench wrote it before the store.
type fileState struct {
	Generation string                          `json:"generation"`
	Version    int64                           `json:"version"`
	UpdatedAt  time.Time                       `json:"updated_at"`
	Routes     map[string]*Route               `json:"routes"`
	Saved      map[string]map[string]fileSaved `json:"saved"`
	Blocks     map[string]map[string]string    `json:"blocks"`
	Ops        map[string]fileOp               `json:"ops"`
}

type fileSaved struct {
	Previous   string    `json:"previous"`
	SwitchedTo string    `json:"switched_to"`
	At         time.Time `json:"at"`
}

type fileOp struct {
	Op     string             `json:"op"`
	Route  string             `json:"route"`
	Result ports.RouteChange  `json:"result"`
	Block  *ports.BlockChange `json:"block,omitempty"`
	At     time.Time          `json:"at"`
}

// importFile moves dir/routes.json into an empty SQLite store, once: the routes with their
// active providers and versions, what old incidents' switches saved, blocked keys and
// the idempotency records of running incidents. The file is then renamed
// routes.json.imported, so a second start does not import it again.
func (t *Table) importFile(ctx context.Context, dir string) error {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if t.db.Dialect != store.SQLite {
		// Never imported into PostgreSQL, whose processes need no data dir at all: one that
		// cannot be read (absent, read-only, not a directory) is not an error.
		if err == nil {
			t.logger.Warn("the old routing table file is not imported into a PostgreSQL store: apply routes with quench setup",
				"file", path, "store", t.db.String())
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the old routing table %s: %w", path, err)
	}
	var st fileState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("the old routing table %s is not valid JSON (%v): fix it, or move it away to start from the configured routes", path, err)
	}
	routes := map[string][]string{}
	for name, r := range st.Routes {
		if r == nil {
			return fmt.Errorf("the old routing table %s: route %q is null: fix it or move the file away", path, name)
		}
		routes[name] = r.Providers
	}
	if err := validateRoutes(routes); err != nil {
		return fmt.Errorf("the old routing table %s: %w: fix it or move the file away", path, err)
	}
	imported := false
	err = t.db.InTx(ctx, func(tx *store.Tx) error {
		var version, n int64
		if err := tx.QueryRow(ctx, `SELECT version, (SELECT COUNT(*) FROM routetable_routes) FROM routetable_meta WHERE id = 1`).Scan(&version, &n); err != nil {
			return err
		}
		if version != 0 || n != 0 {
			return nil // the store has a table already: it wins
		}
		imported = true
		return importState(ctx, tx, &st, t.now())
	})
	if err != nil {
		return fmt.Errorf("import the old routing table %s: %w", path, t.classifyTx(err))
	}
	if !imported {
		t.logger.Warn("the old routing table file is ignored: the store already has a routing table; remove the file",
			"file", path, "store", t.db.String())
		return nil
	}
	if err := os.Rename(path, path+ImportedSuffix); err != nil {
		return fmt.Errorf("imported %s into the store but cannot rename it: %w (rename it yourself, or it is ignored from now on)", path, err)
	}
	t.logger.Info("imported the old routing table file into the store", "file", path, "routes", len(st.Routes),
		"version", st.Version, "store", t.db.String(), "renamed_to", path+ImportedSuffix)
	t.w.notify()
	return nil
}

func importState(ctx context.Context, tx *store.Tx, st *fileState, now time.Time) error {
	gen := st.Generation
	if gen == "" {
		gen = newGeneration()
	}
	// The version only grows: at least one past every route's own.
	version := st.Version
	for _, r := range st.Routes {
		version = max(version, r.Version)
	}
	if _, err := tx.Exec(ctx, `UPDATE routetable_meta SET generation = ?, version = ?, updated_at = ? WHERE id = 1`,
		gen, version, st.UpdatedAt.UnixNano()); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(st.Routes)) {
		r := st.Routes[name]
		provider := r.Provider
		if !slices.Contains(r.Providers, provider) {
			provider = r.Providers[0]
		}
		provs, _ := json.Marshal(r.Providers)
		if _, err := tx.Exec(ctx, `INSERT INTO routetable_routes (name, provider, providers, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)`,
			name, provider, string(provs), r.Version, r.UpdatedAt.UnixNano(), r.UpdatedBy); err != nil {
			return err
		}
	}
	for holder, byRoute := range st.Saved {
		for route, sv := range byRoute {
			if _, err := tx.Exec(ctx, `INSERT INTO routetable_holds (route, holder, legacy, previous, switched_to, at) VALUES (?, ?, 1, ?, ?, ?)`,
				route, holder, sv.Previous, sv.SwitchedTo, sv.At.UnixNano()); err != nil {
				return err
			}
		}
	}
	for route, keys := range st.Blocks {
		for key, holder := range keys {
			if _, err := tx.Exec(ctx, `INSERT INTO routetable_blocks (route, agent_key, holder) VALUES (?, ?, ?)`, route, key, holder); err != nil {
				return err
			}
		}
	}
	cutoff := now.Add(-opRetention)
	for key, op := range st.Ops {
		if op.At.Before(cutoff) {
			continue
		}
		res, err := json.Marshal(opRecord{Result: op.Result, Block: op.Block})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO routetable_ops (op_key, op, route, result, at) VALUES (?, ?, ?, ?, ?)`,
			key, op.Op, op.Route, string(res), op.At.UnixNano()); err != nil {
			return err
		}
	}
	return nil
}
