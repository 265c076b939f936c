package store

import (
	"context"
	"fmt"
)

// Migration is one step of a component's schema. SQL runs on both engines unless the
// dialect-specific statement is set.
type Migration struct {
	SQL      string
	SQLite   string // when set, runs instead of SQL on SQLite
	Postgres string // when set, runs instead of SQL on PostgreSQL
}

func (m Migration) statement(d Dialect) string {
	switch {
	case d == SQLite && m.SQLite != "":
		return m.SQLite
	case d == Postgres && m.Postgres != "":
		return m.Postgres
	}
	return m.SQL
}

// Ensure brings component's tables up to date: the migrations are applied in order, each
// once, and a component's version is recorded in quench_schema. Every process calls it at
// start; concurrent callers serialise on the component's row, so a migration never runs
// twice. Migrations are append-only: never edit one that has shipped.
func (db *DB) Ensure(ctx context.Context, component string, migrations []Migration) error {
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS quench_schema (
		component TEXT PRIMARY KEY,
		version   BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("prepare the store's schema table: %w", err)
	}
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO quench_schema (component, version) VALUES (?, 0) ON CONFLICT (component) DO NOTHING`, component); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT version FROM quench_schema WHERE component = ?`+tx.ForUpdate(), component).Scan(&have); err != nil {
			return err
		}
		if have > len(migrations) {
			return fmt.Errorf("the store's %s schema is at version %d but this quench knows only %d: a newer quench has used this store; upgrade this one", component, have, len(migrations))
		}
		for i := have; i < len(migrations); i++ {
			if _, err := tx.Exec(ctx, migrations[i].statement(db.Dialect)); err != nil {
				return fmt.Errorf("store schema %s, migration %d: %w", component, i+1, err)
			}
		}
		if have < len(migrations) {
			if _, err := tx.Exec(ctx, `UPDATE quench_schema SET version = ? WHERE component = ?`, len(migrations), component); err != nil {
				return err
			}
		}
		return nil
	})
}
