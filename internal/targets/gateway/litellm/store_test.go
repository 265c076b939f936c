package litellm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
	"github.com/quench-dev/quench/internal/targets/gateway/gwstate"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func onStore(t *testing.T, url string, db *store.DB, dir string) *gwstate.Gateway {
	t.Helper()
	g, err := New(Options{URL: url, MasterKey: key, Routes: map[string]string{"chat": "chat-model"}, Store: db, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// An old incident's switch (its state not in history) saved the state in the store, so its
// restore works on another worker, and a retried switch on a third writes nothing.
func TestSavedStateIsSharedByWorkersOnOneStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s := proxy(t)
		a, b, c := onStore(t, s.URL, db, ""), onStore(t, s.URL, db, ""), onStore(t, s.URL, db, "")
		ctx := context.Background()
		before := s.State()
		req := ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-1", Key: "inc-1/failover"}
		ch, err := a.Switch(ctx, req)
		if err != nil || ch.To != "anthropic" {
			t.Fatalf("switch: %+v %v", ch, err)
		}
		writes := s.Count("POST", "/model/")
		if again, err := c.Switch(ctx, req); err != nil || again != ch {
			t.Fatalf("retry on another worker: %+v %v, want %+v", again, err, ch)
		}
		if n := s.Count("POST", "/model/"); n != writes {
			t.Fatalf("the retry on another worker wrote %d more times", n-writes)
		}
		back, err := b.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "inc-1/failover/undo"})
		if err != nil || back.NoOp || back.To != "openai" {
			t.Fatalf("restore on another worker: %+v %v", back, err)
		}
		if !bytes.Equal(s.State(), before) {
			t.Fatal("the restore on another worker did not put the proxy back byte for byte")
		}
	})
}

// The file an older quench kept in the data dir is imported into an empty SQLite
// store: the incident that saved a state there restores it.
func TestOldStateFileIsImported(t *testing.T) {
	s := proxy(t)
	ctx := context.Background()
	dir := t.TempDir()
	old := onStore(t, s.URL, storetest.SQLite(t), "")
	before := s.State()
	if _, err := old.Switch(ctx, ports.SwitchRequest{Route: "chat", To: "fallback", Holder: "inc-old", Key: "inc-old/failover"}); err != nil {
		t.Fatal(err)
	}
	sv, ok, err := old.Saved("inc-old", "chat")
	if err != nil || !ok {
		t.Fatalf("saved: %v %v", ok, err)
	}
	file := `{"version": 1, "saved": {"inc-old": {"chat": {"state": ` + string(sv.State) + `, "provider": "openai", "switched_to": "anthropic", "at": "2026-01-01T00:00:00Z"}}}}`
	path := filepath.Join(dir, StateFile)
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	g := onStore(t, s.URL, db, dir)
	if _, err := os.Stat(path + gwstate.ImportedSuffix); err != nil {
		t.Fatalf("not renamed after the import: %v", err)
	}
	back, err := g.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-old", Key: "inc-old/failover/undo"})
	if err != nil || back.NoOp || back.To != "openai" || !bytes.Equal(s.State(), before) {
		t.Fatalf("restore from the imported state: %+v %v", back, err)
	}
}
