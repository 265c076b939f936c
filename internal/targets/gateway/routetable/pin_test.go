package routetable

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

// routeBody is GET /v1/routes/{route} without the fields every change moves (version,
// time, who): what apps act on, compared byte for byte.
func routeBody(t *testing.T, tbl *Table, route string) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	tbl.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/routes/"+route, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET route %s: %d %s", route, rec.Code, rec.Body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "version")
	delete(m, "updated_at")
	delete(m, "updated_by")
	b, _ := json.Marshal(m)
	return b
}

func pinReq(t *testing.T, tbl *Table, route, model, to, holder, key string) ports.PinRequest {
	t.Helper()
	prev, err := tbl.ReadPin(context.Background(), route, model)
	if err != nil {
		t.Fatalf("read pin: %v", err)
	}
	return ports.PinRequest{Route: route, Model: model, To: to, Holder: holder, Key: key, Previous: &prev}
}

func TestPinAndUnpinRestoreTheRouteByteForByte(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tbl := openTable(t, db, testRoutes)
		if _, err := tbl.Block(ctx, blk("chat", "agent-7", "inc-0", "inc-0/block")); err != nil {
			t.Fatal(err)
		}
		before := routeBody(t, tbl, "chat")

		req := pinReq(t, tbl, "chat", "gpt-4o", "gpt-4o-2024-08-06", "inc-a", "inc-a/pin")
		if req.Previous.Pinned != "" {
			t.Fatalf("an unpinned model read as pinned to %q", req.Previous.Pinned)
		}
		ch, err := tbl.Pin(ctx, req)
		if err != nil || ch.NoOp || ch.From != "" || ch.To != "gpt-4o-2024-08-06" {
			t.Fatalf("pin: %+v %v", ch, err)
		}
		r, _, _ := tbl.Route("chat")
		if r.PinnedModels["gpt-4o"] != "gpt-4o-2024-08-06" || len(r.BlockedKeys) != 1 {
			t.Fatalf("route after the pin: %+v", r)
		}
		if !strings.Contains(string(routeBody(t, tbl, "chat")), `"pinned_models":{"gpt-4o":"gpt-4o-2024-08-06"}`) {
			t.Fatalf("GET /v1/routes/chat does not show the pin: %s", routeBody(t, tbl, "chat"))
		}
		if s, _, _ := tbl.Route("search"); s.PinnedModels != nil {
			t.Fatalf("search must be untouched: %+v", s)
		}
		// A retry of the step (same key, same previous) answers the first result.
		if again, err := tbl.Pin(ctx, req); err != nil || again != ch {
			t.Fatalf("retried pin: %+v %v, want %+v", again, err, ch)
		}
		// The same pin under a new key (an attempt whose record was lost on another
		// worker) finds it set and reports the same change, so the undo is registered.
		req2 := req
		req2.Key = "inc-a/pin-2"
		if lost, err := tbl.Pin(ctx, req2); err != nil || lost.NoOp || lost.To != ch.To {
			t.Fatalf("pin found already set: %+v %v", lost, err)
		}

		undo := ports.PinRequest{Route: "chat", Model: "gpt-4o", Holder: "inc-a", Key: "inc-a/undo", Previous: req.Previous, PinnedTo: ch.To}
		back, err := tbl.Unpin(ctx, undo)
		if err != nil || back.NoOp || back.To != "" {
			t.Fatalf("unpin: %+v %v", back, err)
		}
		if after := routeBody(t, tbl, "chat"); !bytes.Equal(after, before) {
			t.Fatalf("unpin did not restore the route byte for byte:\nbefore %s\nafter  %s", before, after)
		}
		if again, err := tbl.Unpin(ctx, undo); err != nil || again != back {
			t.Fatalf("retried unpin: %+v %v", again, err)
		}
	})
}

