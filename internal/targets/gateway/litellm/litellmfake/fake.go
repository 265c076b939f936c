// Package litellmfake is a stateful fake of the LiteLLM proxy's admin API, enough for the
// gateway adapter: GET /model/info, POST /model/block, /model/unblock and /model/update,
// the virtual keys' GET /key/info and /key/list and POST /key/block, /key/unblock and
// /key/update,
// Bearer master-key auth, and injected failures. Deployments are kept as JSON objects and
// served with sorted keys, so a test can compare the proxy's state byte for byte.
package litellmfake

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
)

// Deployment is one model deployment as the proxy stores it.
type Deployment struct {
	ModelName     string         `json:"model_name"`
	LiteLLMParams map[string]any `json:"litellm_params"`
	ModelInfo     map[string]any `json:"model_info"`
}

// Server is the fake proxy.
type Server struct {
	*apifake.Recorder
	URL       string
	MasterKey string

	srv *httptest.Server
	mu  sync.Mutex
	// deps keeps the order deployments were added in, as the proxy lists them.
	deps []*Deployment
	// IgnoreWrites makes block/unblock/update answer 200 and change nothing (a proxy whose
	// change did not take, e.g. a replica that has not synced).
	ignoreWrites bool
	// keys by token, and the tokens in the order they were added (as /key/list lists them).
	keys     map[string]Key
	keyOrder []string
}

// New starts a fake proxy with the given deployments; stop it with Close.
func New(masterKey string, deps ...Deployment) *Server {
	s := &Server{Recorder: &apifake.Recorder{}, MasterKey: masterKey}
	for i := range deps {
		d := deps[i]
		s.deps = append(s.deps, &Deployment{ModelName: d.ModelName, LiteLLMParams: clone(d.LiteLLMParams), ModelInfo: clone(d.ModelInfo)})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /model/info", s.info)
	mux.HandleFunc("POST /model/block", s.block(true))
	mux.HandleFunc("POST /model/unblock", s.block(false))
	mux.HandleFunc("POST /model/update", s.update)
	mux.HandleFunc("GET /key/info", s.keyInfo)
	mux.HandleFunc("GET /key/list", s.keyList)
	mux.HandleFunc("POST /key/block", s.keyBlock(true))
	mux.HandleFunc("POST /key/unblock", s.keyBlock(false))
	mux.HandleFunc("POST /key/update", s.keyUpdate)
	s.srv = httptest.NewServer(s.Wrap(s.auth(mux)))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// IgnoreWrites makes writes succeed without effect.
func (s *Server) IgnoreWrites(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignoreWrites = on
}

// State is the body GET /model/info answers now.
func (s *Server) State() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"data": s.deps})
	return b
}

// Set changes a deployment's model_info or litellm_params key, as an operator would in
// the proxy's UI (nil deletes it).
func (s *Server) Set(id, section, key string, value any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.find(id); d != nil {
		m := d.ModelInfo
		if section == "litellm_params" {
			m = d.LiteLLMParams
		}
		if value == nil {
			delete(m, key)
		} else {
			m[key] = value
		}
	}
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.MasterKey {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"message": "Authentication Error, invalid proxy server token passed", "type": "auth_error"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.State())
}

func (s *Server) find(id string) *Deployment {
	for _, d := range s.deps {
		if d.ModelInfo["id"] == id {
			return d
		}
	}
	return nil
}

func (s *Server) block(blocked bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			ModelID string `json:"model_id"`
		}
		if json.NewDecoder(r.Body).Decode(&body) != nil || body.ModelID == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "model_id is required"})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		d := s.find(body.ModelID)
		if d == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"detail": "model not found: " + body.ModelID})
			return
		}
		if !s.ignoreWrites {
			d.ModelInfo["blocked"] = blocked
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
	}
}

// update merges model_info (but the id) and litellm_params; a null value deletes the key.
func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ModelInfo     map[string]any `json:"model_info"`
		LiteLLMParams map[string]any `json:"litellm_params"`
	}
	if json.NewDecoder(r.Body).Decode(&body) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "invalid JSON"})
		return
	}
	id, _ := body.ModelInfo["id"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.find(id)
	if d == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"detail": "model_info.id is required and must name a deployment"})
		return
	}
	if !s.ignoreWrites {
		merge(d.ModelInfo, body.ModelInfo, "id")
		merge(d.LiteLLMParams, body.LiteLLMParams, "")
	}
	writeJSON(w, http.StatusOK, d)
}

func merge(dst, src map[string]any, skip string) {
	for k, v := range src {
		switch {
		case k == skip:
		case v == nil:
			delete(dst, k)
		default:
			dst[k] = v
		}
	}
}

func clone(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
