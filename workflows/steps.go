package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/runbooks"
)

// Activity defaults. Activities heartbeat in the background, so a short heartbeat timeout
// means the attempt of a crashed worker is retried within seconds, not after StartToClose.
const (
	heartbeatTimeout   = 10 * time.Second
	defaultStepTimeout = time.Minute
)

// defaultRetry is the retry policy of a step that sets none.
var defaultRetry = temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    time.Minute,
	MaximumAttempts:    10,
}

// runStep runs step i from wherever it stands: a fresh step, or one a previous run handed
// over while it waited (for an approval or for the resolution).
func (w *incident) runStep(ctx workflow.Context, i int) error {
	step := w.steps[i]
	ss := &w.status.Steps[i]
	action, known := w.action(step.Action)
	if !known {
		w.failStep(ctx, i, fmt.Errorf("unknown action %q: the runbook was not validated against this worker's catalog", step.Action))
		return nil
	}

	if ss.State == StepPending {
		if step.When != "" {
			ok, err := runbooks.EvalWhen(step.When, w.scope())
			if err != nil {
				w.failStep(ctx, i, fmt.Errorf("evaluating `when: %s`: %w", step.When, err))
				return nil
			}
			if !ok {
				ss.State = StepSkipped
				ss.Summary = fmt.Sprintf("skipped: `when: %s` is false", step.When)
				w.event(ctx, EventStepSkipped, step.ID, "", ss.Summary, map[string]string{"when": step.When})
				return nil
			}
		}
		params, err := w.in.Spec.RenderParams(step, w.scope())
		if err != nil {
			w.failStep(ctx, i, fmt.Errorf("rendering params: %w", err))
			return nil
		}
		ss.Params = params
	}

	// Everything the step waits on from here is canceled by an abort.
	stepCtx, cancel := workflow.WithCancel(ctx)
	w.cancelCurrent = cancel
	defer func() { w.cancelCurrent = nil; cancel() }()

	if ss.State == StepPending || ss.State == StepAwaiting {
		w.measureFailback(stepCtx, i) // before asking, so the prompt has the figure
		if gate := stepGate(step, action); gate != nil {
			stopWatch := w.watchFailback(stepCtx, i)
			approved, err := w.gateStep(stepCtx, i, *gate)
			stopWatch()
			if err != nil || !approved {
				return err
			}
		}
	}

	now := workflow.Now(ctx)
	if ss.State != StepRunning {
		ss.State = StepRunning
		ss.StartedAt = &now
		w.refreshState(ctx)
		if action.Kind != runbooks.KindGate {
			w.event(ctx, EventStepStarted, step.ID, "", stepLabel(step)+" started", nil)
		}
	}

	switch action.Kind {
	case runbooks.KindGate:
		w.finishStep(ctx, i, activities.StepResult{Summary: ss.Summary})
		return nil
	case runbooks.KindWait:
		return w.runWait(stepCtx, i)
	default:
		return w.runActivityStep(stepCtx, i, action)
	}
}

// stepGate is the approval a step needs before it runs, if any.
func stepGate(step runbooks.Step, action runbooks.Action) *runbooks.Approval {
	if step.Approval != nil {
		return step.Approval
	}
	if action.Kind == runbooks.KindGate {
		return &runbooks.Approval{}
	}
	return nil
}

func stepLabel(step runbooks.Step) string {
	if step.Title != "" {
		return fmt.Sprintf("step %s (%s)", step.ID, step.Title)
	}
	return "step " + step.ID
}

