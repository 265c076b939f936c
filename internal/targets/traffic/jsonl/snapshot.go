// Package jsonl is the embedded traffic target: a JSONL request log, one JSON object per
// LLM request with OpenTelemetry GenAI attribute names (gen_ai.provider.name,
// gen_ai.response.model, gen_ai.usage.output_tokens, ...) plus time, duration_ms,
// error.type, route, prompt.name, prompt.version, cost_usd, agent.key and optional input
// and output text. It builds evidence bundles (incident window against a baseline) and
// measures signals for a step's verify.
package jsonl

import (
	"context"
	"fmt"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/traffic/redact"
	"path/filepath"
	"sort"
	"time"
)

// Schema names the bundle format.
const Schema = "quench.traffic.snapshot/v1"

// Limits that keep a bundle well under the evidence store's size limit.
const (
	maxGroups      = 100
	maxSamples     = 100
	maxSampleRunes = 2000     // of each redacted text
	maxRedactBytes = 16 << 10 // of raw text fed to the redactor
)

// Log is a JSONL request log on disk. It is read-only and safe for concurrent use.
type Log struct {
	path        string
	slack       time.Duration
	searchAbove int64
}

// Option configures a Log.
type Option func(*Log)

// WithSlack sets how far out of time order lines may be (default 1h).
func WithSlack(d time.Duration) Option { return func(l *Log) { l.slack = d } }

// WithSearchAbove sets the file size above which reading starts from a binary search for
// the window instead of the top of the file (default 1 MiB); 0 always searches, a negative
// value never does.
func WithSearchAbove(n int64) Option {
	return func(l *Log) {
		if n < 0 {
			n = 1<<63 - 1
		}
		l.searchAbove = n
	}
}

