package langfuse

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/traffic/langfuse/langfusefake"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// twoHandles opens the same database twice, as two quench processes do.
func twoHandles(t *testing.T, engine string) (*store.DB, *store.DB) {
	t.Helper()
	open := func(fn func() (*store.DB, error)) *store.DB {
		db, err := fn()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	if engine == "sqlite" {
		path := filepath.Join(t.TempDir(), store.SQLiteFile)
		return open(func() (*store.DB, error) { return store.OpenSQLite(path) }), open(func() (*store.DB, error) { return store.OpenSQLite(path) })
	}
	dsn := storetest.NewDatabase(t)
	return open(func() (*store.DB, error) { return store.OpenPostgres(dsn) }), open(func() (*store.DB, error) { return store.OpenPostgres(dsn) })
}

// another is a second adapter (another process) over the same Langfuse, with its pins in db.
func (f *fixture) another(t *testing.T, db *store.DB) *Adapter {
	t.Helper()
	a, err := New(Options{URL: f.lf.URL, PublicKey: pk, SecretKey: sk, Store: db, WebhookSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func postHook(h http.Handler) *httptest.ResponseRecorder {
	body := []byte(`{"type":"prompt-version","action":"updated","prompt":{"name":"summarise","version":1,"labels":["production"]}}`)
	req := httptest.NewRequest(http.MethodPost, "/hooks/langfuse", bytes.NewReader(body))
	req.Header.Set(SignatureHeader, langfusefake.Sign(secret, body, time.Now()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestPinsAreSharedBetweenProcesses: the worker pins, the server's webhook (another
// process, another data dir) moves the label back to that pin, and a release by either is
// seen by both.
func TestPinsAreSharedBetweenProcesses(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			workerDB, serverDB := twoHandles(t, engine)
			f := setupIn(t, workerDB)
			server := f.another(t, serverDB)
			ctx := context.Background()
			if _, err := f.a.EnforceFreeze(ctx, ports.FreezeEnforcement{Scope: "prompts", Frozen: true, Holders: []string{"inc-1"}}); err != nil {
				t.Fatal(err)
			}
			if pins, err := server.Pinned(ctx, "prompts"); err != nil || pins["summarise"] != 3 || pins["triage"] != 2 {
				t.Fatalf("the server sees pins %v, %v; want the worker's", pins, err)
			}
			f.lf.MoveLabel("summarise", 1, "production")
			if rec := postHook(server.WebhookHandler(frozen("inc-1"))); rec.Code != http.StatusOK {
				t.Fatalf("webhook on the server: %d %s", rec.Code, rec.Body)
			}
			if v := f.lf.LabelledVersion("summarise", "production"); v != 3 {
				t.Fatalf("summarise production on v%d after the server's webhook, want the worker's pin v3", v)
			}
			if _, err := server.EnforceFreeze(ctx, ports.FreezeEnforcement{Scope: "prompts"}); err != nil {
				t.Fatal(err)
			}
			if pins, err := f.a.Pinned(ctx, "prompts"); err != nil || len(pins) != 0 {
				t.Fatalf("the worker still sees pins %v, %v after the release", pins, err)
			}
		})
	}
}

// TestPinsStoreDown: with the store unreachable, enforcement fails retryably naming it,
// the webhook answers 503 with Retry-After, and no label moves.
func TestPinsStoreDown(t *testing.T) {
	down, err := store.OpenPostgres("postgres://quench@127.0.0.1:1/quench?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	f := setup(t)
	a := f.another(t, down)
	_, err = a.EnforceFreeze(context.Background(), ports.FreezeEnforcement{Scope: "prompts", Frozen: true})
	if !store.IsUnavailable(err) || ports.IsPermanent(err) || !strings.Contains(err.Error(), "PostgreSQL quench@127.0.0.1:1/quench") {
		t.Fatalf("enforce with the store down: %v, want a retryable error naming the store", err)
	}
	f.lf.MoveLabel("summarise", 1, "production")
	rec := postHook(a.WebhookHandler(frozen("inc-1")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.Contains(rec.Body.String(), "PostgreSQL quench@127.0.0.1:1/quench") || !strings.Contains(rec.Body.String(), "deliver again") {
		t.Fatalf("webhook with the store down: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if n := f.lf.Count("PATCH", ""); n != 0 {
		t.Fatalf("%d label moves with the store down", n)
	}
}

// TestPinLeaseSerialisesEnforcement: while one process holds a scope's lease another waits
// (here: not at all) and answers retryably; a lease that ran out is taken over, and the
// holder that outlasted it does not write.
func TestPinLeaseSerialisesEnforcement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setupIn(t, db)
		other := f.another(t, db)
		ctx := context.Background()
		frozenState := ports.FreezeEnforcement{Scope: "prompts", Frozen: true}
		f.a.pins.wait = 0

		if err := other.pins.update(ctx, "prompts", func(map[string]pin) error {
			_, err := f.a.EnforceFreeze(ctx, frozenState)
			if !errors.Is(err, errPinsBusy) || ports.IsPermanent(err) {
				t.Errorf("enforce while another holds the lease: %v, want a retryable busy error", err)
			}
			if rec := postHook(f.a.WebhookHandler(frozen("inc-1"))); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
				t.Errorf("webhook while another holds the lease: %d %s", rec.Code, rec.Body)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.a.EnforceFreeze(ctx, frozenState); err != nil {
			t.Fatalf("enforce after the lease was released: %v", err)
		}

		// The other holds it past its lease: this one takes over, and the other's write is refused.
		err := other.pins.update(ctx, "prompts", func(pins map[string]pin) error {
			f.a.now = func() time.Time { return time.Now().Add(pinLease + time.Minute) }
			if _, err := f.a.EnforceFreeze(ctx, frozenState); err != nil {
				t.Errorf("enforce after the other's lease ran out: %v", err)
			}
			pins["summarise"] = pin{Version: 1}
			return nil
		})
		if !errors.Is(err, errPinsBusy) {
			t.Fatalf("a holder that outlasted its lease wrote: %v", err)
		}
		if pins, _ := f.a.Pinned(ctx, "prompts"); pins["summarise"] != 3 {
			t.Fatalf("pins %v: the stale holder's write went through", pins)
		}
	})
}

// TestPinsFileIsImported: the pins an older quench kept in the data dir survive the upgrade.
func TestPinsFileIsImported(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PinsFile), []byte(`{"prompts":{"summarise":{"version":2,"at":"2026-01-02T03:04:05Z"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	lf := langfusefake.New(pk, sk)
	t.Cleanup(lf.Close)
	a, err := New(Options{URL: lf.URL, PublicKey: pk, SecretKey: sk, Store: storetest.SQLite(t), StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if pins, err := a.Pinned(context.Background(), "prompts"); err != nil || pins["summarise"] != 2 {
		t.Fatalf("pins %v, %v; want summarise@2 from the old file", pins, err)
	}
	if _, err := os.Stat(filepath.Join(dir, PinsFile+".imported")); err != nil {
		t.Fatalf("the old file was not set aside: %v", err)
	}
	if _, err := New(Options{URL: lf.URL, PublicKey: pk, SecretKey: sk}); err == nil || !strings.Contains(err.Error(), "store") {
		t.Fatalf("no store: %v", err)
	}
}
