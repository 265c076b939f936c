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
	// RequestModel names the model alias whose response models the headline reports
	// (silent-model-change's request_model); empty: the alias whose answers changed most.
	RequestModel string
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
	// For one request model (SnapshotRequest.RequestModel, else the one whose answers
	// changed most): the response model most of its successful requests were answered with
	// in the baseline and in the incident window. Empty where the source cannot tell (no
	// successful request of it in that window, or a source without response models).
	// silent-model-change pins RequestModel to BaselineResponseModel.
	RequestModel          string `json:"request_model,omitempty"`
	BaselineResponseModel string `json:"baseline_response_model,omitempty"`
	ResponseModel         string `json:"response_model,omitempty"`
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
	Signal     string        `json:"signal"` // error_rate | latency_p95 | output_tokens | promql | model_drift | key_served
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
	// Model and PinnedModel, for model_drift: the share of the requests for Model (the
	// alias a gateway.pin_model fixed) answered by another response model than PinnedModel.
	Model       string `json:"model,omitempty"`
	PinnedModel string `json:"pinned_model,omitempty"`
	// Key, for key_served: the agent key a gateway.block refused; the value is how many of
	// its requests were served (succeeded) out of all the route's requests measured.
	Key string `json:"key,omitempty"`
}

// The verify signals that judge one mitigation rather than the route's health.
const (
	// SignalModelDrift: the share, among successful requests for VerifyInput.Model, of
	// those answered by another response model than VerifyInput.PinnedModel (0 = the pin
	// holds). Requests counts the successful requests for Model.
	SignalModelDrift = "model_drift"
	// SignalKeyServed: how many requests of VerifyInput.Key succeeded (0 = the block
	// holds). Requests counts every request of the route, so a verify judges only once
	// traffic is seen flowing after the block.
	SignalKeyServed = "key_served"
)

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
	// NotConfigured: there is no traffic source to measure with (what to configure); the
	// verify is skipped rather than judged.
	NotConfigured string `json:"not_configured,omitempty"`
}
