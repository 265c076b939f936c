package routetable

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"

	"github.com/quench-dev/quench/internal/ports"
)

func blk(route, agent, holder, key string) ports.BlockRequest {
	return ports.BlockRequest{Route: route, AgentKey: agent, Holder: holder, Key: key}
}

func blocked(t *testing.T, tbl *Table, route string) []string {
	t.Helper()
	r, ok, err := tbl.Route(route)
	if err != nil || !ok {
		t.Fatalf("route %s: ok=%v err=%v", route, ok, err)
	}
	return r.BlockedKeys
}

func TestBlockAndUnblockAKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tbl := openTable(t, db, testRoutes)

		ch, err := tbl.Block(ctx, blk("chat", "agent-7", "inc-a", "inc-a/block"))
		if err != nil || ch.NoOp || !ch.Blocked {
			t.Fatalf("block: %+v %v", ch, err)
		}
		// A retry of the same step returns the first result and changes nothing more.
		again, err := tbl.Block(ctx, blk("chat", "agent-7", "inc-a", "inc-a/block"))
		if err != nil || again != ch {
			t.Fatalf("retried block: %+v %v, want %+v", again, err, ch)
		}
		// Another incident blocking the same key changes nothing and cannot lift the first block.
		other, err := tbl.Block(ctx, blk("chat", "agent-7", "inc-b", "inc-b/block"))
		if err != nil || !other.NoOp {
			t.Fatalf("second block: %+v %v", other, err)
		}
		if got := blocked(t, tbl, "chat"); !slices.Equal(got, []string{"agent-7"}) {
			t.Fatalf("blocked keys %v", got)
		}
		if got := blocked(t, tbl, "search"); got != nil {
			t.Fatalf("search must be untouched: %v", got)
		}
		if un, err := tbl.Unblock(ctx, blk("chat", "agent-7", "inc-b", "inc-b/undo")); err != nil || !un.NoOp || !un.Blocked {
			t.Fatalf("unblock by another incident: %+v %v", un, err)
		}

		// The block survives a restart (another process opening the data dir).
		reopened := openTable(t, db, testRoutes)
		if got := blocked(t, reopened, "chat"); !slices.Equal(got, []string{"agent-7"}) {
			t.Fatalf("after reopen: %v", got)
		}
		un, err := reopened.Unblock(ctx, blk("chat", "agent-7", "inc-a", "inc-a/block/undo"))
		if err != nil || un.NoOp || un.Blocked || un.Version <= ch.Version {
			t.Fatalf("unblock: %+v %v", un, err)
		}
		if got := blocked(t, reopened, "chat"); got != nil {
			t.Fatalf("still blocked: %v", got)
		}
		if un, err := reopened.Unblock(ctx, blk("chat", "agent-7", "inc-a", "inc-a/again")); err != nil || !un.NoOp {
			t.Fatalf("unblock of a free key: %+v %v", un, err)
		}
	})
}

func TestBlockRefusesBadRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tbl := openTable(t, db, testRoutes)
		for name, req := range map[string]ports.BlockRequest{
			"no key":        blk("chat", " ", "inc", "k1"),
			"unknown route": blk("nope", "agent", "inc", "k2"),
			"no holder":     blk("chat", "agent", "", "k3"),
			"multi-line":    blk("chat", "a\nb", "inc", "k4"),
		} {
			if _, err := tbl.Block(ctx, req); !ports.IsPermanent(err) {
				t.Errorf("%s: %v, want a permanent error", name, err)
			}
		}
		if _, err := tbl.Switch(ctx, sw("chat", "fallback", "inc", "k5")); err != nil {
			t.Fatal(err)
		}
		if _, err := tbl.Block(ctx, blk("chat", "agent", "inc", "k5")); !ports.IsPermanent(err) {
			t.Errorf("a key used to switch must not be reused to block: %v", err)
		}
	})
}

func TestRoutesServeBlockedKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		if _, err := tbl.Block(context.Background(), blk("chat", "agent-7", "inc", "k")); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(tbl.Handler())
		defer srv.Close()
		resp, err := http.Get(srv.URL + "/v1/routes/chat")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r Route
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(r.BlockedKeys, []string{"agent-7"}) {
			t.Fatalf("served route %+v", r)
		}
	})
}
