package routetable

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quench-dev/quench/internal/store"
	"github.com/quench-dev/quench/internal/store/storetest"
)

func get(t *testing.T, h http.Handler, path, ifNoneMatch string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if ifNoneMatch != "" {
		req.Header.Set("If-None-Match", ifNoneMatch)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerListsRoutes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		h := tbl.Handler()
		rec := get(t, h, "/v1/routes", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
		if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
			t.Fatalf("cache control %q", cc)
		}
		var body listResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Routes) != 2 || body.Routes[0].Route != "chat" || body.Routes[0].Provider != "openai" ||
			strings.Join(body.Routes[0].Providers, ",") != "openai,anthropic,local" || body.Version != 2 || body.Routes[0].Version == 0 {
			t.Fatalf("body = %+v", body)
		}
	})
}

func TestHandlerETagAndNotModified(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		h := tbl.Handler()
		first := get(t, h, "/v1/routes", "")
		etag := first.Header().Get("ETag")
		if etag == "" || !strings.HasPrefix(etag, `"`) {
			t.Fatalf("etag %q", etag)
		}
		cached := get(t, h, "/v1/routes", etag)
		if cached.Code != http.StatusNotModified || cached.Body.Len() != 0 || cached.Header().Get("ETag") != etag {
			t.Fatalf("with a current etag: %d %q", cached.Code, cached.Body)
		}
		if weak := get(t, h, "/v1/routes", `"other", W/`+etag); weak.Code != http.StatusNotModified {
			t.Fatalf("weak etag in a list: %d", weak.Code)
		}
		routeTag := get(t, h, "/v1/routes/search", "").Header().Get("ETag")

		if _, err := tbl.Switch(context.Background(), sw("chat", "fallback", "inc-1", "k")); err != nil {
			t.Fatal(err)
		}
		changed := get(t, h, "/v1/routes", etag)
		if changed.Code != http.StatusOK || changed.Header().Get("ETag") == etag {
			t.Fatalf("after a switch: %d etag %q (was %q)", changed.Code, changed.Header().Get("ETag"), etag)
		}
		var body listResponse
		json.Unmarshal(changed.Body.Bytes(), &body)
		if body.Routes[0].Provider != "anthropic" {
			t.Fatalf("after a switch chat on %s", body.Routes[0].Provider)
		}
		// A route that did not change keeps its ETag: an app polling it stays on 304.
		if rec := get(t, h, "/v1/routes/search", routeTag); rec.Code != http.StatusNotModified {
			t.Fatalf("unchanged route after another route's switch: %d", rec.Code)
		}
	})
}

func TestHandlerOneRoute(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		h := tbl.Handler()
		rec := get(t, h, "/v1/routes/chat", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d", rec.Code)
		}
		var r Route
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Route != "chat" || r.Provider != "openai" || len(r.Providers) != 3 || r.UpdatedAt.IsZero() {
			t.Fatalf("route = %+v", r)
		}
		if tag := rec.Header().Get("ETag"); get(t, h, "/v1/routes/chat", tag).Code != http.StatusNotModified {
			t.Fatal("route etag not honoured")
		}
	})
}

func TestHandlerUnknownRouteIs404JSON(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		rec := get(t, tbl.Handler(), "/v1/routes/voice", "")
		if rec.Code != http.StatusNotFound || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body["error"], `unknown route "voice"`) || !strings.Contains(body["error"], "chat, search") {
			t.Fatalf("error = %q", body["error"])
		}
	})
}

func TestHandlerRejectsWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		tbl := openTable(t, db, testRoutes)
		req := httptest.NewRequest(http.MethodPost, "/v1/routes/chat", strings.NewReader(`{}`))
		rec := httptest.NewRecorder()
		tbl.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusMethodNotAllowed {
			t.Fatalf("POST answered %d", rec.Code)
		}
	})
}