func (w *incident) runActivityStep(ctx workflow.Context, i int, action runbooks.Action) error {
	step := w.steps[i]
	ss := &w.status.Steps[i]
	timeout := step.Timeout.D()
	if timeout <= 0 {
		timeout = action.DefaultTimeout.D()
	}
	if timeout <= 0 {
		timeout = defaultStepTimeout
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         retryPolicy(step.Retry),
		// An abort waits until the activity has really stopped (or finished), so an undo
		// never races the change it reverses, and a change that landed is still undone.
		WaitForCancellation: true,
		Summary:             step.ID,
	})
	params, err := w.activityParams(actx, step, ss.Params, timeout)
	if err == nil {
		in := w.stepInput(ctx, step.ID, step.Action, params, "")
		if step.Action == runbooks.ActionNotify {
			in.Chat = w.chatTarget("")
		}
		var res activities.StepResult
		err = workflow.ExecuteActivity(actx, step.Action, in).Get(actx, &res)
		if err == nil {
			w.finishStep(ctx, i, res)
			if step.Verify != nil && step.Verify.After == "" {
				w.verifyStep(ctx, i)
			}
			return nil
		}
	}
	switch {
	case temporal.IsCanceledError(err):
		w.cancelStep(ctx, i)
	default:
		w.failStep(ctx, i, fmt.Errorf("%s: %s", step.Action, errorText(err)))
	}
	return nil
}

func (w *incident) stepInput(ctx workflow.Context, stepID, action string, params map[string]string, keySuffix string) activities.StepInput {
	key := w.status.IncidentID + "/" + stepID
	if keySuffix != "" {
		key += "/" + keySuffix
	}
	return activities.StepInput{
		IncidentID:     w.status.IncidentID,
		ShortID:        w.status.ShortID,
		Runbook:        w.status.Runbook,
		Title:          w.status.Title,
		StepID:         stepID,
		Action:         action,
		IdempotencyKey: key,
		Params:         params,
		Now:            workflow.Now(ctx),
	}
}

func retryPolicy(r *runbooks.Retry) *temporal.RetryPolicy {
	p := defaultRetry
	if r == nil {
		return &p
	}
	if r.MaxAttempts > 0 {
		p.MaximumAttempts = int32(r.MaxAttempts)
	}
	if r.InitialInterval > 0 {
		p.InitialInterval = r.InitialInterval.D()
	}
	if r.MaxInterval > 0 {
		p.MaximumInterval = r.MaxInterval.D()
	}
	if r.Backoff >= 1 {
		p.BackoffCoefficient = r.Backoff
	}
	return &p
}

// runWait runs wait.resolved and wait.duration. Both measure from the step's start, so a
// wait handed over to a new run keeps its original deadline.
func (w *incident) runWait(ctx workflow.Context, i int) error {
	step := w.steps[i]
	ss := &w.status.Steps[i]
	started := *ss.StartedAt
	switch step.Action {
	case runbooks.ActionWaitResolved:
		var deadline time.Time
		if step.Timeout > 0 {
			deadline = started.Add(w.scaled(step.Timeout.D()))
		}
		done := func() bool { return w.status.Resolved }
		resolved, err := w.waitUntil(ctx, deadline, done)
		if err != nil {
			return w.waitInterrupted(ctx, i, err)
		}
		if resolved {
			w.finishStep(ctx, i, activities.StepResult{Summary: "resolved"})
		} else {
			w.finishStep(ctx, i, activities.StepResult{Summary: fmt.Sprintf("timed out after %s without resolution; going on", step.Timeout)})
		}
		return nil
	case runbooks.ActionWaitDuration:
		d, err := runbooks.ParseDuration(ss.Params["for"])
		if err != nil {
			w.failStep(ctx, i, fmt.Errorf("%s: %w", runbooks.ActionWaitDuration, err))
			return nil
		}
		if _, err := w.waitUntil(ctx, started.Add(w.scaled(d.D())), func() bool { return false }); err != nil {
			return w.waitInterrupted(ctx, i, err)
		}
		w.finishStep(ctx, i, activities.StepResult{Summary: "waited " + d.String()})
		return nil
	default:
		w.failStep(ctx, i, fmt.Errorf("no wait named %q in this worker", step.Action))
		return nil
	}
}

