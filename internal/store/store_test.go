package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var counterSchema = []store.Migration{
	{SQL: `CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)`},
	{SQLite: `ALTER TABLE counters ADD COLUMN blob BLOB`, Postgres: `ALTER TABLE counters ADD COLUMN blob BYTEA`},
}

func TestEnsureAppliesEachMigrationOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for range 2 { // a second start must not re-run a migration (ALTER would fail)
			if err := db.Ensure(ctx, "counters", counterSchema); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(ctx, `INSERT INTO counters (name, n, blob) VALUES (?, ?, ?)`, "a", 1, []byte{0, 1}); err != nil {
			t.Fatal(err)
		}
		err := db.Ensure(ctx, "counters", counterSchema[:1])
		if err == nil || !strings.Contains(err.Error(), "newer quench") {
			t.Fatalf("an older schema list against a newer store: got %v, want a 'newer quench' error", err)
		}
	})
}

func TestInTxSerialisesConcurrentIncrements(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.Ensure(ctx, "counters", counterSchema); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO counters (name, n) VALUES ('c', 0)`); err != nil {
			t.Fatal(err)
		}
		const workers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range each {
					errs <- db.InTx(ctx, func(tx *store.Tx) error {
						var n int
						if err := tx.QueryRow(ctx, `SELECT n FROM counters WHERE name = ?`+tx.ForUpdate(), "c").Scan(&n); err != nil {
							return err
						}
						_, err := tx.Exec(ctx, `UPDATE counters SET n = ? WHERE name = ?`, n+1, "c")
						return err
					})
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT n FROM counters WHERE name = 'c'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != workers*each {
			t.Fatalf("counter = %d after %d increments: a lost update", n, workers*each)
		}
	})
}

func TestInTxKeepsTheCallersError(t *testing.T) {
	db := storetest.SQLite(t)
	mine := errors.New("mine")
	if err := db.InTx(context.Background(), func(*store.Tx) error { return mine }); !errors.Is(err, mine) || store.IsUnavailable(err) {
		t.Fatalf("got %v, want the callback's own error, not marked unavailable", err)
	}
}

func TestUnreachablePostgresIsUnavailableAndNamesTheStore(t *testing.T) {
	db, err := store.OpenPostgres("postgres://quench:s3cret-pw@127.0.0.1:1/quench?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Ping(context.Background())
	if !store.IsUnavailable(err) {
		t.Fatalf("ping of a closed port: got %v, want an UnavailableError", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "PostgreSQL quench@127.0.0.1:1/quench") || strings.Contains(msg, "s3cret-pw") {
		t.Fatalf("message %q must name the store without its password", msg)
	}
}

func TestRebind(t *testing.T) {
	pg := &store.DB{Dialect: store.Postgres}
	if got := pg.Rebind("a = ? AND b = ?"); got != "a = $1 AND b = $2" {
		t.Fatalf("Rebind = %q", got)
	}
	lite := &store.DB{Dialect: store.SQLite}
	if got := lite.Rebind("a = ?"); got != "a = ?" {
		t.Fatalf("SQLite Rebind = %q", got)
	}
}
