package langfuse

import (
	"context"
	"fmt"
	"strings"

	"github.com/quench-dev/quench/internal/evidence/bundle"
	"github.com/quench-dev/quench/internal/ports"
)

var _ ports.ProviderHealthSource = (*Source)(nil)

// ProviderHealth reads the window's GENERATION observations (every route, without their
// bodies) and tallies those of one provider, found as the snapshot finds it (metadata keys,
// else the model's prefix): Langfuse's metrics API cannot filter on a derived provider.
func (s *Source) ProviderHealth(ctx context.Context, in ports.HealthInput) (ports.HealthFigure, error) {
	if err := in.Check(); err != nil {
		return ports.HealthFigure{}, err
	}
	var t bundle.Tally
	read, _, capped, err := s.read(ctx, in.Now.Add(-in.Window), in.Now, "", false, s.opts.MaxObservations, func(o *observation, _ []byte) {
		if r := s.request(o).Record(); strings.EqualFold(r.Provider, in.Provider) {
			t.Add(&r)
		}
	})
	if err != nil {
		return ports.HealthFigure{}, err
	}
	fig := ports.HealthFigure{Requests: t.Requests(), Source: "Langfuse observations"}
	if capped {
		fig.Source = fmt.Sprintf("the first %d Langfuse observations of the window", read)
	}
	if fig.Requests == 0 {
		return fig, nil
	}
	st := t.Stats()
	fig.Errors, fig.ErrorRate, fig.LatencyP95Ms = st.Errors, st.ErrorRate, st.LatencyMs.P95Or0()
	return fig, nil
}
