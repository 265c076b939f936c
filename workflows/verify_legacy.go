package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
)

// verifyStepV0 is verify as incidents started before the verify-since-change version run it,
// kept so their histories replay: it polls the step's signal over a window that may reach
// back before the change, judges any non-empty window, and hears a resolve only after it.
func (w *incident) verifyStepV0(ctx workflow.Context, i int) {
	step := w.steps[i]
	v := *step.Verify
	every, window, within := v.Every.D(), v.Window.D(), v.Within.D()
	if every <= 0 {
		every = defaultVerifyEvery
	}
	if window <= 0 {
		window = defaultVerifyWindow
	}
	if within <= 0 {
		within = defaultVerifyWithin
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
		Summary:             step.ID + " verify",
	})
	deadline := workflow.Now(ctx).Add(within)
	route := w.status.Steps[i].Params["route"]

	var last *ports.VerifyResult
	for {
		var res ports.VerifyResult
		err := workflow.ExecuteActivity(actx, activities.VerifyActivity, ports.VerifyInput{
			IncidentID: w.status.IncidentID, StepID: step.ID, Signal: v.Signal, Query: v.Query,
			Route: route, Window: window, Now: workflow.Now(ctx),
		}).Get(actx, &res)
		switch {
		case ctx.Err() != nil:
			return // aborted while verifying: the step's undo runs at close anyway
		case err != nil && isNonRetryable(err):
			// No traffic source, or one that cannot measure this signal: polling again
			// cannot help, so a human checks by hand now rather than after `within`.
			text := fmt.Sprintf("verify of step %s inconclusive: %s; check by hand", step.ID, errorText(err))
			w.event(ctx, EventVerify, step.ID, "", text, map[string]string{"signal": v.Signal, "result": "inconclusive"})
			w.escalate(ctx, step.ID, w.st.Policy.EscalationGroup, text, "verify/escalate")
			return
		case err != nil:
			w.logger.Warn("A verify measurement failed", "step", step.ID, "error", err)
		case res.Requests > 0:
			last = &res
			if verifyPasses(v, res.Value) {
				w.event(ctx, EventVerify, step.ID, "", fmt.Sprintf("verify passed: %s = %.4g %s (%d requests)", v.Signal, res.Value, thresholdText(v), res.Requests),
					map[string]string{"signal": v.Signal, "value": fmt.Sprint(res.Value), "result": "passed"})
				return
			}
		}
		if !workflow.Now(ctx).Add(every).Before(deadline.Add(time.Nanosecond)) {
			break
		}
		if err := workflow.Sleep(ctx, every); err != nil {
			return
		}
	}

	if last == nil {
		// Nothing to judge by: reverting a change blind could make things worse, so ask a human.
		text := fmt.Sprintf("verify of step %s inconclusive: no %s measurement with traffic within %s; check by hand", step.ID, v.Signal, within)
		w.event(ctx, EventVerify, step.ID, "", text, map[string]string{"signal": v.Signal, "result": "inconclusive"})
		w.escalate(ctx, step.ID, w.st.Policy.EscalationGroup, text, "verify/escalate")
		return
	}
	w.event(ctx, EventVerify, step.ID, "", fmt.Sprintf("verify failed: %s = %.4g, not %s within %s", v.Signal, last.Value, thresholdText(v), within),
		map[string]string{"signal": v.Signal, "value": fmt.Sprint(last.Value), "result": "failed"})
	reverted := w.revertStep(ctx, i)
	text := fmt.Sprintf("step %s did not bring %s %s within %s", step.ID, v.Signal, thresholdText(v), within)
	if reverted {
		text += "; its change was reverted"
	} else {
		text += "; there was no undo to revert it"
	}
	w.escalate(ctx, step.ID, w.st.Policy.EscalationGroup, text, "verify/escalate")
}
