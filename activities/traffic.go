package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// TrafficActivities capture LLM traffic evidence and measure signals for verify.
type TrafficActivities struct {
	Traffic  ports.Traffic
	Evidence ports.EvidenceStore
	Probes   Probes       // nil: no probes; the fail back's health comes from Traffic
	Logger   *slog.Logger // nil: slog.Default()
}

// DefaultVerifyWindow is the measurement window when a verify sets none.
const DefaultVerifyWindow = 5 * time.Minute

// Snapshot writes an evidence bundle of the incident window against the baseline to the
// evidence store (traffic.snapshot). Only the reference and the headline go to history.
func (a *TrafficActivities) Snapshot(ctx context.Context, in StepInput) (StepResult, error) {
	if a.Traffic == nil {
		return skipped(ctx, a.Logger, in, PortTraffic, noTrafficSource), nil
	}
	if a.Evidence == nil {
		return StepResult{}, notConfigured("no evidence store configured: quench keeps evidence under --data-dir/evidence; this worker was started without one (check the worker's wiring)")
	}
	p := paramsOf(ActionTrafficSnapshot, in)
	window, err := p.positiveDuration("window")
	if err != nil {
		return StepResult{}, err
	}
	baseline, err := p.positiveDuration("baseline")
	if err != nil {
		return StepResult{}, err
	}
	samples, err := p.integer("samples")
	if err != nil {
		return StepResult{}, err
	}
	if samples < 0 {
		return StepResult{}, invalidParams(ActionTrafficSnapshot, "param \"samples\" must be 0 or more (got %d)", samples)
	}
	if _, err := identityOf(ActionTrafficSnapshot, in); err != nil {
		return StepResult{}, err
	}
	if in.StepID == "" {
		return StepResult{}, invalidParams(ActionTrafficSnapshot, "the step input has no step_id, which names the evidence bundle")
	}
	req := ports.SnapshotRequest{Window: window, Baseline: baseline, Now: stepNow(in), Route: p.str("route"), Samples: samples, RequestModel: p.str("request_model")}

	return withHeartbeat(ctx, func(ctx context.Context) (StepResult, error) {
		// A retry after the bundle was stored answers from the stored bundle: evidence is
		// captured once, even if the log has changed since.
		ref, data, ok, err := a.Evidence.Get(ctx, in.IncidentID, in.StepID)
		if err != nil {
			return StepResult{}, classify(ActionTrafficSnapshot, err)
		}
		var headline ports.TrafficHeadline
		if ok {
			var doc struct {
				Headline ports.TrafficHeadline `json:"headline"`
			}
			if err := json.Unmarshal(data, &doc); err != nil {
				return StepResult{}, classify(ActionTrafficSnapshot, ports.Permanentf("evidence %s exists but is not a traffic bundle (%v); remove it to capture again", ref.URI, err))
			}
			headline = doc.Headline
		} else {
			snap, err := a.Traffic.Snapshot(ctx, req)
			if err != nil {
				return StepResult{}, classify(ActionTrafficSnapshot, err)
			}
			headline = snap.Headline
			if ref, err = a.Evidence.Put(ctx, in.IncidentID, in.StepID, snap.Bundle); err != nil {
				return StepResult{}, classify(ActionTrafficSnapshot, err)
			}
		}
		ref.Summary = headline.TopChange
		return StepResult{
			Summary: fmt.Sprintf("traffic snapshot: %d requests in the last %s, error rate %.1f%% (baseline %.1f%%); %s",
				headline.Requests, window, 100*headline.ErrorRate, 100*headline.BaselineErrorRate, headline.TopChange),
			Outputs: map[string]any{
				"evidence": ref.URI, "sha256": ref.SHA256, "requests": headline.Requests,
				"error_rate": headline.ErrorRate, "baseline_error_rate": headline.BaselineErrorRate,
				"top_change": headline.TopChange,
				// The request model's answers before and now: silent-model-change pins
				// request_model to baseline_response_model. "" where the source cannot tell.
				"request_model": headline.RequestModel, "baseline_response_model": headline.BaselineResponseModel,
				"response_model": headline.ResponseModel,
			},
			Evidence: []ports.EvidenceRef{ref},
		}, nil
	})
}

// Measure reads one value of a signal over a recent window (traffic.measure), for a step's
// verify. It has no side effect, so a retry simply measures again.
func (a *TrafficActivities) Measure(ctx context.Context, in ports.VerifyInput) (ports.VerifyResult, error) {
	if a.Traffic == nil {
		// Nothing can measure the signal: verify is skipped, not inconclusive, so
		// nobody is paged for a source that was never configured.
		logger := a.Logger
		if logger == nil {
			logger = slog.Default()
		}
		logger.LogAttrs(ctx, slog.LevelInfo, "verify skipped: traffic not configured",
			slog.String("incident", in.IncidentID), slog.String("step", in.StepID), slog.String("reason", noTrafficSource))
		return ports.VerifyResult{NotConfigured: noTrafficSource}, nil
	}
	switch in.Signal {
	case "error_rate", "latency_p95", "output_tokens", "promql":
	case ports.SignalModelDrift:
		if in.Model == "" || in.PinnedModel == "" {
			return ports.VerifyResult{}, invalidParams(VerifyActivity, "signal model_drift needs the pinned model alias and the version it was pinned to (a gateway.pin_model step's model and to)")
		}
	case ports.SignalKeyServed:
		if in.Key == "" {
			return ports.VerifyResult{}, invalidParams(VerifyActivity, "signal key_served needs the blocked key (a gateway.block step's key)")
		}
	default:
		return ports.VerifyResult{}, invalidParams(VerifyActivity, "unknown signal %q; use error_rate, latency_p95, output_tokens, promql, model_drift or key_served", in.Signal)
	}
	if in.Window <= 0 {
		in.Window = DefaultVerifyWindow
	}
	if in.Now.IsZero() {
		in.Now = time.Now().UTC()
	}
	return withHeartbeat(ctx, func(ctx context.Context) (ports.VerifyResult, error) {
		res, err := a.Traffic.Measure(ctx, in)
		return res, classify(VerifyActivity, err)
	})
}
