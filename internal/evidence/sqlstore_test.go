package evidence

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestDBPutGetVerifies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := OpenDB(db)
		ctx := context.Background()
		data := []byte(`{"headline":{"requests":3}}`)
		ref, err := s.Put(ctx, "inc-a-1234", "evidence", data)
		if err != nil {
			t.Fatal(err)
		}
		if ref.SHA256 != digestOf(data) || ref.Bytes != int64(len(data)) || ref.Name != "evidence" || ref.URI != "quench:evidence/inc-a-1234/evidence" {
			t.Fatalf("ref = %+v", ref)
		}
		got, back, ok, err := s.Get(ctx, "inc-a-1234", "evidence")
		if err != nil || !ok || string(back) != string(data) || got != ref {
			t.Fatalf("get = %+v %q %v %v, want %+v", got, back, ok, err, ref)
		}
		if read, err := s.ReadRef(ctx, ref); err != nil || string(read) != string(data) {
			t.Fatalf("ReadRef = %q, %v", read, err)
		}
		if _, _, ok, err := s.Get(ctx, "inc-a-1234", "none"); ok || err != nil {
			t.Fatalf("get of a missing bundle: ok=%v err=%v", ok, err)
		}
		if _, err := s.Read(ctx, StoreURI("inc-a-1234", "none")); err == nil || !ports.IsPermanent(err) {
			t.Fatalf("read of a missing bundle: %v", err)
		}
		// The recorded digest is checked too: a ref that disagrees with the row is caught.
		forged := ref
		forged.SHA256 = digestOf([]byte("other"))
		if _, err := s.ReadRef(ctx, forged); err == nil || !strings.Contains(err.Error(), "changed after capture") {
			t.Fatalf("ReadRef with another recorded digest: %v", err)
		}
	})
}

func TestDBPutIsIdempotentAndImmutable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := OpenDB(db)
		ctx := context.Background()
		first, err := s.Put(ctx, "inc", "snap", []byte("one"))
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Put(ctx, "inc", "snap", []byte("one")) // a retried activity
		if err != nil || again != first {
			t.Fatalf("second put of the same bytes = %+v, %v; want %+v", again, err, first)
		}
		_, err = s.Put(ctx, "inc", "snap", []byte("two"))
		if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "immutable") {
			t.Fatalf("overwrite err = %v, want a permanent 'immutable' error", err)
		}
		if data, err := s.Read(ctx, first.URI); err != nil || string(data) != "one" {
			t.Fatalf("after the refused overwrite: %q, %v", data, err)
		}
	})
}

func TestDBMaxBytesAndNames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := OpenDB(db, WithMaxBytes(8))
		ctx := context.Background()
		_, err := s.Put(ctx, "inc", "big", []byte("123456789"))
		if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "over the store's limit") {
			t.Fatalf("err = %v, want a permanent size error", err)
		}
		if _, err := s.Put(ctx, "inc", "fits", []byte("12345678")); err != nil {
			t.Fatalf("8 bytes with an 8 byte limit: %v", err)
		}
		for _, c := range []struct{ incident, name string }{
			{"../etc", "x"}, {"inc", "../../x"}, {"inc/sub", "x"}, {"", "x"}, {"inc", ""}, {".hidden", "x"}, {"inc", "a..b"},
		} {
			if _, err := s.Put(ctx, c.incident, c.name, []byte("x")); err == nil || !ports.IsPermanent(err) {
				t.Errorf("Put(%q, %q) err = %v, want a permanent error", c.incident, c.name, err)
			}
			if _, _, _, err := s.Get(ctx, c.incident, c.name); err == nil || !ports.IsPermanent(err) {
				t.Errorf("Get(%q, %q) err = %v, want a permanent error", c.incident, c.name, err)
			}
		}
		for _, uri := range []string{"https://example.com/x.json", "quench:evidence/inc", "quench:evidence/../x/y", "::"} {
			if _, err := s.Read(ctx, uri); err == nil {
				t.Errorf("Read(%q) succeeded, want refusal", uri)
			}
		}
	})
}

func TestDBDetectsATamperedRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := OpenDB(db)
		ctx := context.Background()
		ref, err := s.Put(ctx, "inc", "snap", []byte(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE evidence_bundles SET data = ? WHERE incident = ? AND name = ?`, []byte(`{"a":2}`), "inc", "snap"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := s.Get(ctx, "inc", "snap"); err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "does not match its digest") {
			t.Fatalf("get of a changed row: %v", err)
		}
		// Bytes and digest replaced together: only the incident's record notices.
		forged := []byte(`{"a":3}`)
		if _, err := db.Exec(ctx, `UPDATE evidence_bundles SET data = ?, sha256 = ? WHERE incident = ? AND name = ?`, forged, digestOf(forged), "inc", "snap"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ReadRef(ctx, ref); err == nil || !strings.Contains(err.Error(), "changed after capture") {
			t.Fatalf("ReadRef of a forged row: %v", err)
		}
	})
}

// TestDBAnotherProcessReadsIt: a second store over the same database (another worker or
// server) sees what the first wrote, and agrees on immutability.
func TestDBAnotherProcessReadsIt(t *testing.T) {
	open := map[string]func(t *testing.T) (*store.DB, *store.DB){
		"sqlite": func(t *testing.T) (*store.DB, *store.DB) {
			path := filepath.Join(t.TempDir(), store.SQLiteFile)
			return mustOpen(t, func() (*store.DB, error) { return store.OpenSQLite(path) }), mustOpen(t, func() (*store.DB, error) { return store.OpenSQLite(path) })
		},
		"postgres": func(t *testing.T) (*store.DB, *store.DB) {
			dsn := storetest.NewDatabase(t)
			return mustOpen(t, func() (*store.DB, error) { return store.OpenPostgres(dsn) }), mustOpen(t, func() (*store.DB, error) { return store.OpenPostgres(dsn) })
		},
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			one, two := open[engine](t)
			ctx := context.Background()
			ref, err := OpenDB(one).Put(ctx, "inc-x", "evidence", []byte("captured on worker one"))
			if err != nil {
				t.Fatal(err)
			}
			other := OpenDB(two)
			data, err := other.ReadRef(ctx, ref)
			if err != nil || string(data) != "captured on worker one" {
				t.Fatalf("the other process read %q, %v", data, err)
			}
			if again, err := other.Put(ctx, "inc-x", "evidence", []byte("captured on worker one")); err != nil || again != ref {
				t.Fatalf("a retry on the other process: %+v, %v", again, err)
			}
			if _, err := other.Put(ctx, "inc-x", "evidence", []byte("something else")); !ports.IsPermanent(err) {
				t.Fatalf("other bytes from the other process: %v, want refused", err)
			}
		})
	}
}

func mustOpen(t *testing.T, open func() (*store.DB, error)) *store.DB {
	t.Helper()
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestDBStoreDown: a PostgreSQL that cannot be reached is a retryable error naming the
// store, for Put and Get alike; never a permanent one.
func TestDBStoreDown(t *testing.T) {
	db := mustOpen(t, func() (*store.DB, error) {
		return store.OpenPostgres("postgres://quench@127.0.0.1:1/quench?sslmode=disable&connect_timeout=5")
	})
	s := OpenDB(db)
	ctx := context.Background()
	_, err := s.Put(ctx, "inc", "snap", []byte("x"))
	if !store.IsUnavailable(err) || ports.IsPermanent(err) || !strings.Contains(err.Error(), "PostgreSQL quench@127.0.0.1:1/quench") {
		t.Fatalf("put with the store down: %v, want a retryable unavailable error naming it", err)
	}
	if _, _, _, err := s.Get(ctx, "inc", "snap"); !store.IsUnavailable(err) || ports.IsPermanent(err) {
		t.Fatalf("get with the store down: %v", err)
	}
}

// TestParseURI: both stores' references name incident and bundle, so any process can find
// them, old file:// references of the directory store included.
func TestParseURI(t *testing.T) {
	for uri, want := range map[string]string{
		"quench:evidence/inc-a-1/evidence":                      "inc-a-1/evidence",
		"file:///var/lib/quench/evidence/inc-a-1/evidence.json": "inc-a-1/evidence",
	} {
		inc, name, err := ParseURI(uri)
		if err != nil || inc+"/"+name != want {
			t.Errorf("ParseURI(%q) = %s/%s, %v; want %s", uri, inc, name, err, want)
		}
	}
	for _, uri := range []string{"", "quench:evidence/a/b/c", "file:///x.json", "file:///a/../b.json", "quench:other/a/b"} {
		if _, _, err := ParseURI(uri); err == nil {
			t.Errorf("ParseURI(%q) accepted", uri)
		}
	}
}
