package workflows

import (
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/internal/ports"
	"github.com/quench-dev/quench/runbooks"
)

// Verify defaults (runbooks.Verify documents them).
const (
	defaultVerifyEvery  = 30 * time.Second
	defaultVerifyWindow = 5 * time.Minute
	defaultVerifyWithin = 5 * time.Minute
)

// verifyVersion guards verify's command sequence: version 1 measures only the traffic after
// the change, waits for enough of it, reports a verifying state and stops at a resolve.
const verifyVersion = "verify-since-change"

// defaultMinRequests is how many requests a verify window must hold before it is judged
// when the runbook sets none: fewer make a rate that one request swings by 5 points or more.
const defaultMinRequests = 20

// verifyStep checks that step i's change helped. Incidents recorded before
// verify-since-change keep the old loop (verify_legacy.go).
func (w *incident) verifyStep(ctx workflow.Context, i int) {
	if workflow.GetVersion(ctx, verifyVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		w.verifyStepV0(ctx, i)
		return
	}
	w.verifySinceChange(ctx, i)
}

// runDeferredVerify runs, once step j ended, the verify of an earlier step whose verify
// names j in after: (the evidence snapshot goes first). An abort cancels it as it would
// the step's own wait.
func (w *incident) runDeferredVerify(ctx workflow.Context, j int) {
	if w.st.Aborted || w.failedStep() {
		return
	}
	for i := 0; i < j; i++ {
		v := w.steps[i].Verify
		if v == nil || v.After != w.steps[j].ID || w.status.Steps[i].State != StepDone {
			continue
		}
		vctx, cancel := workflow.WithCancel(ctx)
		w.cancelCurrent = cancel
		w.verifyStep(vctx, i)
		w.cancelCurrent = nil
		cancel()
	}
}

