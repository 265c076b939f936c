// Package langfuse reads LLM traffic from Langfuse's public API: evidence bundles (the
// same quench.traffic.snapshot/v1 as the JSONL log) from v2 observations, read page by
// page with the cursor, and the signals a step's verify polls from v2 metrics.
//
// A GENERATION observation is one request: providedModelName is the model; the provider is
// the first of ProviderKeys found in its metadata (default gen_ai.provider.name, provider,
// ls_provider), else the model's prefix ("openai/gpt-4o"); the route is metadata.route;
// the prompt is promptName@promptVersion; an ERROR level is a failed request, its type read
// from the status message (429, timeout, 5xx).
package langfuse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/httpapi"
)

// DefaultURL is Langfuse Cloud (EU).
const DefaultURL = "https://cloud.langfuse.com"

// Defaults.
const (
	DefaultPageSize        = 100
	DefaultMaxObservations = 50000
	// maxEmptyPages stops a server that keeps answering empty pages with a cursor.
	maxEmptyPages = 1000
)

// DefaultProviderKeys are the metadata keys read for the provider, in order.
var DefaultProviderKeys = []string{"gen_ai.provider.name", "gen_ai.system", "provider", "ls_provider"}

// Options configure the source.
type Options struct {
	URL       string
	PublicKey string
	SecretKey string
	Timeout   time.Duration
	// PageSize is the observations page size (limit); MaxObservations caps one snapshot's
	// read (the manifest says when it was reached).
	PageSize        int
	MaxObservations int
	ProviderKeys    []string
	RouteKey        string // metadata key of the route (default "route")
	Environment     string // only observations of this environment, when set
}

// Source is a Langfuse traffic source.
type Source struct {
	http *httpapi.Client
	opts Options
}

// New returns the source.
func New(opts Options) (*Source, error) {
	if opts.URL == "" {
		opts.URL = DefaultURL
	}
	if opts.PublicKey == "" || opts.SecretKey == "" {
		return nil, fmt.Errorf("traffic.langfuse needs public_key and secret_key (env:NAME or file:/path): Langfuse's public API authenticates with both")
	}
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	if opts.MaxObservations <= 0 {
		opts.MaxObservations = DefaultMaxObservations
	}
	if len(opts.ProviderKeys) == 0 {
		opts.ProviderKeys = DefaultProviderKeys
	}
	if opts.RouteKey == "" {
		opts.RouteKey = "route"
	}
	cl, err := httpapi.New("Langfuse", opts.URL, opts.Timeout, httpapi.Basic(opts.PublicKey, opts.SecretKey))
	if err != nil {
		return nil, err
	}
	return &Source{http: cl, opts: opts}, nil
}

// observation is the part of a v2 observation quench reads.
type observation struct {
	ID                string             `json:"id"`
	Type              string             `json:"type"`
	StartTime         time.Time          `json:"startTime"`
	EndTime           *time.Time         `json:"endTime"`
	Level             string             `json:"level"`
	StatusMessage     string             `json:"statusMessage"`
	ProvidedModelName string             `json:"providedModelName"`
	Metadata          map[string]any     `json:"metadata"`
	UsageDetails      map[string]float64 `json:"usageDetails"`
	CostDetails       map[string]float64 `json:"costDetails"`
	TotalCost         *float64           `json:"totalCost"`
	PromptName        string             `json:"promptName"`
	PromptVersion     *int               `json:"promptVersion"`
	Latency           *float64           `json:"latency"` // seconds
	UserID            string             `json:"userId"`
	Input             json.RawMessage    `json:"input"`
	Output            json.RawMessage    `json:"output"`
}

