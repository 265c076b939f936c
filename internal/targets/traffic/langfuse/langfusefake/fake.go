// Package langfusefake is a stateful fake of the parts of Langfuse's public API quench
// uses: v2 observations (cursor pagination, field groups, a route filter), v2 metrics
// (count, latency p95, output tokens avg; by level), and prompt management (list, get by
// version or label, create, PATCH a version's labels) with signed prompt-version webhooks.
// Basic auth, a record of calls and injected failures come with it.
package langfusefake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quench-dev/quench/internal/targets/httpapi/apifake"
)

// Generation is one LLM request to load into the fake.
type Generation struct {
	ID            string
	Start         time.Time
	Duration      time.Duration
	Model         string // providedModelName
	Provider      string // metadata gen_ai.provider.name
	Route         string // metadata route
	Level         string // DEFAULT | ERROR
	StatusMessage string
	PromptName    string
	PromptVersion int
	InputTokens   int
	OutputTokens  int
	Cost          float64
	FinishReason  string
	Input         any
	Output        any
	Environment   string
	ResponseModel string // metadata gen_ai.response.model, as OpenTelemetry GenAI instrumentation records it
	UserID        string // userId: the agent or end user
}

func (g Generation) json() map[string]any {
	end := g.Start.Add(g.Duration)
	meta := map[string]any{}
	if g.Provider != "" {
		meta["gen_ai.provider.name"] = g.Provider
	}
	if g.Route != "" {
		meta["route"] = g.Route
	}
	if g.FinishReason != "" {
		meta["gen_ai.response.finish_reasons"] = []string{g.FinishReason}
	}
	if g.ResponseModel != "" {
		meta["gen_ai.response.model"] = g.ResponseModel
	}
	level := g.Level
	if level == "" {
		level = "DEFAULT"
	}
	env := g.Environment
	if env == "" {
		env = "default"
	}
	o := map[string]any{
		"id": g.ID, "traceId": "t-" + g.ID, "projectId": "p1", "type": "GENERATION", "name": "chat",
		"startTime": g.Start.UTC().Format(time.RFC3339Nano), "endTime": end.UTC().Format(time.RFC3339Nano),
		"level": level, "statusMessage": nilIfEmpty(g.StatusMessage), "environment": env,
		"providedModelName": g.Model, "metadata": meta,
		"usageDetails": map[string]int{"input": g.InputTokens, "output": g.OutputTokens, "total": g.InputTokens + g.OutputTokens},
		"costDetails":  map[string]float64{"total": g.Cost}, "totalCost": g.Cost,
		"latency": g.Duration.Seconds(), "input": g.Input, "output": g.Output,
	}
	if g.PromptName != "" {
		o["promptName"], o["promptVersion"] = g.PromptName, g.PromptVersion
	}
	if g.UserID != "" {
		o["userId"] = g.UserID
	}
	return o
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// PromptVersion is one version of a prompt.
type PromptVersion struct {
	Name          string    `json:"name"`
	Version       int       `json:"version"`
	Labels        []string  `json:"labels"`
	Tags          []string  `json:"tags"`
	Prompt        string    `json:"prompt"`
	Type          string    `json:"type"`
	Config        any       `json:"config"`
	CommitMessage string    `json:"commitMessage,omitempty"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
	CreatedBy     string    `json:"createdBy,omitempty"`
}

// Server is the fake.
type Server struct {
	*apifake.Recorder
	URL                  string
	PublicKey, SecretKey string

	srv *httptest.Server
	mu  sync.Mutex
	obs []map[string]any
	// emptyEvery makes every Nth observations page empty while the cursor goes on.
	emptyEvery int
	prompts    map[string][]*PromptVersion
	now        func() time.Time
	hook       webhook
}

type webhook struct {
	url, secret string
	deliveries  []Delivery
	queue       chan event
	pending     int
	idle        *sync.Cond
}

// Delivery is one webhook the fake sent, with the answer it got.
type Delivery struct {
	Action string
	Prompt string
	Code   int
}

// New starts a fake.
func New(publicKey, secretKey string) *Server {
	s := &Server{Recorder: &apifake.Recorder{}, PublicKey: publicKey, SecretKey: secretKey,
		prompts: map[string][]*PromptVersion{}, now: func() time.Time { return time.Now().UTC() }}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/public/v2/observations", s.observations)
	mux.HandleFunc("GET /api/public/v2/metrics", s.metrics)
	mux.HandleFunc("GET /api/public/v2/prompts", s.listPrompts)
	mux.HandleFunc("POST /api/public/v2/prompts", s.createPrompt)
	mux.HandleFunc("GET /api/public/v2/prompts/{name}", s.getPrompt)
	mux.HandleFunc("PATCH /api/public/v2/prompts/{name}/versions/{version}", s.patchLabels)
	s.srv = httptest.NewServer(s.Wrap(s.auth(mux)))
	s.URL = s.srv.URL
	return s
}

// Close stops the server and its webhook deliveries.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hook.queue != nil {
		close(s.hook.queue)
		s.hook.queue = nil
	}
}

// AddGenerations loads requests.
func (s *Server) AddGenerations(gs ...Generation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range gs {
		s.obs = append(s.obs, g.json())
	}
}

// EmptyPageEvery makes every nth observations page empty (with a cursor), as Langfuse does
// when it cuts a slow query short.
func (s *Server) EmptyPageEvery(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emptyEvery = n
}

func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != s.PublicKey || p != s.SecretKey {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Invalid credentials"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) observations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	from, errFrom := time.Parse(time.RFC3339Nano, q.Get("fromStartTime"))
	to, errTo := time.Parse(time.RFC3339Nano, q.Get("toStartTime"))
	if errFrom != nil || errTo != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "fromStartTime and toStartTime must be ISO 8601"})
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	route := routeFilter(q.Get("filter"))
	withIO := strings.Contains(q.Get("fields"), "io")
	offset, page := 0, 0
	if c := q.Get("cursor"); c != "" {
		b, err := base64.StdEncoding.DecodeString(c)
		if _, err2 := parseCursor(string(b), &offset, &page); err != nil || err2 != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": "invalid cursor"})
			return
		}
	}
	s.mu.Lock()
	var match []map[string]any
	for _, o := range s.obs {
		start, _ := time.Parse(time.RFC3339Nano, o["startTime"].(string))
		if o["type"] != q.Get("type") && q.Get("type") != "" || start.Before(from) || !start.Before(to) {
			continue
		}
		if env := q.Get("environment"); env != "" && o["environment"] != env {
			continue
		}
		if route != "" && o["metadata"].(map[string]any)["route"] != route {
			continue
		}
		match = append(match, o)
	}
	empty := s.emptyEvery > 0 && (page+1)%s.emptyEvery == 0
	s.mu.Unlock()
	sort.SliceStable(match, func(i, j int) bool { return match[i]["startTime"].(string) > match[j]["startTime"].(string) })
	data := []map[string]any{}
	next := offset
	if !empty {
		for i := offset; i < len(match) && i < offset+limit; i++ {
			o := map[string]any{}
			for k, v := range match[i] {
				if !withIO && (k == "input" || k == "output") {
					continue
				}
				o[k] = v
			}
			data = append(data, o)
		}
		next = offset + len(data)
	}
	meta := map[string]any{}
	if next < len(match) {
		meta["cursor"] = base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(next) + ":" + strconv.Itoa(page+1)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "meta": meta})
}

func parseCursor(c string, offset, page *int) (bool, error) {
	a, b, _ := strings.Cut(c, ":")
	var err error
	if *offset, err = strconv.Atoi(a); err != nil {
		return false, err
	}
	*page, err = strconv.Atoi(b)
	return true, err
}

// routeFilter reads a metadata route condition of a filter parameter.
func routeFilter(filter string) string {
	var conds []map[string]any
	_ = json.Unmarshal([]byte(filter), &conds)
	for _, c := range conds {
		if c["column"] == "metadata" && c["key"] == "route" && c["operator"] == "=" {
			v, _ := c["value"].(string)
			return v
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}
