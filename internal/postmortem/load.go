package postmortem

import (
	"context"

	"github.com/quench-dev/quench/internal/evidence/report"
	"github.com/quench-dev/quench/internal/incidents"
)

// Load gathers what a postmortem is made of: the status (the query answers on a closed
// workflow too), the history of every run, and the evidence read from src (the quench
// API for the CLI, the evidence store itself in a process that has it). An unreadable
// source does not fail the postmortem: it says so and lists the refs.
func Load(ctx context.Context, svc *incidents.Service, ref string, src report.Source, uiURL string) (Report, error) {
	id, err := svc.Resolve(ctx, ref)
	if err != nil {
		return Report{}, err
	}
	st, err := svc.Status(ctx, id)
	if err != nil {
		return Report{}, err
	}
	events, err := FetchHistory(ctx, svc.Temporal, id)
	if err != nil {
		return Report{}, err
	}
	in := Input{Status: st, History: events, UIURL: uiURL, Namespace: svc.Namespace}
	ev, err := report.Load(ctx, st, src)
	if err != nil {
		in.EvidenceError = err.Error()
	}
	in.Bundles = ev.Bundles
	return Build(in), nil
}