// New returns the log at path. The file is opened on each read, so it may be rotated or
// not exist yet.
func New(path string, opts ...Option) *Log {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	l := &Log{path: path, slack: time.Hour, searchAbove: 1 << 20}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Path is the log's file.
func (l *Log) Path() string { return l.path }

// Bundle is the evidence document of a snapshot.
type Bundle struct {
	Schema   string                `json:"schema"`
	Headline ports.TrafficHeadline `json:"headline"`
	Manifest Manifest              `json:"manifest"`
	Totals   struct {
		Incident Stats `json:"incident"`
		Baseline Stats `json:"baseline"`
	} `json:"totals"`
	Groups  []Group  `json:"groups"`
	Agents  []Agent  `json:"agents,omitempty"` // top agent keys by incident spend
	Changes []Change `json:"changes"`
	Samples []Sample `json:"samples"`
}

// Span is a time window [From, To].
type Span struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Manifest says what the bundle was built from, so it can be checked and reproduced.
type Manifest struct {
	Source      string `json:"source"`
	SourceBytes int64  `json:"source_bytes"`
	StartOffset int64  `json:"start_offset"` // where reading began (a search skips old lines)
	Window      Span   `json:"window"`
	Baseline    Span   `json:"baseline"`
	Route       string `json:"route,omitempty"`
	LinesRead   int    `json:"lines_read"`
	Malformed   int    `json:"malformed_lines_skipped"`
	OtherRoutes int    `json:"other_route_lines_skipped"`
	Incident    int    `json:"incident_requests"`
	BaselineN   int    `json:"baseline_requests"`
	GroupsTotal int    `json:"groups_total"`
	GroupsKept  int    `json:"groups_kept"`
	SamplesCap  int    `json:"samples_cap"`
	SamplesKept int    `json:"samples_kept"`
	// LinesSHA256 is the sha256 of every line counted in either window, in file order,
	// each followed by "\n": the exact input the numbers were computed from.
	LinesSHA256 string `json:"lines_sha256"`
	Redaction   string `json:"redaction"`
	// Sources other than a log file (an API) say what they read: the queries or endpoints
	// behind the numbers, a digest of each raw answer, and anything a reader should know
	// (a capped read, a field the source does not have).
	Queries []string          `json:"queries,omitempty"`
	Digests map[string]string `json:"digests,omitempty"`
	Notes   []string          `json:"notes,omitempty"`
	// Truncated says what was cut to keep the bundle under its size cap.
	Truncated string `json:"truncated,omitempty"`
}

// Group is one (provider, response model, prompt version) in both windows.
type Group struct {
	Provider      string `json:"provider"`
	ResponseModel string `json:"response_model"`
	PromptName    string `json:"prompt_name,omitempty"`
	PromptVersion string `json:"prompt_version,omitempty"`
	Incident      Stats  `json:"incident"`
	Baseline      Stats  `json:"baseline"`
}

// Sample is one request of the incident window with its texts redacted.
type Sample struct {
	Time            time.Time `json:"time"`
	Provider        string    `json:"provider"`
	RequestModel    string    `json:"request_model,omitempty"`
	ResponseModel   string    `json:"response_model,omitempty"`
	Operation       string    `json:"operation,omitempty"`
	Route           string    `json:"route,omitempty"`
	Prompt          string    `json:"prompt,omitempty"`
	AgentKey        string    `json:"agent_key,omitempty"`
	ErrorType       string    `json:"error_type,omitempty"`
	FinishReasons   []string  `json:"finish_reasons,omitempty"`
	DurationMs      *float64  `json:"duration_ms,omitempty"`
	InputTokens     *float64  `json:"input_tokens,omitempty"`
	OutputTokens    *float64  `json:"output_tokens,omitempty"`
	CostUSD         *float64  `json:"cost_usd,omitempty"`
	Input           string    `json:"input,omitempty"`
	InputSHA256     string    `json:"input_sha256,omitempty"`
	InputTruncated  bool      `json:"input_truncated,omitempty"`
	Output          string    `json:"output,omitempty"`
	OutputSHA256    string    `json:"output_sha256,omitempty"`
	OutputTruncated bool      `json:"output_truncated,omitempty"`
}

// Snapshot builds the evidence bundle of req's windows.
func (l *Log) Snapshot(ctx context.Context, req ports.SnapshotRequest) (ports.TrafficSnapshot, error) {
	b, err := NewBuilder(req)
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	win, base := b.Incident(), b.Baseline()
	stats, err := l.scan(ctx, base.From, win.To, func(r *record, raw []byte) { b.add(r, raw) })
	if err != nil {
		return ports.TrafficSnapshot{}, err
	}
	return b.Build(Manifest{
		Source: l.path, SourceBytes: stats.SourceBytes, StartOffset: stats.StartOffset,
		LinesRead: stats.Lines, Malformed: stats.Malformed,
	})
}

func topChange(changes []Change, total *pair) string {
	switch {
	case total.inc.requests == 0 && total.base.requests == 0:
		return "no requests in the incident window or the baseline: check that the traffic log is being written"
	case total.inc.requests == 0:
		return "no requests in the incident window (traffic stopped?)"
	case len(changes) == 0:
		return "no notable change against the baseline"
	default:
		return changes[0].Text
	}
}

// groupList orders groups by incident traffic, then baseline traffic, and keeps the
// busiest maxGroups.
func groupList(groups map[groupKey]*pair) []Group {
	out := make([]Group, 0, len(groups))
	for k, g := range groups {
		out = append(out, Group{
			Provider: k.Provider, ResponseModel: k.ResponseModel, PromptName: k.PromptName, PromptVersion: k.PromptVersion,
			Incident: g.inc.stats(), Baseline: g.base.stats(),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Incident.Requests != b.Incident.Requests {
			return a.Incident.Requests > b.Incident.Requests
		}
		if a.Baseline.Requests != b.Baseline.Requests {
			return a.Baseline.Requests > b.Baseline.Requests
		}
		return fmt.Sprint(a.Provider, a.ResponseModel, a.PromptName, a.PromptVersion) <
			fmt.Sprint(b.Provider, b.ResponseModel, b.PromptName, b.PromptVersion)
	})
	if len(out) > maxGroups {
		out = out[:maxGroups]
	}
	return out
}

// Measure reads one value of a signal over [Now-Window, Now].
func (l *Log) Measure(ctx context.Context, in ports.VerifyInput) (ports.VerifyResult, error) {
	switch in.Signal {
	case "error_rate", "latency_p95", "output_tokens":
	case "promql":
		return ports.VerifyResult{}, ports.Permanentf("the JSONL traffic log cannot evaluate promql; verify with error_rate, latency_p95 or output_tokens, or configure Prometheus as the traffic source")
	default:
		return ports.VerifyResult{}, ports.Permanentf("unknown signal %q: use error_rate, latency_p95 or output_tokens", in.Signal)
	}
	if in.Window <= 0 {
		return ports.VerifyResult{}, ports.Permanentf("the measurement window must be positive (got %s)", in.Window)
	}
	now := in.Now.UTC()
	from := now.Add(-in.Window)
	var a acc
	if _, err := l.scan(ctx, from, now, func(r *record, _ []byte) {
		if r.Time.Before(from) || r.Time.After(now) || (in.Route != "" && r.Route != in.Route) {
			return
		}
		a.add(r)
	}); err != nil {
		return ports.VerifyResult{}, err
	}
	res := ports.VerifyResult{Requests: a.requests}
	where := ""
	if in.Route != "" {
		where = " on route " + in.Route
	}
	if a.requests == 0 {
		res.Detail = fmt.Sprintf("no requests in the last %s%s: the value is not meaningful", in.Window, where)
		return res, nil
	}
	s := a.stats()
	switch in.Signal {
	case "error_rate":
		res.Value = s.ErrorRate
		res.Detail = fmt.Sprintf("%d of %d requests failed in the last %s%s", s.Errors, s.Requests, in.Window, where)
	case "latency_p95":
		if s.LatencyMs != nil {
			res.Value = s.LatencyMs.P95
		}
		res.Detail = fmt.Sprintf("p95 latency %.0f ms over %d requests in the last %s%s", res.Value, s.Requests, in.Window, where)
	case "output_tokens":
		if s.OutputTokens != nil {
			res.Value = s.OutputTokens.Mean
		}
		res.Detail = fmt.Sprintf("mean output tokens %.1f over %d successful requests in the last %s%s", res.Value, a.outTokens.n, in.Window, where)
	}
	return res, nil
}

// sampler keeps the newest requests of the incident window, favouring failures: at least
// half the samples are errors when there are that many.
type sampler struct {
	cap       int
	errs, oks []record // rings of the newest, oldest first after ordering
	nErr, nOK int
}

func newSampler(n int) *sampler { return &sampler{cap: n} }

func (s *sampler) offer(r *record) {
	if s.cap == 0 {
		return
	}
	ring, n := &s.oks, &s.nOK
	if r.failed() {
		ring, n = &s.errs, &s.nErr
	}
	if len(*ring) < s.cap {
		*ring = append(*ring, *r)
	} else {
		(*ring)[*n%s.cap] = *r
	}
	*n++
}

func (s *sampler) result() []Sample {
	newestFirst := func(ring []record) []record {
		out := append([]record(nil), ring...)
		sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
		return out
	}
	errs, oks := newestFirst(s.errs), newestFirst(s.oks)
	wantErrs := min(len(errs), (s.cap+1)/2)
	if len(oks) < s.cap-wantErrs {
		wantErrs = min(len(errs), s.cap-len(oks))
	}
	picked := append(errs[:wantErrs:wantErrs], oks[:min(len(oks), s.cap-wantErrs)]...)
	sort.SliceStable(picked, func(i, j int) bool { return picked[i].Time.Before(picked[j].Time) })
	out := make([]Sample, 0, len(picked))
	for i := range picked {
		out = append(out, sampleOf(&picked[i]))
	}
	return out
}

func sampleOf(r *record) Sample {
	s := Sample{
		Time: r.Time.UTC(), Provider: r.Provider, RequestModel: r.RequestModel, ResponseModel: r.ResponseModel,
		Operation: r.Operation, Route: r.Route, Prompt: r.prompt(), AgentKey: r.AgentKey,
		ErrorType: string(r.ErrorType), FinishReasons: r.FinishReasons,
		DurationMs: r.DurationMs, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, CostUSD: r.CostUSD,
	}
	if r.Input != "" {
		s.Input, s.InputTruncated = redactText(r.Input)
		s.InputSHA256 = redact.Digest(r.Input)
	}
	if r.Output != "" {
		s.Output, s.OutputTruncated = redactText(r.Output)
		s.OutputSHA256 = redact.Digest(r.Output)
	}
	return s
}

// redactText masks then cuts: cutting first could split a secret so that it no longer
// looks like one and survives.
func redactText(text string) (string, bool) {
	truncated := false
	if len(text) > maxRedactBytes {
		text = text[:maxRedactBytes]
		truncated = true
	}
	out := []rune(redact.String(text))
	if len(out) > maxSampleRunes {
		return string(out[:maxSampleRunes]) + "…", true
	}
	return string(out), truncated
}

var _ ports.Traffic = (*Log)(nil)
