package routetable

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

// A switch retried on another worker (another Table on the same store) returns the first
// result and changes nothing twice, with or without the previous state in the request.
func TestRetryOnAnotherWorkerReturnsTheFirstResult(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a := openTable(t, db, testRoutes)
		b := openTable(t, db, testRoutes)
		first, err := a.Switch(ctx, sw("chat", "fallback", "inc-1", "inc-1/failover"))
		if err != nil {
			t.Fatal(err)
		}
		v := version(t, a)
		again, err := b.Switch(ctx, sw("chat", "fallback", "inc-1", "inc-1/failover"))
		if err != nil || again != first {
			t.Fatalf("retry on b = %+v (%v), want %+v", again, err, first)
		}
		prev := &ports.RouteState{Provider: "cohere"}
		req := sw("search", "fallback", "inc-1", "inc-1/search")
		req.Previous = prev
		sfirst, err := b.Switch(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := a.Switch(ctx, req); err != nil || again != sfirst {
			t.Fatalf("retry on a = %+v (%v), want %+v", again, err, sfirst)
		}
		if got := version(t, b); got != v+1 {
			t.Fatalf("version %d → %d: want one change for two switches retried once each", v, got)
		}
		if p := provider(t, a, "chat"); p != "anthropic" {
			t.Fatalf("chat on %s: a retried fallback moved it on", p)
		}
		// The same key for another operation, on another worker: a caller bug.
		_, err = b.Restore(ctx, rs("chat", "inc-1", "inc-1/failover"))
		if !ports.IsPermanent(err) || !strings.Contains(err.Error(), "idempotency key inc-1/failover was already used to switch route chat, not to restore route chat") {
			t.Fatalf("restore with a switch's key: %v", err)
		}
	})
}

// Many goroutines switching different routes at once (the 500-outage burst, scaled down):
// every switch lands, each with its own version, and the table version counts them all.
func TestConcurrentSwitchesOfDifferentRoutesAllLand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 40
		routes := map[string][]string{}
		for i := range n {
			routes[fmt.Sprintf("r%02d", i)] = []string{"primary", "backup"}
		}
		tables := []*Table{openTable(t, db, routes), openTable(t, db, routes)}
		v0 := version(t, tables[0])
		results := make([]ports.RouteChange, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := sw(fmt.Sprintf("r%02d", i), "fallback", fmt.Sprintf("inc-%d", i), fmt.Sprintf("inc-%d/failover", i))
				req.Previous = &ports.RouteState{Provider: "primary"}
				results[i], errs[i] = tables[i%2].Switch(ctx, req)
			}()
		}
		wg.Wait()
		seen := map[int64]bool{}
		for i, r := range results {
			if errs[i] != nil || r.NoOp || r.To != "backup" {
				t.Fatalf("switch %d: %+v %v", i, r, errs[i])
			}
			if seen[r.Version] {
				t.Fatalf("version %d given to two switches", r.Version)
			}
			seen[r.Version] = true
		}
		all, v, err := tables[1].Routes()
		if err != nil {
			t.Fatal(err)
		}
		if v != v0+n {
			t.Fatalf("table version %d → %d, want +%d", v0, v, n)
		}
		for _, r := range all {
			if r.Provider != "backup" {
				t.Fatalf("route %s on %s", r.Route, r.Provider)
			}
		}
	})
}