// waitUntil waits for done or the deadline (zero: none). It returns errContinueAsNew when the
// run should hand over first, and the context's error when the wait was canceled.
func (w *incident) waitUntil(ctx workflow.Context, deadline time.Time, done func() bool) (bool, error) {
	cond := func() bool { return done() || w.shouldContinueAsNew(ctx) }
	if deadline.IsZero() {
		if err := workflow.Await(ctx, cond); err != nil {
			return false, err
		}
	} else if left := deadline.Sub(workflow.Now(ctx)); left > 0 {
		if _, err := workflow.AwaitWithTimeout(ctx, left, cond); err != nil {
			return false, err
		}
	}
	if done() {
		return true, nil
	}
	if !deadline.IsZero() && !workflow.Now(ctx).Before(deadline) {
		return false, nil
	}
	return false, errContinueAsNew
}

func (w *incident) waitInterrupted(ctx workflow.Context, i int, err error) error {
	if errors.Is(err, errContinueAsNew) {
		return err
	}
	w.cancelStep(ctx, i)
	return nil
}

// finishStep records a step's result: outputs for later steps, its undo, what it clears.
func (w *incident) finishStep(ctx workflow.Context, i int, res activities.StepResult) {
	step := w.steps[i]
	ss := &w.status.Steps[i]
	now := workflow.Now(ctx)
	summary := res.Summary
	if approval := ss.Summary; strings.HasPrefix(approval, "approved by ") && approval != summary {
		summary += " (" + approval + ")" // who let it run stays on the step
	}
	ss.State = StepDone
	ss.Summary = summary
	ss.Outputs = res.Outputs
	ss.Links = res.Links
	ss.EndedAt = &now
	w.status.Evidence = append(w.status.Evidence, res.Evidence...)
	var data map[string]string
	if res.Posted != nil {
		where := res.Posted.Channel
		if where == "" {
			where = "chat"
		}
		data = map[string]string{chatPostedKey: where} // in chat already: no thread reply repeats it
	}
	w.event(ctx, EventStepDone, step.ID, "", stepLabel(step)+" done: "+summary, data)

	if res.Undo != nil {
		w.pushUndo(ctx, step, *res.Undo)
	}
	if len(res.Clears) > 0 {
		w.clearUndos(ctx, step.ID, res.Clears)
	}
	if step.Action == runbooks.ActionPromptsRollback && !res.NoOp {
		w.event(ctx, EventRollbackProposal, step.ID, "", res.Summary, rollbackData(res))
	}
}

// rollbackData puts the proposal's branch, commit, URL and links on its timeline event.
func rollbackData(res activities.StepResult) map[string]string {
	data := map[string]string{}
	for _, k := range []string{"branch", "commit", "url"} {
		if v, ok := res.Outputs[k]; ok && v != nil {
			data[k] = fmt.Sprint(v)
		}
	}
	for _, l := range res.Links {
		data["link:"+l.Name] = l.URL
	}
	return data
}

func (w *incident) failStep(ctx workflow.Context, i int, err error) {
	step := w.steps[i]
	ss := &w.status.Steps[i]
	now := workflow.Now(ctx)
	ss.State = StepFailed
	ss.Error = err.Error()
	ss.EndedAt = &now
	then := "the incident fails; undos run"
	if step.OnError == runbooks.OnErrorContinue {
		then = "going on (on_error: continue)"
	}
	ss.Summary = "failed: " + then
	w.event(ctx, EventStepFailed, step.ID, "", fmt.Sprintf("%s failed: %s; %s", stepLabel(step), ss.Error, then), nil)
}

func (w *incident) cancelStep(ctx workflow.Context, i int) {
	ss := &w.status.Steps[i]
	now := workflow.Now(ctx)
	ss.State = StepCanceled
	ss.Summary = "canceled: the incident was aborted"
	ss.EndedAt = &now
	w.event(ctx, EventStepFailed, ss.ID, "", stepLabel(w.steps[i])+" canceled", nil)
}

// joinOr joins names for a message ("a, b or c").
func joinOr(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
