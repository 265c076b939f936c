package routetable

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

var testRoutes = map[string][]string{
	"chat":   {"openai", "anthropic", "local"},
	"search": {"cohere", "openai"},
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func TestMain(m *testing.M) { storetest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openTable opens a Table on db and applies routes, as quench dev does at start.
func openTable(t *testing.T, db *store.DB, routes map[string][]string) *Table {
	t.Helper()
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	tbl, err := Open(context.Background(), db, WithClock(c.now), WithLogger(quiet), WithPollInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tbl.Close)
	if _, err := tbl.Apply(context.Background(), routes, "config"); err != nil {
		t.Fatal(err)
	}
	return tbl
}

// count counts rows of a query (test inspection of the store).
func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func provider(t *testing.T, tbl *Table, route string) string {
	t.Helper()
	r, ok, err := tbl.Route(route)
	if err != nil || !ok {
		t.Fatalf("route %s: ok=%v err=%v", route, ok, err)
	}
	return r.Provider
}

func sw(route, to, holder, key string) ports.SwitchRequest {
	return ports.SwitchRequest{Route: route, To: to, Holder: holder, Key: key}
}

func rs(route, holder, key string) ports.RestoreRequest {
	return ports.RestoreRequest{Route: route, Holder: holder, Key: key}
}

func TestOpenStartsOnPrimaries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		routes, version, err := tbl.Routes()
		if err != nil {
			t.Fatal(err)
		}
		if len(routes) != 2 || routes[0].Route != "chat" || routes[1].Route != "search" {
			t.Fatalf("routes = %+v", routes)
		}
		if routes[0].Provider != "openai" || routes[1].Provider != "cohere" {
			t.Fatalf("providers = %s, %s; want the primaries", routes[0].Provider, routes[1].Provider)
		}
		if version != 2 {
			t.Fatalf("version = %d, want 2 (one per route added)", version)
		}
	})
}

func TestKnownRoutesListsTheTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		names, err := tbl.KnownRoutes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(names, ",") != "chat,search" {
			t.Fatalf("KnownRoutes = %v, want chat,search", names)
		}
	})
}

func TestOpenDefaultRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, nil)
		if got := provider(t, tbl, "chat"); got != "primary" {
			t.Fatalf("default chat provider = %s", got)
		}
	})
}

func TestSwitchFallbackRestoreRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		before, _, _ := tbl.Routes()

		ch, err := tbl.Switch(ctx, sw("chat", "fallback", "inc-1", "inc-1/failover"))
		if err != nil {
			t.Fatal(err)
		}
		if ch.From != "openai" || ch.To != "anthropic" || ch.NoOp {
			t.Fatalf("switch = %+v, want openai → anthropic", ch)
		}
		if got := provider(t, tbl, "chat"); got != "anthropic" {
			t.Fatalf("after switch chat on %s", got)
		}
		// A second fallback by the same incident moves on, and the restore still goes back to
		// where the route was before the incident.
		if ch, err = tbl.Switch(ctx, sw("chat", "fallback", "inc-1", "inc-1/failover-again")); err != nil || ch.To != "local" {
			t.Fatalf("second fallback = %+v, %v", ch, err)
		}
		back, err := tbl.Restore(ctx, rs("chat", "inc-1", "inc-1/failback"))
		if err != nil {
			t.Fatal(err)
		}
		if back.From != "local" || back.To != "openai" || back.NoOp || back.Note != "" {
			t.Fatalf("restore = %+v, want local → openai without a note", back)
		}
		after, _, _ := tbl.Routes()
		for i := range before {
			if before[i].Route != after[i].Route || before[i].Provider != after[i].Provider {
				t.Fatalf("after the round trip %+v, before %+v", after[i], before[i])
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM routetable_holds`); n != 0 {
			t.Fatalf("%d holds left after restore", n)
		}
		// Nothing left to restore: a no-op that says so.
		again, err := tbl.Restore(ctx, rs("chat", "inc-1", "inc-1/failback/undo"))
		if err != nil || !again.NoOp || !strings.Contains(again.Note, "nothing saved") {
			t.Fatalf("second restore = %+v, %v", again, err)
		}
	})
}

func TestSwitchIsIdempotentByKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		first, err := tbl.Switch(ctx, sw("chat", "fallback", "inc-1", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		_, version, _ := tbl.Routes()
		again, err := tbl.Switch(ctx, sw("chat", "fallback", "inc-1", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		if again != first {
			t.Fatalf("retry = %+v, want the first result %+v", again, first)
		}
		if got := provider(t, tbl, "chat"); got != "anthropic" {
			t.Fatalf("a retried fallback moved the route on to %s", got)
		}
		if _, v, _ := tbl.Routes(); v != version {
			t.Fatalf("a retry changed the version %d → %d", version, v)
		}
		// The same key for another operation is a caller bug, not a replay.
		if _, err := tbl.Restore(ctx, rs("chat", "inc-1", "k1")); err == nil || !ports.IsPermanent(err) {
			t.Fatalf("restore with a switch's key: %v", err)
		}
	})
}

func TestRestoreIsIdempotentByKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		if _, err := tbl.Switch(ctx, sw("chat", "anthropic", "inc-1", "s")); err != nil {
			t.Fatal(err)
		}
		first, err := tbl.Restore(ctx, rs("chat", "inc-1", "r"))
		if err != nil || first.NoOp {
			t.Fatalf("restore = %+v, %v", first, err)
		}
		again, err := tbl.Restore(ctx, rs("chat", "inc-1", "r"))
		if err != nil || again != first {
			t.Fatalf("retry = %+v (%v), want %+v", again, err, first)
		}
	})
}

func TestSwitchToActiveIsRecordedNoOp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		_, version, _ := tbl.Routes()
		ch, err := tbl.Switch(ctx, sw("chat", "openai", "inc-1", "k"))
		if err != nil || !ch.NoOp || ch.To != "openai" || !strings.Contains(ch.Note, "already on openai") {
			t.Fatalf("switch to active = %+v, %v", ch, err)
		}
		if _, v, _ := tbl.Routes(); v != version {
			t.Fatalf("no-op changed the version")
		}
		// Nothing was saved, so a restore has nothing to do.
		if back, err := tbl.Restore(ctx, rs("chat", "inc-1", "r")); err != nil || !back.NoOp {
			t.Fatalf("restore after a no-op switch = %+v, %v", back, err)
		}
	})
}

func TestRestoreAfterSomeoneElseChangedTheRoute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		if _, err := tbl.Switch(ctx, sw("chat", "fallback", "inc-1", "a")); err != nil {
			t.Fatal(err)
		}
		if _, err := tbl.Switch(ctx, sw("chat", "local", "inc-2", "b")); err != nil {
			t.Fatal(err)
		}
		back, err := tbl.Restore(ctx, rs("chat", "inc-1", "c"))
		if err != nil {
			t.Fatal(err)
		}
		if back.To != "openai" || back.From != "local" || !strings.Contains(back.Note, "changed to local by inc-2") {
			t.Fatalf("restore = %+v, want openai with a note naming inc-2", back)
		}
		if got := provider(t, tbl, "chat"); got != "openai" {
			t.Fatalf("chat on %s", got)
		}
	})
}

func TestErrorsListWhatIsKnown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		cases := []struct {
			name string
			err  func() error
			want string
		}{
			{"unknown route", func() error { _, err := tbl.Switch(ctx, sw("voice", "fallback", "i", "k1")); return err }, "known routes: chat, search"},
			{"unknown provider", func() error { _, err := tbl.Switch(ctx, sw("chat", "gemini", "i", "k2")); return err }, "its providers are openai, anthropic, local"},
			{"no fallback left", func() error {
				if _, err := tbl.Switch(ctx, sw("search", "fallback", "i", "k3")); err != nil {
					return err
				}
				_, err := tbl.Switch(ctx, sw("search", "fallback", "i", "k4"))
				return err
			}, "no fallback after it"},
			{"restore unknown route", func() error { _, err := tbl.Restore(ctx, rs("voice", "i", "k5")); return err }, "known routes"},
			{"missing key", func() error { _, err := tbl.Switch(ctx, sw("chat", "fallback", "i", "")); return err }, "idempotency key"},
		}
		for _, c := range cases {
			err := c.err()
			if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: err = %v, want a permanent error containing %q", c.name, err, c.want)
			}
		}
	})
}

func TestRestartReloadsFromDisk(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tbl := openTable(t, db, testRoutes)
		first, err := tbl.Switch(ctx, sw("chat", "fallback", "inc-1", "k"))
		if err != nil {
			t.Fatal(err)
		}
		_, version, _ := tbl.Routes()

		reopened := openTable(t, db, testRoutes)
		if got := provider(t, reopened, "chat"); got != "anthropic" {
			t.Fatalf("after restart chat on %s, want anthropic", got)
		}
		if _, v, _ := reopened.Routes(); v != version {
			t.Fatalf("after restart version %d, want %d", v, version)
		}
		// The retry after a crash finds the first result on disk.
		again, err := reopened.Switch(ctx, sw("chat", "fallback", "inc-1", "k"))
		if err != nil || again != first {
			t.Fatalf("retry after restart = %+v (%v), want %+v", again, err, first)
		}
		// And the saved previous provider survived too.
		back, err := reopened.Restore(ctx, rs("chat", "inc-1", "r"))
		if err != nil || back.To != "openai" {
			t.Fatalf("restore after restart = %+v, %v", back, err)
		}
	})
}

func TestApplyChangedConfig(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tbl := openTable(t, db, testRoutes)
		if _, err := tbl.Switch(ctx, sw("chat", "local", "inc-1", "k")); err != nil {
			t.Fatal(err)
		}
		// inc-1's hold is older than any open incident a month later: it no longer keeps
		// chat on a provider the configuration drops.
		later := &clock{t: time.Now().UTC().Add(opRetention + time.Hour)}
		reopened, err := Open(ctx, db, WithClock(later.now), WithLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		changes, err := reopened.Apply(ctx, map[string][]string{"chat": {"openai", "anthropic"}, "voice": {"eleven"}}, "quench setup")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.String())
		}
		want := []string{
			"updated route chat: providers openai, anthropic, local → openai, anthropic, on openai; its active provider local is no longer configured: back to its primary openai",
			"removed route search (cohere, openai): no longer configured",
			"added route voice (eleven), on eleven",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		routes, _, _ := reopened.Routes()
		if len(routes) != 2 || routes[0].Route != "chat" || routes[1].Route != "voice" || routes[0].Provider != "openai" || routes[0].UpdatedBy != "quench setup" {
			t.Fatalf("routes after config change = %+v", routes)
		}
		// The same configuration again changes nothing; nil routes keep the table.
		for _, cfg := range []map[string][]string{{"chat": {"openai", "anthropic"}, "voice": {"eleven"}}, nil} {
			if again, err := reopened.Apply(ctx, cfg, "quench setup"); err != nil || len(again) != 0 {
				t.Fatalf("second apply of %v: %+v %v", cfg, again, err)
			}
		}
		if r, _, _ := reopened.Routes(); len(r) != 2 {
			t.Fatalf("nil routes replaced the table's routes: %+v", r)
		}
	})
}

func TestApplyRejectsBadConfig(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		for _, routes := range []map[string][]string{
			{"chat": {}},
			{"chat": {"a", "a"}},
			{"bad/name": {"a"}},
			{"chat": {""}},
		} {
			if _, err := tbl.Apply(context.Background(), routes, "config"); err == nil {
				t.Errorf("Apply(%v) succeeded", routes)
			}
			if _, err := tbl.Diff(context.Background(), routes); err == nil {
				t.Errorf("Diff(%v) succeeded", routes)
			}
		}
	})
}

// The scale-out bug: a server's table must show a worker's switch at once, and a change
// through either builds on the other's.
func TestTwoTablesOnOneStoreSeeEachOther(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		worker := openTable(t, db, testRoutes)
		server := openTable(t, db, testRoutes)
		if _, err := worker.Switch(ctx, sw("chat", "fallback", "inc-1", "k")); err != nil {
			t.Fatal(err)
		}
		if got := provider(t, server, "chat"); got != "anthropic" {
			t.Fatalf("the other table sees chat on %s", got)
		}
		// A change through the other table builds on the first one's, not on a stale copy.
		if _, err := server.Restore(ctx, rs("chat", "inc-1", "r")); err != nil {
			t.Fatal(err)
		}
		if got := provider(t, worker, "chat"); got != "openai" {
			t.Fatalf("worker sees chat on %s after the server's restore", got)
		}
	})
}

func TestConcurrentSwitchesKeepOneResultPerKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		results := make([]ports.RouteChange, 8)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := tbl.Switch(ctx, sw("chat", "fallback", "inc-1", "same-key"))
				if err != nil {
					t.Error(err)
				}
				results[i] = r
			}()
		}
		wg.Wait()
		for _, r := range results[1:] {
			if r != results[0] {
				t.Fatalf("concurrent retries disagree: %+v vs %+v", r, results[0])
			}
		}
		if got := provider(t, tbl, "chat"); got != "anthropic" {
			t.Fatalf("chat on %s, want exactly one fallback", got)
		}
	})
}
