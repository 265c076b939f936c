package jsonl

import (
	"context"
	"strings"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
)

var _ ports.ProviderHealthSource = (*Log)(nil)

// ProviderHealth measures the requests the log attributes to one provider (its
// gen_ai.provider.name, any route) over the window.
func (l *Log) ProviderHealth(ctx context.Context, in ports.HealthInput) (ports.HealthFigure, error) {
	if err := in.Check(); err != nil {
		return ports.HealthFigure{}, err
	}
	now := in.Now.UTC()
	from := now.Add(-in.Window)
	var t bundle.Tally
	if _, err := l.scan(ctx, from, now, func(r *bundle.Record, _ []byte) {
		if r.Time.Before(from) || r.Time.After(now) || !strings.EqualFold(r.Provider, in.Provider) {
			return
		}
		t.Add(r)
	}); err != nil {
		return ports.HealthFigure{}, err
	}
	fig := ports.HealthFigure{Requests: t.Requests(), Source: "the JSONL traffic log"}
	if fig.Requests == 0 {
		return fig, nil
	}
	s := t.Stats()
	fig.Errors, fig.ErrorRate, fig.LatencyP95Ms = s.Errors, s.ErrorRate, s.LatencyMs.P95Or0()
	return fig, nil
}