func TestPinRestoresAnEarlierPinAndRefusesARace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tbl := openTable(t, db, testRoutes)
		// Someone pinned the model before the incident: the undo must put that pin back.
		first := pinReq(t, tbl, "chat", "gpt-4o", "gpt-4o-2024-05-13", "ops", "ops/pin")
		if _, err := tbl.Pin(ctx, first); err != nil {
			t.Fatal(err)
		}
		before := routeBody(t, tbl, "chat")
		req := pinReq(t, tbl, "chat", "gpt-4o", "gpt-4o-2024-08-06", "inc-b", "inc-b/pin")
		if req.Previous.Pinned != "gpt-4o-2024-05-13" {
			t.Fatalf("previous %+v", req.Previous)
		}
		// Another process re-pins between the read and the pin: refused, nothing changed.
		other := pinReq(t, tbl, "chat", "gpt-4o", "gpt-4o-2024-11-20", "ops", "ops/pin-2")
		if _, err := tbl.Pin(ctx, other); err != nil {
			t.Fatal(err)
		}
		_, err := tbl.Pin(ctx, req)
		if err == nil || !ports.IsPermanent(err) || !strings.Contains(err.Error(), "between reading it and pinning it") {
			t.Fatalf("a pin over a changed model: %v", err)
		}
		if r, _, _ := tbl.Route("chat"); r.PinnedModels["gpt-4o"] != "gpt-4o-2024-11-20" {
			t.Fatalf("the refused pin changed the route: %+v", r)
		}
		// Back to the state read first, then the incident pins and unpins.
		if _, err := tbl.Unpin(ctx, ports.PinRequest{Route: "chat", Model: "gpt-4o", Holder: "ops", Key: "ops/undo-2", Previous: other.Previous}); err != nil {
			t.Fatal(err)
		}
		req = pinReq(t, tbl, "chat", "gpt-4o", "gpt-4o-2024-08-06", "inc-b", "inc-b/pin-b")
		ch, err := tbl.Pin(ctx, req)
		if err != nil || ch.From != "gpt-4o-2024-05-13" {
			t.Fatalf("pin: %+v %v", ch, err)
		}
		back, err := tbl.Unpin(ctx, ports.PinRequest{Route: "chat", Model: "gpt-4o", Holder: "inc-b", Key: "inc-b/undo", Previous: req.Previous, PinnedTo: ch.To})
		if err != nil || back.To != "gpt-4o-2024-05-13" {
			t.Fatalf("unpin: %+v %v", back, err)
		}
		if after := routeBody(t, tbl, "chat"); !bytes.Equal(after, before) {
			t.Fatalf("not restored byte for byte:\nbefore %s\nafter  %s", before, after)
		}
	})
}

func TestPinRefusesBadInput(t *testing.T) {
	tbl := openTable(t, storetest.SQLite(t), testRoutes)
	ctx := context.Background()
	prev := &ports.PinState{Model: "gpt-4o"}
	for name, req := range map[string]ports.PinRequest{
		"no previous":    {Route: "chat", Model: "gpt-4o", To: "gpt-4o-2024-08-06", Holder: "i", Key: "k"},
		"to itself":      {Route: "chat", Model: "gpt-4o", To: "gpt-4o", Holder: "i", Key: "k", Previous: prev},
		"space in model": {Route: "chat", Model: "gpt-4o", To: "gpt 4o", Holder: "i", Key: "k", Previous: prev},
		"long model":     {Route: "chat", Model: "gpt-4o", To: strings.Repeat("x", 201), Holder: "i", Key: "k", Previous: prev},
		"unknown route":  {Route: "nope", Model: "gpt-4o", To: "gpt-4o-2024-08-06", Holder: "i", Key: "k", Previous: prev},
	} {
		if _, err := tbl.Pin(ctx, req); err == nil || !ports.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
	if _, err := tbl.ReadPin(ctx, "nope", "gpt-4o"); err == nil || !strings.Contains(err.Error(), "unknown route") {
		t.Errorf("read pin of an unknown route: %v", err)
	}
}

// A configuration that drops a route drops its pins: configured again, it starts clean.
func TestRemovedRouteForgetsItsPins(t *testing.T) {
	tbl := openTable(t, storetest.SQLite(t), testRoutes)
	ctx := context.Background()
	req := pinReq(t, tbl, "search", "command-r", "command-r-08-2024", "inc-c", "inc-c/pin")
	if _, err := tbl.Pin(ctx, req); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Apply(ctx, map[string][]string{"chat": testRoutes["chat"]}, "config"); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.Apply(ctx, testRoutes, "config"); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := tbl.Route("search"); r.PinnedModels != nil {
		t.Fatalf("a re-added route kept the old pins: %+v", r)
	}
}

// The table's 5xx is its store being down: a pin and an unpin then fail retryably, naming
// the store, never permanently; the read works again once the store is back.
func TestPinWithTheStoreDownIsRetryable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		req := pinReq(t, tbl, "chat", "gpt-4o", "gpt-4o-2024-08-06", "inc-d", "inc-d/pin")
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for name, call := range map[string]func() error{
			"pin":   func() error { _, err := tbl.Pin(context.Background(), req); return err },
			"unpin": func() error { _, err := tbl.Unpin(context.Background(), req); return err },
			"read":  func() error { _, err := tbl.ReadPin(context.Background(), "chat", "gpt-4o"); return err },
		} {
			if err := call(); err == nil || ports.IsPermanent(err) || !store.IsUnavailable(err) {
				t.Errorf("%s with the store closed: %v (permanent %v)", name, err, ports.IsPermanent(err))
			}
		}
	})
}