// verifySinceChange polls the step's signal over the requests that started after the step
// ended (on the provider it moved the route to, where the source knows), until the window
// holds min_requests and passes, or the deadline. Meanwhile the incident is `verifying`
// (Status.Verifying: the condition, the latest measurement, the deadline). A resolve stops
// it at once and keeps the change (an alert resolving does not: it says the old provider
// is back, not that the change worked); an abort cancels it. A change that did not help is
// reverted (the step's undo) and the incident escalates; the runbook goes on either way.
func (w *incident) verifySinceChange(ctx workflow.Context, i int) {
	step, ss := w.steps[i], &w.status.Steps[i]
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
	every, window, within = w.scaled(every), w.scaled(window), w.scaled(within)
	minReq := v.MinRequests
	if minReq <= 0 {
		minReq = defaultMinRequests
		if v.Signal == runbooks.SignalPromQL {
			minReq = 1 // a query answers one value, not a request count
		}
	}
	since := workflow.Now(ctx)
	if ss.EndedAt != nil {
		since = *ss.EndedAt
	}
	ver := &Verifying{
		StepID: step.ID, Signal: v.Signal, Below: v.Below, Above: v.Above, MinRequests: minReq,
		Since: since, Provider: movedTo(step, *ss), Every: runbooks.Duration(every), Window: runbooks.Duration(window), Deadline: since.Add(within),
	}
	ver.Condition = verifyCondition(v, minReq, ver.Provider)
	w.status.Verifying = ver
	ss.State = StepVerifying
	w.setState(ctx, StateVerifying)
	w.event(ctx, EventVerifying, step.ID, "", fmt.Sprintf("verifying step %s until %s: %s", step.ID, ver.Deadline.UTC().Format(time.TimeOnly+" UTC"), ver.Condition),
		map[string]string{"signal": v.Signal, "deadline": ver.Deadline.UTC().Format(time.RFC3339), "min_requests": fmt.Sprint(minReq), "phase": "started"})
	defer func() {
		w.status.Verifying = nil
		if ss.State == StepVerifying {
			ss.State = StepDone
		}
		w.refreshState(ctx)
	}()

	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
		Summary:             step.ID + " verify",
	})
	route := ss.Params["route"]
	model, pinned, key := judgedChange(v.Signal, *ss)
	for {
		if w.resolveSignalled {
			w.verifyStoppedByResolve(ctx, step.ID, v.Signal)
			return
		}
		now := workflow.Now(ctx)
		mctx, cancelMeasure := workflow.WithCancel(actx)
		fut := workflow.ExecuteActivity(mctx, activities.VerifyActivity, ports.VerifyInput{
			IncidentID: w.status.IncidentID, StepID: step.ID, Signal: v.Signal, Query: v.Query,
			Route: route, Window: window, Now: now, Since: since, Provider: ver.Provider,
			Model: model, PinnedModel: pinned, Key: key,
		})
		// A resolve does not wait for the measurement in flight.
		if err := workflow.Await(ctx, func() bool { return fut.IsReady() || w.resolveSignalled }); err != nil {
			cancelMeasure()
			return // aborted: the step's undo runs at close anyway
		}
		if !fut.IsReady() {
			cancelMeasure()
			w.verifyStoppedByResolve(ctx, step.ID, v.Signal)
			return
		}
		var res ports.VerifyResult
		err := fut.Get(ctx, &res)
		cancelMeasure()
		ver.Polls++
		m := &Measurement{At: now, Value: res.Value, Requests: res.Requests, Detail: res.Detail}
		switch {
		case ctx.Err() != nil:
			return // aborted while verifying: the step's undo runs at close anyway
		case err == nil && res.NotConfigured != "":
			// No traffic source at all: nothing was ever going to measure this, so the
			// verify is skipped with the reason rather than escalated as inconclusive.
			w.event(ctx, EventVerify, step.ID, "", fmt.Sprintf("verify of step %s skipped: %s", step.ID, res.NotConfigured),
				map[string]string{"signal": v.Signal, "result": "skipped", "not_configured": "traffic"})
			return
		case err != nil && isNonRetryable(err):
			// No traffic source, or one that cannot measure this signal: polling again
			// cannot help, so a human checks by hand now rather than at the deadline.
			text := fmt.Sprintf("verify of step %s inconclusive: %s; check by hand", step.ID, errorText(err))
			w.event(ctx, EventVerify, step.ID, "", text, map[string]string{"signal": v.Signal, "result": "inconclusive"})
			w.escalate(ctx, step.ID, w.st.Policy.EscalationGroup, text, "verify/escalate")
			return
		case err != nil:
			m.Error = errorText(err)
			w.logger.Warn("A verify measurement failed; measuring again at the next poll", "step", step.ID, "error", err)
			if ver.Last != nil { // keep the last value a human can read; note the failure
				kept := *ver.Last
				kept.Error = m.Error
				m = &kept
			}
		default:
			m.Enough = res.Requests >= minReq
			m.Passes = verifyPasses(v, res.Value)
		}
		ver.Last = m
		if m.Enough && m.Passes && m.Error == "" {
			w.event(ctx, EventVerify, step.ID, "", fmt.Sprintf("verify passed: %s = %.4g %s (%s)", v.Signal, res.Value, thresholdText(v), res.Detail),
				map[string]string{"signal": v.Signal, "value": fmt.Sprint(res.Value), "requests": fmt.Sprint(res.Requests), "result": "passed"})
			return
		}
		left := ver.Deadline.Sub(workflow.Now(ctx))
		if left <= 0 {
			break
		}
		// A line per measurement: watch, show and the card follow the verify as it goes.
		w.event(ctx, EventVerifying, step.ID, "", measurementText(step.ID, v, *ver, workflow.Now(ctx).Add(min(every, left))),
			map[string]string{"signal": v.Signal, "value": fmt.Sprint(m.Value), "requests": fmt.Sprint(m.Requests), "phase": "measured"})
		// The last poll is at the deadline itself, not one interval short of it.
		resolved, err := workflow.AwaitWithTimeout(ctx, min(every, left), func() bool { return w.resolveSignalled })
		if err != nil {
			return
		}
		if resolved {
			w.verifyStoppedByResolve(ctx, step.ID, v.Signal)
			return
		}
	}

	last := ver.Last
	if last == nil || !last.Enough {
		// Too little traffic after the change to judge it: reverting blind could make
		// things worse, so a human checks.
		got := "no measurement"
		if last != nil {
			got = fmt.Sprintf("%d requests (%s)", last.Requests, last.Detail)
		}
		text := fmt.Sprintf("verify of step %s inconclusive: %s within %s, need %d requests after the change; check by hand", step.ID, got, within, minReq)
		w.event(ctx, EventVerify, step.ID, "", text, map[string]string{"signal": v.Signal, "result": "inconclusive"})
		w.escalate(ctx, step.ID, w.st.Policy.EscalationGroup, text, "verify/escalate")
		return
	}
	w.event(ctx, EventVerify, step.ID, "", fmt.Sprintf("verify failed: %s = %.4g, not %s within %s (%s)", v.Signal, last.Value, thresholdText(v), within, last.Detail),
		map[string]string{"signal": v.Signal, "value": fmt.Sprint(last.Value), "requests": fmt.Sprint(last.Requests), "result": "failed"})
	w.status.Verifying = nil // the revert below is no longer the verify's wait
	reverted := w.revertStep(ctx, i)
	text := fmt.Sprintf("step %s did not bring %s %s within %s", step.ID, v.Signal, thresholdText(v), within)
	if reverted {
		text += "; its change was reverted"
	} else {
		text += "; there was no undo to revert it"
	}
	w.escalate(ctx, step.ID, w.st.Policy.EscalationGroup, text, "verify/escalate")
}

// measurementText is a verify's progress line: the value, whether it could be judged, and
// when it measures next.
func measurementText(stepID string, v runbooks.Verify, ver Verifying, next time.Time) string {
	m := ver.Last
	var got string
	switch {
	case m.Error != "":
		got = fmt.Sprintf("measurement failed (%s)", m.Error)
	case !m.Enough:
		got = fmt.Sprintf("%s = %.4g over %d requests since the change, too few to judge (need %d)", v.Signal, m.Value, m.Requests, ver.MinRequests)
	default:
		got = fmt.Sprintf("%s = %.4g over %d requests since the change, not %s yet", v.Signal, m.Value, m.Requests, thresholdText(v))
	}
	return fmt.Sprintf("verify of step %s: %s; next measurement %s, deadline %s", stepID, got,
		next.UTC().Format(time.TimeOnly), ver.Deadline.UTC().Format(time.TimeOnly+" UTC"))
}

