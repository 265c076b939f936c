package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/quench-dev/quench/internal/ports"
)

// HealthActivity measures the provider a fail back returns to (ports.HealthInput ->
// ports.HealthFigure). It has no side effect: a retry measures again.
const HealthActivity = "traffic.health"

// Probes finds the configured probe of a provider (internal/targets/probe.Set).
type Probes interface {
	For(provider string) (ports.ProviderHealthSource, bool)
}

// Health measures one provider's error rate and latency: with its configured probe when it
// has one (app traffic no longer reaches a provider failed over from), else from the
// traffic source.
func (a *TrafficActivities) Health(ctx context.Context, in ports.HealthInput) (ports.HealthFigure, error) {
	if a.Probes != nil && in.Provider != "" {
		if p, ok := a.Probes.For(in.Provider); ok {
			return withHeartbeat(ctx, func(ctx context.Context) (ports.HealthFigure, error) {
				fig, err := p.ProviderHealth(ctx, in)
				return fig, classify(HealthActivity, err)
			})
		}
	}
	if a.Traffic == nil {
		// The fail back's prompt then says the provider was not measured, and why.
		return ports.HealthFigure{}, notConfigured(noTrafficSource)
	}
	src, ok := a.Traffic.(ports.ProviderHealthSource)
	if !ok {
		return ports.HealthFigure{}, notConfigured(fmt.Sprintf("the traffic source (%T) cannot measure one provider's health: use the JSONL traffic log, Prometheus or Langfuse as the traffic source to see the figure before a fail back", a.Traffic))
	}
	if in.Provider == "" {
		return ports.HealthFigure{}, invalidParams(HealthActivity, "no provider to measure: the step's failback.provider rendered empty")
	}
	if in.Window <= 0 {
		return ports.HealthFigure{}, invalidParams(HealthActivity, "the window must be positive (got %s)", in.Window)
	}
	if in.Now.IsZero() {
		in.Now = time.Now().UTC()
	}
	return withHeartbeat(ctx, func(ctx context.Context) (ports.HealthFigure, error) {
		fig, err := src.ProviderHealth(ctx, in)
		return fig, classify(HealthActivity, err)
	})
}