// A configuration change never drops a route an open incident holds, nor moves it off
// its provider; once the incident restores the route, the change applies.
func TestApplyNeverDropsAHeldRoute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tbl := openTable(t, db, testRoutes)
		prev := &ports.RouteState{Provider: "openai"}
		req := sw("chat", "fallback", "inc-1", "inc-1/failover")
		req.Previous = prev
		if _, err := tbl.Switch(ctx, req); err != nil {
			t.Fatal(err)
		}
		if _, err := tbl.Block(ctx, blk("search", "agent-7", "inc-2", "inc-2/block")); err != nil {
			t.Fatal(err)
		}
		v := version(t, tbl)
		other := openTable(t, db, testRoutes) // another process
		for _, cfg := range []map[string][]string{
			{"voice": {"eleven"}},                             // drops both
			{"chat": {"anthropic", "local"}, "search": {"x"}}, // drops chat's previous provider
			{"chat": {"openai", "local"}, "search": {"x"}},    // drops chat's active provider
		} {
			diff, err := other.Diff(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			changes, err := other.Apply(ctx, cfg, "quench setup")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(diff, changes, func(a, b Change) bool { return a.String() == b.String() }) {
				t.Fatalf("Diff said %v, Apply did %v", diff, changes)
			}
			kept := map[string]string{}
			for _, c := range changes {
				if c.Action == Kept {
					kept[c.Route] = strings.Join(c.HeldBy, ",")
				}
			}
			if kept["chat"] != "inc-1" {
				t.Fatalf("config %v: changes %v; want chat kept for inc-1", cfg, changes)
			}
			if _, ok := cfg["search"]; !ok && kept["search"] != "inc-2" {
				t.Fatalf("config %v: changes %v; want search kept for inc-2's block", cfg, changes)
			}
		}
		if p := provider(t, tbl, "chat"); p != "anthropic" {
			t.Fatalf("held chat moved to %s", p)
		}
		if r, _, _ := tbl.Route("chat"); !slices.Equal(r.Providers, []string{"openai", "anthropic", "local"}) {
			t.Fatalf("held chat's providers changed to %v", r.Providers)
		}
		if got := version(t, tbl); got <= v {
			t.Fatal("the unheld changes (voice added, search's providers) did not apply")
		}
		// Providers that keep both the active and the previous one apply to a held route.
		if ch, err := other.Apply(ctx, map[string][]string{"chat": {"openai", "anthropic"}, "search": {"cohere", "openai"}}, "quench setup"); err != nil ||
			len(ch) != 1 || ch[0].Action != Updated || ch[0].Route != "chat" {
			t.Fatalf("compatible update of a held route: %v %v", ch, err)
		}
		// The incident restores chat and ends its hold: the route can go now.
		restore := ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "inc-1/failback", Previous: prev, SwitchedTo: "anthropic"}
		if _, err := tbl.Restore(ctx, restore); err != nil {
			t.Fatal(err)
		}
		ch, err := other.Apply(ctx, map[string][]string{"search": {"cohere", "openai"}}, "quench setup")
		if err != nil || len(ch) != 1 || ch[0].Action != Removed || ch[0].Route != "chat" {
			t.Fatalf("after the restore: %v %v", ch, err)
		}
	})
}

