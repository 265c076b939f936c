package routetable

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Handler serves the table read-only for apps:
//
//	GET /v1/routes          → {"version", "updated_at", "routes": [Route...]}
//	GET /v1/routes/{route}  → Route, or 404 {"error": ...}
//
// Responses carry an ETag that changes with every change of what they show, and honour
// If-None-Match with 304, so an app can poll every few seconds for nearly nothing.
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

func (t *Table) serveList(w http.ResponseWriter, r *http.Request) {
	st, err := t.current()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "the routing table cannot be read; see the quench log")
		slog.Error("serve routes", "err", err)
		return
	}
	etag := fmt.Sprintf(`"%s-%d"`, st.Generation, st.Version)
	writeJSON(w, r, etag, listResponse{Version: st.Version, UpdatedAt: st.UpdatedAt, Routes: st.sortedRoutes()})
}

func (t *Table) serveRoute(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("route")
	st, err := t.current()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "the routing table cannot be read; see the quench log")
		slog.Error("serve route", "route", name, "err", err)
		return
	}
	stored, ok := st.Routes[name]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown route %q; known routes: %s (GET /v1/routes lists them)", name, knownRoutes(st)))
		return
	}
	route := copyRoute(stored)
	etag := fmt.Sprintf(`"%s-%d"`, st.Generation, route.Version)
	writeJSON(w, r, etag, route)
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

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
