package gwstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/quench-dev/quench/internal/store"
)

// ImportedSuffix is appended to a gateway's old state file once it is in the store.
const ImportedSuffix = ".imported"

// importFile moves dir/name (what an older quench kept in the data dir: the states old
// incidents saved and their ops) into an empty SQLite store once, then renames it, so
// those incidents' restores still find their state.
func (r *records) importFile(ctx context.Context, dir, name string) error {
	if dir == "" || name == "" {
		return nil
	}
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the old gateway state %s: %w", path, err)
	}
	if r.db.Dialect != store.SQLite {
		slog.Warn("the old gateway state file is not imported into a PostgreSQL store: incidents started before it that saved a state there restore only on a worker with that file's data dir",
			"file", path, "store", r.db.String())
		return nil
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("gateway state %s is not valid JSON (%v): fix it or move it away (saved pre-incident states in it are lost then)", path, err)
	}
	imported := false
	err = r.db.InTx(ctx, func(tx *store.Tx) error {
		var version, n int64
		if err := tx.QueryRow(ctx, `SELECT version, (SELECT COUNT(*) FROM gwstate_saved WHERE gateway = ?) + (SELECT COUNT(*) FROM gwstate_ops WHERE gateway = ?)
			FROM gwstate_meta WHERE gateway = ?`, r.gateway, r.gateway, r.gateway).Scan(&version, &n); err != nil {
			return err
		}
		if version != 0 || n != 0 {
			return nil
		}
		imported = true
		if _, err := tx.Exec(ctx, `UPDATE gwstate_meta SET version = ? WHERE gateway = ?`, st.Version, r.gateway); err != nil {
			return err
		}
		for holder, routes := range st.Saved {
			for route, sv := range routes {
				body, err := marshal(sv)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO gwstate_saved (gateway, holder, route, body) VALUES (?, ?, ?, ?)`, r.gateway, holder, route, body); err != nil {
					return err
				}
			}
		}
		for key, op := range st.Ops {
			body, err := marshal(op)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO gwstate_ops (gateway, op_key, body, pending, at) VALUES (?, ?, ?, ?, ?)`,
				r.gateway, key, body, boolInt(op.Pending), op.At.UnixNano()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import the old gateway state %s: %w", path, err)
	}
	if !imported {
		slog.Warn("the old gateway state file is ignored: the store already has this gateway's records; remove the file", "file", path, "store", r.db.String())
		return nil
	}
	if err := os.Rename(path, path+ImportedSuffix); err != nil {
		return fmt.Errorf("imported %s into the store but cannot rename it: %w (rename it yourself, or it is ignored from now on)", path, err)
	}
	slog.Info("imported the old gateway state file into the store", "file", path, "store", r.db.String(), "renamed_to", path+ImportedSuffix)
	return nil
}
