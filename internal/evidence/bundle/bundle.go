// Package bundle is the traffic evidence format (quench.traffic.snapshot/v1): the builder
// that turns the requests of an incident window and its baseline into aggregates per
// provider / model / prompt version, what changed most, per-agent usage and redacted,
// capped samples, with a manifest that says where the numbers came from. Every traffic
// source (the JSONL log, Langfuse, Prometheus) produces this one format, and the report and
// postmortem read it.
package bundle

import (
	"fmt"
	"sort"
	"time"

	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/internal/targets/traffic/redact"
)

// Schema names the bundle format.
const Schema = "quench.traffic.snapshot/v1"

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
	// Series are the incident window as time series per provider, from sources that have
	// them (Prometheus range queries), to see when it started. Dropped first when capping.
	Series []Series `json:"series,omitempty"`

	// redacted: the builder redacted the samples and wrote the manifest's redaction, so a
	// cut of samples recounts what is masked in those kept.
	redacted bool
}

// noteRedaction writes the manifest's redaction note and counts from the samples kept.
func (b *Bundle) noteRedaction() {
	var masked redact.Result
	for _, s := range b.Samples {
		masked.Add(s.masked)
	}
	b.Manifest.Masked = masked.Masked
	b.Manifest.Redaction = RedactionNote(len(b.Samples), masked.Masked)
}

// Series is one signal of one provider over the incident window.
type Series struct {
	Signal   string  `json:"signal"` // error_rate | latency_p95_ms
	Provider string  `json:"provider"`
	Step     string  `json:"step"`
	Points   []Point `json:"points"`
}

// Point is one value of a Series.
type Point struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
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
	// BaselineCoveredMinutes is set when the traffic covers only part of the baseline
	// window (a log younger than it): the minutes its per-minute rates are taken over.
	BaselineCoveredMinutes float64 `json:"baseline_covered_minutes,omitempty"`
	Route                  string  `json:"route,omitempty"`
	LinesRead              int     `json:"lines_read"`
	Malformed              int     `json:"malformed_lines_skipped"`
	OtherRoutes            int     `json:"other_route_lines_skipped"`
	Incident               int     `json:"incident_requests"`
	BaselineN              int     `json:"baseline_requests"`
	GroupsTotal            int     `json:"groups_total"`
	GroupsKept             int     `json:"groups_kept"`
	SamplesCap             int     `json:"samples_cap"`
	SamplesKept            int     `json:"samples_kept"`
	// LinesSHA256 is the sha256 of every line counted in either window, in file order,
	// each followed by "\n": the exact input the numbers were computed from.
	LinesSHA256 string `json:"lines_sha256"`
	// Redaction says what was done to request text, claiming no more than the redactor
	// does; Masked counts what it masked in the samples kept, by kind (redact.Kind…).
	Redaction string         `json:"redaction"`
	Masked    map[string]int `json:"masked,omitempty"`
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

	masked map[string]int // what the redactor masked in Input and Output, by kind
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

// sampler keeps the newest requests of the incident window, favouring failures: at least
// half the samples are errors when there are that many.
type sampler struct {
	cap       int
	errs, oks []Record // rings of the newest, oldest first after ordering
	nErr, nOK int
}

func newSampler(n int) *sampler { return &sampler{cap: n} }

func (s *sampler) offer(r *Record) {
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

// result is the samples, redacted.
func (s *sampler) result() []Sample {
	newestFirst := func(ring []Record) []Record {
		out := append([]Record(nil), ring...)
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

func sampleOf(r *Record) Sample {
	s := Sample{
		Time: r.Time.UTC(), Provider: r.Provider, RequestModel: r.RequestModel, ResponseModel: r.ResponseModel,
		Operation: r.Operation, Route: r.Route, Prompt: r.prompt(), AgentKey: r.AgentKey,
		ErrorType: string(r.ErrorType), FinishReasons: r.FinishReasons,
		DurationMs: r.DurationMs, InputTokens: r.InputTokens, OutputTokens: r.OutputTokens, CostUSD: r.CostUSD,
	}
	var masked redact.Result
	if r.Input != "" {
		var m map[string]int
		s.Input, s.InputTruncated, m = redactText(r.Input)
		s.InputSHA256 = redact.Digest(r.Input)
		masked.Add(m)
	}
	if r.Output != "" {
		var m map[string]int
		s.Output, s.OutputTruncated, m = redactText(r.Output)
		s.OutputSHA256 = redact.Digest(r.Output)
		masked.Add(m)
	}
	s.masked = masked.Masked
	return s
}

// redactText masks then cuts to the sample's length: cutting first could split a secret so
// that it no longer looks like one and survives. Raw text over maxRedactBytes is cut before
// (the redactor's time grows with it); a key block cut there has no END line, which the
// redactor masks all the same.
func redactText(text string) (string, bool, map[string]int) {
	truncated := false
	if len(text) > maxRedactBytes {
		text = text[:maxRedactBytes]
		truncated = true
	}
	res := redact.Redact(text)
	out := []rune(res.Text)
	if len(out) > maxSampleRunes {
		return string(out[:maxSampleRunes]) + "…", true, res.Masked
	}
	return string(out), truncated, res.Masked
}

// Limits that keep a bundle well under the evidence store's size limit.
const (
	maxGroups      = 100
	maxSamples     = 100
	maxSampleRunes = 2000     // of each redacted text
	maxRedactBytes = 16 << 10 // of raw text fed to the redactor
)
