package routetable

import (
	"context"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

func version(t *testing.T, tbl *Table) int64 {
	t.Helper()
	_, v, err := tbl.Routes()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Two processes on one table: A switches with the provider from history, B restores it
// from the request alone. B's table file has no saved state for the incident.
func TestRestoreFromHistoryNeedsNoSavedState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := openTable(t, db, testRoutes)
		ctx := context.Background()
		prev, err := a.ReadRoute(ctx, "chat")
		if err != nil || prev != (ports.RouteState{Provider: "openai"}) {
			t.Fatalf("read: %+v %v", prev, err)
		}
		req := sw("chat", "fallback", "inc-1", "inc-1/failover")
		req.Previous = &prev
		ch, err := a.Switch(ctx, req)
		if err != nil || ch.From != "openai" || ch.To != "anthropic" || ch.NoOp {
			t.Fatalf("switch: %+v %v", ch, err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM routetable_holds WHERE legacy = 1`); n != 0 {
			t.Fatalf("a switch with its state in history saved it as a legacy hold too (%d)", n)
		}
		b := openTable(t, db, testRoutes)
		back, err := b.Restore(ctx, ports.RestoreRequest{Route: "chat", Holder: "inc-1", Key: "inc-1/failback", Previous: &prev, SwitchedTo: "anthropic"})
		if err != nil || back.NoOp || back.To != "openai" || back.Note != "" {
			t.Fatalf("restore: %+v %v", back, err)
		}
		if p := provider(t, b, "chat"); p != "openai" {
			t.Fatalf("chat on %s after the restore", p)
		}
	})
}

func TestSwitchRetriedWithoutItsRecordMovesTheVersionOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		prev, err := tbl.ReadRoute(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		v0 := version(t, tbl)
		req := sw("chat", "fallback", "inc-1", "inc-1/failover")
		req.Previous = &prev
		first, err := tbl.Switch(ctx, req)
		if err != nil || version(t, tbl) != v0+1 {
			t.Fatalf("switch: %+v %v, version %d → %d", first, err, v0, version(t, tbl))
		}
		// An attempt that does not find the first one's record (another worker, another
		// record) still changes nothing: the route is already where the request wants it.
		req.Key = "inc-1/failover#other-record"
		again, err := tbl.Switch(ctx, req)
		if err != nil || again.NoOp || again.From != "openai" || again.To != "anthropic" || again.Version != first.Version {
			t.Fatalf("retry: %+v %v, first %+v", again, err, first)
		}
		if v := version(t, tbl); v != v0+1 {
			t.Fatalf("the version moved %d times", v-v0)
		}
	})
}

func TestSwitchFromHistoryRefusesARouteChangedMeanwhile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		prev, err := tbl.ReadRoute(ctx, "chat")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tbl.Switch(ctx, sw("chat", "local", "someone", "someone/1")); err != nil {
			t.Fatal(err)
		}
		req := sw("chat", "fallback", "inc-1", "inc-1/failover")
		req.Previous = &prev
		if _, err := tbl.Switch(ctx, req); err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "between reading it and switching it") {
			t.Fatalf("want a permanent refusal, got %v", err)
		}
		if p := provider(t, tbl, "chat"); p != "local" {
			t.Fatalf("chat on %s", p)
		}
	})
}

func TestRestoreWithoutStateUsesTheLegacyHold(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// An incident started before switches carried their state: its undo names the route only.
		tbl := openTable(t, db, testRoutes)
		ctx := context.Background()
		if _, err := tbl.Switch(ctx, sw("chat", "fallback", "inc-old", "inc-old/failover")); err != nil {
			t.Fatal(err)
		}
		back, err := tbl.Restore(ctx, rs("chat", "inc-old", "inc-old/failover/undo"))
		if err != nil || back.To != "openai" || back.NoOp {
			t.Fatalf("restore: %+v %v", back, err)
		}
	})
}

func TestReadUnknownRouteIsPermanent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		if _, err := tbl.ReadRoute(context.Background(), "voice"); err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "known routes: chat, search") {
			t.Fatalf("got %v", err)
		}
	})
}
