package ports

import (
	"context"
	"time"
)

// Traffic reads LLM request traffic.
type Traffic interface {
	Snapshot(ctx context.Context, req SnapshotRequest) (TrafficSnapshot, error)
	Measure(ctx context.Context, in VerifyInput) (VerifyResult, error)
}

// SnapshotRequest asks for the incident window [Now-Window, Now] compared with the baseline
// window [Now-Window-Baseline, Now-Window].
type SnapshotRequest struct {
	Window   time.Duration
	Baseline time.Duration
	Now      time.Time
	Route    string // empty: all routes
	Samples  int    // max redacted samples
}

// TrafficSnapshot is an evidence bundle ready to store, with its headline.
type TrafficSnapshot struct {
	Bundle   []byte // JSON document; its top-level "headline" field holds Headline
	Headline TrafficHeadline
}

// TrafficHeadline is the part of a traffic bundle that goes into workflow history. Every
// bundle carries it under the top-level key "headline", so a retry that finds the bundle
// already stored can answer from it.
type TrafficHeadline struct {
	Requests          int     `json:"requests"`
	BaselineRequests  int     `json:"baseline_requests"`
	ErrorRate         float64 `json:"error_rate"`
	BaselineErrorRate float64 `json:"baseline_error_rate"`
	TopChange         string  `json:"top_change"`
}

// EvidenceStore keeps evidence bundles, immutable once written.
type EvidenceStore interface {
	// Put stores data as incident/name; the same bytes again return the same ref, other
	// bytes under an existing name are refused.
	Put(ctx context.Context, incident, name string, data []byte) (EvidenceRef, error)
	// Get returns a stored bundle, its digest verified; ok is false when there is none.
	Get(ctx context.Context, incident, name string) (ref EvidenceRef, data []byte, ok bool, err error)
}

// EvidenceRef points at a bundle in the evidence store.
type EvidenceRef struct {
	Name    string `json:"name"`
	URI     string `json:"uri"` // file:///... for the directory store
	SHA256  string `json:"sha256"`
	Bytes   int64  `json:"bytes"`
	Summary string `json:"summary,omitempty"`
}

// VerifyInput asks the traffic port for one measurement of a signal.
type VerifyInput struct {
	IncidentID string        `json:"incident_id"`
	StepID     string        `json:"step_id"`
	Signal     string        `json:"signal"` // error_rate | latency_p95 | output_tokens | promql
	Query      string        `json:"query,omitempty"`
	Route      string        `json:"route,omitempty"`
	Window     time.Duration `json:"window"`
	Now        time.Time     `json:"now"`
	// Since, when set, counts only requests that started at or after it (the end of the
	// change being verified): the window is [max(Now-Window, Since), Now]. A source that
	// knows only when requests ended or were counted says so in Detail.
	Since time.Time `json:"since,omitzero"`
	// Provider, when set, counts only requests served by this provider (the one the change
	// moved the route to), where the source records it; a source that does not measures the
	// whole route and says so in Detail.
	Provider string `json:"provider,omitempty"`
}

// From is where the measurement window starts: Window before Now, or Since if later.
func (in VerifyInput) From() time.Time {
	from := in.Now.Add(-in.Window)
	if !in.Since.IsZero() && in.Since.After(from) {
		return in.Since
	}
	return from
}

// VerifyResult is one measurement.
type VerifyResult struct {
	Value    float64 `json:"value"`
	Requests int     `json:"requests"` // sample size behind the value
	Detail   string  `json:"detail,omitempty"`
}
