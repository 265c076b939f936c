package routetable

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/store"
)

// MaxWait is the longest a long-poll (?wait=) holds a request.
const MaxWait = 60 * time.Second

// retryAfter is what a 503 tells a client to wait before asking again, in seconds.
const retryAfter = "5"

// Handler serves the table read-only for apps:
//
//	GET /v1/routes          → {"version", "updated_at", "routes": [Route...]}
//	GET /v1/routes/{route}  → Route, or 404 {"error": ...}
//
// Responses carry an ETag ("generation-version") that changes with every change of what
// they show, and honour If-None-Match with 304, so an app can poll for nearly nothing.
// With ?wait=30s (at most 60s) and an If-None-Match naming the current ETag, the request
// is held until what it shows changes (200) or the wait ends (304): a long-poll. A store
// that cannot be reached answers 503 with Retry-After.
func (t *Table) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/routes", t.serveList)
	mux.HandleFunc("GET /v1/routes/{route}", t.serveRoute)
	return mux
}

type listResponse struct {
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	Routes    []Route   `json:"routes"`
}

// view is what one endpoint shows of a snapshot: its ETag and body, or a status and message.
type view func(s *snapshot) (etag string, body any, status int, msg string)

func (t *Table) serveList(w http.ResponseWriter, r *http.Request) {
	t.serve(w, r, func(s *snapshot) (string, any, int, string) {
		return s.etag(), listResponse{Version: s.version, UpdatedAt: s.updatedAt, Routes: s.copyRoutes()}, 0, ""
	})
}

func (t *Table) serveRoute(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("route")
	t.serve(w, r, func(s *snapshot) (string, any, int, string) {
		route, ok := s.route(name)
		if !ok {
			return "", nil, http.StatusNotFound, fmt.Sprintf("unknown route %q; known routes: %s (GET /v1/routes lists them)", name, knownRoutes(s.names()))
		}
		return fmt.Sprintf(`"%s-%d"`, s.generation, route.Version), route, 0, ""
	})
}

func (t *Table) serve(w http.ResponseWriter, r *http.Request, v view) {
	wait, err := parseWait(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	inm := r.Header.Get("If-None-Match")
	var deadline <-chan time.Time
	if wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		deadline = timer.C
	}
	ctx := r.Context()
	for {
		var changed <-chan struct{}
		done := func() {}
		if wait > 0 {
			changed, done = t.subscribe()
		}
		s, err := t.snapshot(ctx)
		if err != nil {
			done()
			t.writeStoreError(w, r, err)
			return
		}
		etag, body, status, msg := v(s)
		if status != 0 {
			done()
			writeError(w, status, msg)
			return
		}
		if wait == 0 || !waitsOn(inm, etag) {
			done()
			writeJSON(w, r, etag, body)
			return
		}
		select {
		case <-changed:
			done()
			continue
		case <-deadline:
		case <-t.w.done:
		case <-ctx.Done():
			done()
			return
		}
		done()
		writeJSON(w, r, etag, body) // still the ETag the client has: 304
		return
	}
}

// parseWait reads ?wait= as a duration ("30s") or seconds ("30"); longer than MaxWait is
// MaxWait.
func parseWait(q url.Values) (time.Duration, error) {
	raw := q.Get("wait")
	if raw == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		n, nerr := strconv.Atoi(raw)
		if nerr != nil || len(raw) > 6 {
			return 0, fmt.Errorf("wait=%.20q is not a duration: write e.g. wait=30s (at most %s)", raw, MaxWait)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, fmt.Errorf("wait=%s is negative: write e.g. wait=30s (at most %s)", raw, MaxWait)
	}
	return min(d, MaxWait), nil
}

func (t *Table) writeStoreError(w http.ResponseWriter, r *http.Request, err error) {
	if store.IsUnavailable(err) {
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("the routing table's store (%s) is unavailable; retry in a few seconds", t.db))
		t.logger.Warn("serve routes: the store is unavailable", "path", r.URL.Path, "store", t.db.String(), "err", err)
		return
	}
	writeError(w, http.StatusInternalServerError, "the routing table cannot be read; see the quench log")
	t.logger.Error("serve routes", "path", r.URL.Path, "err", err)
}

func writeJSON(w http.ResponseWriter, r *http.Request, etag string, body any) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("ETag", etag)
	if etagMatches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// etagMatches implements If-None-Match's weak comparison: any listed tag, W/ or not, or *.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}

// waitsOn: a long-poll waits only when the client names the current ETag itself (not *):
// it has that version and wants the next.
func waitsOn(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(tag), "W/") == etag {
			return true
		}
	}
	return false
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