// An empty store takes the routes of an old routes.json once, with the active providers,
// what old incidents' switches saved, blocked keys and the records of their steps; the
// file is renamed and a second open imports nothing.
func TestImportRoutesJSONOnce(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)
	at := now.Add(-time.Hour).Format(time.RFC3339)
	old := `{
  "generation": "0ld9e4e1",
  "version": 9,
  "updated_at": "` + at + `",
  "routes": {
    "chat": {"route": "chat", "provider": "anthropic", "providers": ["openai", "anthropic"], "version": 8, "updated_at": "` + at + `", "updated_by": "inc-old"},
    "search": {"route": "search", "provider": "cohere", "providers": ["cohere", "openai"], "version": 9, "updated_at": "` + at + `", "blocked_keys": ["agent-7"]}
  },
  "saved": {"inc-old": {"chat": {"previous": "openai", "switched_to": "anthropic", "at": "` + at + `"}}},
  "blocks": {"search": {"agent-7": "inc-b"}},
  "ops": {"inc-old/failover": {"op": "switch", "route": "chat", "result": {"route": "chat", "from": "openai", "to": "anthropic", "version": 8, "at": "` + at + `"}, "at": "` + at + `"}}
}`
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	ctx := context.Background()
	tbl, err := Open(ctx, db, WithImport(dir), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("routes.json still there after the import: %v", err)
	}
	if _, err := os.Stat(path + ImportedSuffix); err != nil {
		t.Fatalf("no routes.json.imported: %v", err)
	}
	routes, v, err := tbl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	if v != 9 || len(routes) != 2 || routes[0].Provider != "anthropic" || !slices.Equal(routes[1].BlockedKeys, []string{"agent-7"}) {
		t.Fatalf("imported version %d routes %+v", v, routes)
	}
	rec := get(t, tbl.Handler(), "/v1/routes", "")
	if tag := rec.Header().Get("ETag"); tag != `"0ld9e4e1-9"` {
		t.Fatalf("ETag %s: an app's cached tag of the file's table must stay valid", tag)
	}
	// The running old incident's retried step finds its first result...
	again, err := tbl.Switch(ctx, sw("chat", "fallback", "inc-old", "inc-old/failover"))
	if err != nil || again.From != "openai" || again.To != "anthropic" || again.Version != 8 {
		t.Fatalf("retried step after the import: %+v %v", again, err)
	}
	// ...its undo (no state in history) the provider its switch saved...
	back, err := tbl.Restore(ctx, rs("chat", "inc-old", "inc-old/failover/undo"))
	if err != nil || back.To != "openai" || back.NoOp {
		t.Fatalf("legacy restore after the import: %+v %v", back, err)
	}
	// ...and the block its owner.
	if un, err := tbl.Unblock(ctx, blk("search", "agent-7", "inc-b", "inc-b/undo")); err != nil || un.NoOp {
		t.Fatalf("unblock after the import: %+v %v", un, err)
	}
	// A second open (the file back, as if the rename had been undone) keeps the store.
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	reopened, err := Open(ctx, db, WithImport(dir), WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if p := provider(t, reopened, "chat"); p != "openai" {
		t.Fatalf("a second import overwrote the store: chat on %s", p)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("a file that was not imported must stay where it is")
	}
}

func TestImportRefusesACorruptFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), storetest.SQLite(t), WithImport(dir), WithLogger(quiet))
	if err == nil || !strings.Contains(err.Error(), "not valid JSON") || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("open with a corrupt routes.json: %v", err)
	}
}

// A long-poll waiting on the current ETag returns when another Table (another process)
// changes the route, with the new state.
func TestLongPollReturnsOnAChangeByAnotherTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		server := openTable(t, db, testRoutes)
		worker := openTable(t, db, testRoutes)
		h := server.Handler()
		for _, path := range []string{"/v1/routes", "/v1/routes/chat"} {
			etag := get(t, h, path, "").Header().Get("ETag")
			type answer struct {
				code int
				body string
				etag string
			}
			done := make(chan answer, 1)
			go func() {
				rec := get(t, h, path+"?wait=60s", etag)
				done <- answer{rec.Code, rec.Body.String(), rec.Header().Get("ETag")}
			}()
			// The request is held: wait until it is waiting on the store, then change it.
			waitForWaiters(t, server)
			key := "k" + path
			if _, err := worker.Switch(ctx, sw("chat", "fallback", "inc-"+path, key)); err != nil {
				t.Fatal(err)
			}
			a := <-done
			if a.code != http.StatusOK || a.etag == etag || !strings.Contains(a.body, `"provider":"anthropic"`) {
				t.Fatalf("%s long-poll: %d etag %s (was %s) %s", path, a.code, a.etag, etag, a.body)
			}
			if _, err := worker.Restore(ctx, rs("chat", "inc-"+path, key+"/undo")); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func waitForWaiters(t *testing.T, tbl *Table) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		tbl.w.mu.Lock()
		n := tbl.w.waiters
		tbl.w.mu.Unlock()
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the long-poll never started waiting")
}

