package ingest

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
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
	if !probe.started.Load() {
		return false // the signal-with-start that follows learns the run
	}
	d.markRunning(q.workflowID, run.GetRunID())
	b.runID, b.started = run.GetRunID(), true
	return true
}

// signalRunning sends the batch to the run of the incident this process knows running, with
// a plain signal: no start to prepare, no input to encode. It reports done unless that run
// is gone (closed, or continued as new), in which case nothing was delivered and the caller
// signals-with-start (or starts) as for an unknown incident, learning the current run.
func (d *Dispatcher) signalRunning(ctx context.Context, q *incidentQueue, b *batch) (done bool) {
	runID, ok := d.runningRun(q.workflowID)
	if !ok {
		return false
	}
	err := d.temporal.SignalWorkflow(ctx, q.workflowID, runID, workflows.SignalAlerts, b.alerts)
	var notFound *serviceerror.NotFound
	switch {
	case err == nil:
		b.runID = runID
		return true
	case errors.As(err, &notFound):
		d.forgetRunning(q.workflowID)
		return false
	default:
		b.err = commitError(q.workflowID, err)
		return true
	}
}

// forgetRunning drops an incident found closed.
func (d *Dispatcher) forgetRunning(workflowID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.running, workflowID)
}

// knownRunning reports whether a commit of this process found or made the incident running.
// A wrong guess costs one call: a known incident that closed since is started again by the
// signal-with-start, an unknown one that runs answers the eager start "found running".
func (d *Dispatcher) knownRunning(workflowID string) bool {
	_, ok := d.runningRun(workflowID)
	return ok
}

// runningRun is the run of the incident a commit of this process last reached.
func (d *Dispatcher) runningRun(workflowID string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	runID, ok := d.running[workflowID]
	return runID, ok && runID != ""
}

// markRunning remembers the incident's run, forgetting every other past the bound.
func (d *Dispatcher) markRunning(workflowID, runID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.running[workflowID]; !ok && len(d.running) >= d.opts.KnownGroups {
		clear(d.running)
	}
	d.running[workflowID] = runID
}
