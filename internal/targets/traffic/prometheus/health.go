package prometheus

import (
	"context"
	"fmt"
	"math"

	"github.com/quench-dev/quench/internal/ports"
)

var _ ports.ProviderHealthSource = (*Source)(nil)

// ProviderHealth measures one provider (its provider label, every route) over the window:
// requests and errors from the request counter, p95 latency from the duration histogram.
// increase() extrapolates to the window's edges, so counts are close, not exact.
func (s *Source) ProviderHealth(ctx context.Context, in ports.HealthInput) (ports.HealthFigure, error) {
	if err := in.Check(); err != nil {
		return ports.HealthFigure{}, err
	}
	a := newAPI(s.http)
	w := promDuration(in.Window)
	provider := "provider=" + quote(in.Provider)
	one := func(q string) (float64, bool, error) {
		rows, err := a.instant(ctx, q, in.Now)
		if err != nil || len(rows) == 0 || math.IsNaN(rows[0].Value) || math.IsInf(rows[0].Value, 0) {
			return 0, false, err
		}
		return rows[0].Value, true, nil
	}
	fig := ports.HealthFigure{Source: "Prometheus " + s.opts.Requests}
	total, _, err := one(fmt.Sprintf("sum(increase(%s[%s]))", s.sel(s.opts.Requests, "", provider), w))
	if err != nil {
		return ports.HealthFigure{}, err
	}
	if fig.Requests = int(math.Round(total)); fig.Requests == 0 {
		return fig, nil
	}
	errs, _, err := one(fmt.Sprintf("sum(increase(%s[%s])) or vector(0)", s.sel(s.opts.Requests, "", provider, s.errMatcher()), w))
	if err != nil {
		return ports.HealthFigure{}, err
	}
	fig.Errors = int(math.Round(errs))
	fig.ErrorRate = errs / total
	p95, ok, err := one(fmt.Sprintf("histogram_quantile(0.95, sum by (le) (increase(%s[%s]))) * 1000", s.sel(s.opts.Duration+"_bucket", "", provider), w))
	if err != nil {
		return ports.HealthFigure{}, err
	}
	if ok {
		fig.LatencyP95Ms = p95
	}
	return fig, nil
}