func TestLongPollEndsWith304AndRefusesBadWaits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		h := tbl.Handler()
		etag := get(t, h, "/v1/routes", "").Header().Get("ETag")
		if rec := get(t, h, "/v1/routes?wait=1ms", etag); rec.Code != http.StatusNotModified || rec.Header().Get("ETag") != etag {
			t.Fatalf("long-poll with nothing changing: %d %q", rec.Code, rec.Header().Get("ETag"))
		}
		// A stale ETag answers at once.
		if rec := get(t, h, "/v1/routes?wait=60s", `"old-1"`); rec.Code != http.StatusOK {
			t.Fatalf("long-poll with a stale etag: %d", rec.Code)
		}
		for _, bad := range []string{"soon", "-5s", "9999999999"} {
			rec := get(t, h, "/v1/routes?wait="+bad, etag)
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusBadRequest || !strings.Contains(body["error"], "wait=") {
				t.Fatalf("wait=%s: %d %s", bad, rec.Code, rec.Body)
			}
		}
		// Closing the table (server shutdown) ends a waiting request with 304.
		done := make(chan int, 1)
		go func() { done <- get(t, h, "/v1/routes?wait=60s", etag).Code }()
		waitForWaiters(t, tbl)
		tbl.Close()
		if code := <-done; code != http.StatusNotModified {
			t.Fatalf("long-poll at shutdown: %d", code)
		}
	})
}

// A store that is down: the API answers 503 with Retry-After naming the store, and a
// switch fails retryably (never permanent), naming it too.
func TestStoreDownIs503AndRetryable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		h := tbl.Handler()
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{"/v1/routes", "/v1/routes/chat"} {
			rec := get(t, h, path, "")
			var body map[string]string
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(body["error"], db.String()) {
				t.Fatalf("%s with the store closed: %d Retry-After %q %s", path, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
		}
		_, err := tbl.Switch(context.Background(), sw("chat", "fallback", "inc-1", "k"))
		if err == nil || ports.IsPermanent(err) || !store.IsUnavailable(err) {
			t.Fatalf("switch with the store closed: %v (permanent %v)", err, ports.IsPermanent(err))
		}
	})
	// A PostgreSQL nobody listens on: the table opens (the process starts), then 503.
	db, err := store.OpenPostgres("postgres://quench@127.0.0.1:1/quench?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tbl, err := Open(context.Background(), db, WithLogger(quiet))
	if err != nil {
		t.Fatalf("open on an unreachable store: %v", err)
	}
	if rec := get(t, tbl.Handler(), "/v1/routes", ""); rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "127.0.0.1:1") {
		t.Fatalf("unreachable PostgreSQL: %d %s", rec.Code, rec.Body)
	}
}

// Opening a table changes nothing, and configuration applies running alongside switches
// neither deadlock nor lose a switch.
func TestOpenWritesNothingAndApplyRunsAlongsideSwitches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		routes := map[string][]string{}
		for i := range 20 {
			routes[fmt.Sprintf("r%02d", i)] = []string{"primary", "backup"}
		}
		tbl := openTable(t, db, routes)
		v := version(t, tbl)
		reopened, err := Open(ctx, db, WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		if got := version(t, reopened); got != v {
			t.Fatalf("Open moved the version %d → %d", v, got)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 20 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				req := sw(fmt.Sprintf("r%02d", i), "fallback", fmt.Sprintf("inc-%d", i), fmt.Sprintf("inc-%d/failover", i))
				req.Previous = &ports.RouteState{Provider: "primary"}
				_, err := tbl.Switch(ctx, req)
				errs <- err
			}()
			go func() {
				defer wg.Done()
				cfg := map[string][]string{fmt.Sprintf("extra%02d", i): {"a"}}
				for name, p := range routes {
					cfg[name] = p
				}
				_, err := reopened.Apply(ctx, cfg, "quench setup")
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for name := range routes {
			if p := provider(t, tbl, name); p != "backup" {
				t.Fatalf("route %s on %s after the switches", name, p)
			}
		}
	})
}