// latestText is a verify's latest measurement in words ("" before the first).
func latestText(v *Verifying) string {
	m := v.Last
	switch {
	case m == nil:
		return ""
	case m.Error != "":
		return "measurement failed: " + m.Error
	case !m.Enough:
		return fmt.Sprintf("%s = %.4g over %d requests: too few to judge (need %d)", v.Signal, m.Value, m.Requests, v.MinRequests)
	}
	return fmt.Sprintf("%s = %.4g over %d requests", v.Signal, m.Value, m.Requests)
}

// verifyStoppedByResolve: someone resolved the incident while the verify waited. They
// judged the change themselves, so it stays, and the runbook goes on at once.
func (w *incident) verifyStoppedByResolve(ctx workflow.Context, stepID, signal string) {
	text := fmt.Sprintf("verify of step %s stopped: the incident was resolved; the change stays", stepID)
	if l := w.status.Verifying.Last; l != nil {
		text += fmt.Sprintf(" (last %s = %.4g over %d requests)", signal, l.Value, l.Requests)
	}
	w.event(ctx, EventVerify, stepID, "", text, map[string]string{"signal": signal, "result": "stopped"})
}

// movedTo is the provider a step moved the route to, when it says (gateway.switch's "to"
// output): the verify then measures that provider's requests only.
func movedTo(step runbooks.Step, ss StepState) string {
	if step.Action != runbooks.ActionGatewaySwitch {
		return ""
	}
	to, _ := ss.Outputs["to"].(string)
	return to
}

// judgedChange is what a signal that judges one action measures, from the step's params:
// the alias a pin fixed and the version it fixed it to (model_drift), the key a block
// refused (key_served). The validator keeps these signals on those actions.
func judgedChange(signal string, ss StepState) (model, pinned, key string) {
	switch signal {
	case runbooks.SignalModelDrift:
		return ss.Params["model"], ss.Params["to"], ""
	case runbooks.SignalKeyServed:
		return "", "", ss.Params["key"]
	}
	return "", "", ""
}

// verifyCondition says in words what the verify waits for.
func verifyCondition(v runbooks.Verify, minReq int, provider string) string {
	text := fmt.Sprintf("%s %s over at least %d requests that started after the change", v.Signal, thresholdText(v), minReq)
	switch v.Signal {
	case runbooks.SignalPromQL:
		text = fmt.Sprintf("%s %s, measured after the change", v.Query, thresholdText(v))
	case runbooks.SignalModelDrift:
		text = fmt.Sprintf("share of the pinned model's answers by another model %s, over at least %d of its requests that started after the pin", thresholdText(v), minReq)
	case runbooks.SignalKeyServed:
		text = fmt.Sprintf("requests of the blocked key served %s, once at least %d requests of the route started after the block", thresholdText(v), minReq)
	}
	if provider != "" {
		text += ", served by " + provider
	}
	return text
}

// scaled divides a wait by the incident's speed (quench demo --speed).
func (w *incident) scaled(d time.Duration) time.Duration {
	if s := w.in.Speed; s > 1 && !math.IsInf(s, 0) {
		return time.Duration(float64(d) / s)
	}
	return d
}

func verifyPasses(v runbooks.Verify, value float64) bool {
	if v.Below != nil && !(value < *v.Below) {
		return false
	}
	if v.Above != nil && !(value > *v.Above) {
		return false
	}
	return true
}

func thresholdText(v runbooks.Verify) string {
	switch {
	case v.Below != nil && v.Above != nil:
		return fmt.Sprintf("between %g and %g", *v.Above, *v.Below)
	case v.Below != nil:
		return fmt.Sprintf("below %g", *v.Below)
	case v.Above != nil:
		return fmt.Sprintf("above %g", *v.Above)
	}
	return "in range"
}

// revertStep runs the step's registered undo now (no approval: verify asked for exactly
// this) and marks the step reverted. It reports whether there was an undo to run.
func (w *incident) revertStep(ctx workflow.Context, i int) bool {
	step := w.steps[i]
	j := -1
	for k := len(w.status.Undo) - 1; k >= 0; k-- {
		if e := w.status.Undo[k]; e.StepID == step.ID && e.State == undoRegistered {
			j = k
			break
		}
	}
	if j < 0 {
		return false
	}
	// The revert must finish even if an abort arrives meanwhile: a half-known state of the
	// undo would leave close unsure whether to run it again.
	revertCtx, _ := workflow.NewDisconnectedContext(ctx)
	w.runUndo(revertCtx, j)
	if w.status.Undo[j].State == undoDone {
		w.status.Steps[i].State = StepReverted
		w.status.Steps[i].Summary = "reverted: verify failed"
		return true
	}
	return false
}
