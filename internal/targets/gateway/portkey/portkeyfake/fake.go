// Package portkeyfake is a stateful fake of Portkey's configs admin API: GET and PUT
// /configs/{slug} with x-portkey-api-key auth and injected failures. A config body is kept
// compact, as the bytes last PUT, so a test can compare it byte for byte.
package portkeyfake

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
)

// Server is the fake admin API; URL is its base (what quench calls DefaultURL).
type Server struct {
	*apifake.Recorder
	URL    string
	APIKey string

	srv     *httptest.Server
	mu      sync.Mutex
	configs map[string]json.RawMessage
	puts    map[string]int
}

// New starts a fake with configs (slug → JSON body).
func New(apiKey string, configs map[string]string) *Server {
	s := &Server{Recorder: &apifake.Recorder{}, APIKey: apiKey, configs: map[string]json.RawMessage{}, puts: map[string]int{}}
	for slug, body := range configs {
		s.configs[slug] = compact(body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/configs/{slug}", s.get)
	mux.HandleFunc("PUT /v1/configs/{slug}", s.put)
	s.srv = httptest.NewServer(s.Wrap(s.auth(mux)))
	s.URL = s.srv.URL + "/v1"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Config returns a config's body as stored.
func (s *Server) Config(slug string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.configs[slug])
}

// SetConfig replaces a config, as someone editing it in Portkey's UI would.
func (s *Server) SetConfig(slug, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.configs[slug] = compact(body)
}

func compact(body string) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(body)); err != nil {
		return json.RawMessage(body)
	}
	return b.Bytes()
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("x-portkey-api-key") != s.APIKey {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"success": false, "message": "Invalid API key"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	s.mu.Lock()
	body, ok := s.configs[slug]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"success": false, "message": "config not found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{
		"slug": slug, "name": slug, "status": "active", "config": body,
	}})
}

func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("slug")
	var req struct {
		Config json.RawMessage `json:"config"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Config) == 0 || req.Config[0] != '{' {
		writeJSON(w, http.StatusBadRequest, map[string]any{"success": false, "message": "config must be an object"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.configs[slug]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"success": false, "message": "config not found"})
		return
	}
	s.configs[slug] = compact(string(req.Config))
	s.puts[slug]++
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "data": map[string]any{"slug": slug}})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
