package ports

import (
	"context"
	"time"
)

// ProviderHealthSource is a traffic source that can measure one provider's health over a
// window, whatever route sent the requests: a fail back measures the provider it would
// return to while the route is still on its fallback. Traffic adapters implement it where
// their data names the provider.
type ProviderHealthSource interface {
	ProviderHealth(ctx context.Context, in HealthInput) (HealthFigure, error)
}

// HealthInput asks for one provider's health over [Now-Window, Now].
type HealthInput struct {
	Provider string        `json:"provider"`
	Window   time.Duration `json:"window"`
	Now      time.Time     `json:"now"`
}

// Check refuses an input no source can measure, as a permanent error: asking again cannot help.
func (in HealthInput) Check() error {
	if in.Window <= 0 {
		return Permanentf("the health window must be positive (got %s)", in.Window)
	}
	if in.Provider == "" {
		return Permanentf("no provider to measure: the fail back names none")
	}
	return nil
}

// HealthFigure is a provider's measured health.
type HealthFigure struct {
	Requests  int     `json:"requests"` // sample size; 0: the figures say nothing
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"error_rate"`
	// LatencyP95Ms is the 95th percentile latency in milliseconds; 0 when unknown.
	LatencyP95Ms float64 `json:"latency_p95_ms"`
	Source       string  `json:"source"` // where the figure comes from, e.g. "the JSONL traffic log"
	// Probe: the figure is of requests a configured probe sent just now, not a window of
	// traffic; its sample size is the probe's, so the runbook's min_requests does not apply.
	Probe bool `json:"probe,omitempty"`
}
