package ingest

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/workflows"
)

// startEager tries to start the group's incident with the batch's alerts in its input,
// eagerly: with a worker on the same client the first workflow task rides back on the
// start's answer instead of going through matching, which is most of the time from an
// alert to the first mitigation. It reports done when the batch is settled (started with
// its alerts, or failed); false means the incident already runs and the caller must deliver
// the alerts by signal-with-start, as for any later commit.
//
// Exactly once: the server's answer says whether this start created the run (it then holds
// the alerts in its input, counted once at start; a retried request with the same request
// ID is answered "started" again) or found one running (the input, alerts included, is
// dropped, and the signal carries them).
func (d *Dispatcher) startEager(ctx context.Context, q *incidentQueue, b *batch, in workflows.IncidentInput, opts client.StartWorkflowOptions) (done bool) {
	in.Alerts = b.alerts
	opts.EnableEagerStart = true
	pctx, probe := withStartedProbe(ctx)
	run, err := d.temporal.ExecuteWorkflow(pctx, opts, workflows.IncidentWorkflowName, in)
	if err != nil {
		b.err = commitError(q.workflowID, err)
		return true
	}
	if !probe.answered.Load() {
		// Without the interceptor nobody can tell whether the alerts were taken: a signal now
		// could count them twice. The composition root pairs EagerStart with ClientDialOption.
		b.err = fmt.Errorf("incident %s: the Temporal client does not report whether a start created the incident (dial it with ingest.ClientDialOption, or turn EagerStart off)", q.workflowID)
		return true
	}
	d.markRunning(q.workflowID)
	if !probe.started.Load() {
		return false
	}
	b.runID, b.started = run.GetRunID(), true
	return true
}

// knownRunning reports whether a commit of this process found or made the incident running.
// A wrong guess costs one call: a known incident that closed since is started again by the
// signal-with-start, an unknown one that runs answers the eager start "found running".
func (d *Dispatcher) knownRunning(workflowID string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.running[workflowID]
	return ok
}

// markRunning remembers the incident as running, forgetting the others past the bound.
func (d *Dispatcher) markRunning(workflowID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.running[workflowID]; ok {
		return
	}
	if len(d.running) >= d.opts.KnownGroups {
		clear(d.running)
	}
	d.running[workflowID] = struct{}{}
}