// read walks the observations of [from, to) page by page and calls fn for each with its raw
// JSON. It stops at limit observations (and reports it) or when the cursor runs out.
func (s *Source) read(ctx context.Context, from, to time.Time, route string, io bool, limit int, fn func(o *observation, raw []byte)) (n, pages int, capped bool, err error) {
	fields := "core,basic,time,metadata,model,usage,prompt,metrics"
	if io {
		fields += ",io"
	}
	q := url.Values{
		"type": {"GENERATION"}, "fields": {fields}, "limit": {strconv.Itoa(s.opts.PageSize)},
		"fromStartTime": {from.UTC().Format(time.RFC3339Nano)}, "toStartTime": {to.UTC().Format(time.RFC3339Nano)},
	}
	if s.opts.Environment != "" {
		q.Set("environment", s.opts.Environment)
	}
	if route != "" {
		f, _ := json.Marshal([]map[string]string{{"type": "stringObject", "column": "metadata", "key": s.opts.RouteKey, "operator": "=", "value": route}})
		q.Set("filter", string(f))
	}
	empty := 0
	for {
		if err := ctx.Err(); err != nil {
			return n, pages, false, err
		}
		var page struct {
			Data []json.RawMessage `json:"data"`
			Meta struct {
				Cursor string `json:"cursor"`
			} `json:"meta"`
		}
		if _, err := s.http.Do(ctx, http.MethodGet, "/api/public/v2/observations", q, nil, &page); err != nil {
			return n, pages, false, err
		}
		pages++
		for _, raw := range page.Data {
			if n >= limit {
				return n, pages, true, nil
			}
			var o observation
			if err := json.Unmarshal(raw, &o); err != nil || o.StartTime.IsZero() {
				continue
			}
			n++
			fn(&o, raw)
		}
		// A page may be short, even empty, while the cursor goes on (the server cut a slow
		// query): only a missing cursor ends the read.
		if page.Meta.Cursor == "" {
			return n, pages, false, nil
		}
		if len(page.Data) == 0 {
			if empty++; empty > maxEmptyPages {
				return n, pages, true, nil
			}
		} else {
			empty = 0
		}
		q.Set("cursor", page.Meta.Cursor)
	}
}

// Snapshot builds the evidence bundle of req's windows: the baseline without request
// bodies, the incident window with them (for the redacted samples).
func (s *Source) Snapshot(ctx context.Context, req ports.SnapshotRequest) (ports.TrafficSnapshot, error) {
	b, err := bundle.NewBuilder(req)
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	inc, base := b.Incident(), b.Baseline()
	seen := map[string]bool{}
	var read, dup int
	add := func(o *observation, raw []byte) {
		if seen[o.ID] {
			dup++
			return
		}
		seen[o.ID] = true
		read++
		b.Add(s.request(o), raw)
	}
	m := bundle.Manifest{Source: s.http.BaseURL + "/api/public/v2/observations", Digests: map[string]string{}}
	limit := s.opts.MaxObservations
	// The incident window first: if the cap is reached, it is the baseline that is short.
	nInc, pInc, cappedInc, err := s.read(ctx, inc.From, inc.To, req.Route, true, limit, add)
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	nBase, pBase, cappedBase, err := s.read(ctx, base.From, base.To, req.Route, false, max(0, limit-nInc), add)
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	m.LinesRead = read
	m.Queries = []string{
		fmt.Sprintf("GET /api/public/v2/observations type=GENERATION [%s, %s] with io: %d observations in %d pages", inc.From.Format(time.RFC3339), inc.To.Format(time.RFC3339), nInc, pInc),
		fmt.Sprintf("GET /api/public/v2/observations type=GENERATION [%s, %s]: %d observations in %d pages", base.From.Format(time.RFC3339), base.To.Format(time.RFC3339), nBase, pBase),
	}
	if cappedInc || cappedBase {
		m.Notes = append(m.Notes, fmt.Sprintf("read capped at %d observations (traffic.langfuse.max_observations): the numbers cover part of the windows", limit))
	}
	if dup > 0 {
		m.Notes = append(m.Notes, fmt.Sprintf("%d observations on the window boundary were read twice and counted once", dup))
	}
	// Cross-check with v2 metrics: how many observations Langfuse counts in each window.
	md := sha256.New()
	for _, w := range []struct {
		name string
		span bundle.Span
	}{{"incident", inc}, {"baseline", base}} {
		rows, err := s.metrics(ctx, md, metricsQuery{Measure: "count", Aggregation: "count", From: w.span.From, To: w.span.To, Route: req.Route})
		if err != nil {
			m.Notes = append(m.Notes, fmt.Sprintf("v2 metrics count of the %s window failed: %v", w.name, err))
			continue
		}
		m.Notes = append(m.Notes, fmt.Sprintf("v2 metrics count %d generations in the %s window", int(sumOf(rows, "count_count")), w.name))
	}
	m.Digests["metrics_sha256"] = hex.EncodeToString(md.Sum(nil))
	return b.Build(m)
}

// request turns an observation into a request record.
func (s *Source) request(o *observation) bundle.Request {
	r := bundle.Request{
		Time: o.StartTime, RequestModel: o.ProvidedModelName, ResponseModel: metaString(o.Metadata, "gen_ai.response.model"),
		Operation: "chat", Route: metaString(o.Metadata, s.opts.RouteKey), PromptName: o.PromptName,
		AgentKey: firstNonEmpty(metaString(o.Metadata, "agent.key"), o.UserID),
		Input:    text(o.Input), Output: text(o.Output),
	}
	for _, k := range s.opts.ProviderKeys {
		if v := metaString(o.Metadata, k); v != "" {
			r.Provider = v
			break
		}
	}
	if p, _, ok := strings.Cut(o.ProvidedModelName, "/"); ok && r.Provider == "" {
		r.Provider = p
	}
	if o.PromptVersion != nil {
		r.PromptVersion = strconv.Itoa(*o.PromptVersion)
	}
	if v, ok := o.UsageDetails["input"]; ok {
		r.InputTokens = &v
	}
	if v, ok := o.UsageDetails["output"]; ok {
		r.OutputTokens = &v
	}
	switch {
	case o.Latency != nil:
		ms := *o.Latency * 1000
		r.DurationMs = &ms
	case o.EndTime != nil:
		ms := float64(o.EndTime.Sub(o.StartTime).Milliseconds())
		r.DurationMs = &ms
	}
	switch {
	case o.TotalCost != nil:
		r.CostUSD = o.TotalCost
	case o.CostDetails["total"] != 0:
		v := o.CostDetails["total"]
		r.CostUSD = &v
	}
	r.FinishReasons = finishReasons(o.Metadata)
	if o.Level == "ERROR" {
		r.ErrorType = errorType(o.StatusMessage)
	}
	return r
}

// errorType reads a failed request's kind from its status message.
func errorType(msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "429") || strings.Contains(m, "rate limit") || strings.Contains(m, "ratelimit"):
		return "429"
	case strings.Contains(m, "timeout") || strings.Contains(m, "timed out"):
		return "timeout"
	case strings.Contains(m, "content_filter") || strings.Contains(m, "content filter"):
		return "content_filter"
	}
	for _, f := range strings.FieldsFunc(m, func(r rune) bool { return r < '0' || r > '9' }) {
		if len(f) == 3 && f[0] == '5' {
			return "5xx"
		}
	}
	return "error"
}

func finishReasons(meta map[string]any) []string {
	for _, k := range []string{"gen_ai.response.finish_reasons", "finish_reasons", "finish_reason"} {
		switch v := meta[k].(type) {
		case string:
			if v != "" {
				return []string{v}
			}
		case []any:
			var out []string
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	return nil
}

func metaString(meta map[string]any, key string) string {
	switch v := meta[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

// text is an observation's input or output as text: a string as is, anything else as JSON.
func text(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// digestWriter is where raw metrics answers go for the manifest (nil: nowhere).
type digestWriter = hash.Hash

var _ ports.Traffic = (*Source)(nil)
