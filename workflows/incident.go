package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
)

// IncidentWorkflow interprets one incident's runbook: the steps in order, each with its
// condition, approval gate, action and verification; then the undo stack, newest first.
// Its state survives worker crashes (Temporal history) and long incidents (continue-as-new).
func IncidentWorkflow(ctx workflow.Context, in IncidentInput) (Status, error) {
	w := newIncident(ctx, in)
	if err := w.registerHandlers(ctx); err != nil {
		return *w.status, err
	}
	w.listenForSignals(ctx)

	if in.State == nil {
		if in.Policy != nil {
			w.st.Policy = shared.policy(*in.Policy)
			w.in.Policy = nil // the state holds it; the decoded copy can go
			w.status.RequesterPerson = w.requesterPerson()
		} else {
			w.loadPolicy(ctx)
		}
		w.recordInitialAlert(ctx)
		w.event(ctx, EventStarted, "", w.status.Requester,
			fmt.Sprintf("incident started by %s from %s: runbook %s", w.status.Requester, w.status.Source, w.status.Runbook), nil)
		for _, a := range in.Alerts {
			w.onAlert(ctx, a)
		}
		w.in.Alerts = nil // counted; neither kept in memory nor handed to a next run
	}
	// The start set them all (revision 1); a continued run or an older start sets them here.
	if in.State != nil || in.Revision < 1 {
		w.upsertAllSearch(ctx)
	}
	w.startChat(ctx)

	err := w.run(ctx)
	if errors.Is(err, errContinueAsNew) {
		return *w.status, w.continueAsNew(ctx)
	}
	if err != nil {
		return *w.status, err
	}
	return *w.status, w.finish(ctx)
}

// run is the runbook: every step in order, then the undos.
func (w *incident) run(ctx workflow.Context) error {
	for w.st.NextStep < len(w.steps) {
		if ctx.Err() != nil && !w.st.Aborted {
			// The workflow itself was canceled: treat it as an abort so the undos still run.
			w.abort(ctx, "temporal", "the workflow was canceled")
		}
		if w.st.Aborted || w.failedStep() {
			w.skipRemainingSteps(ctx)
			break
		}
		if err := w.runStep(ctx, w.st.NextStep); err != nil {
			return err
		}
		w.runDeferredVerify(ctx, w.st.NextStep)
		w.st.NextStep++
		w.progress++
		w.refreshState(ctx)
		if w.st.NextStep < len(w.steps) && w.shouldContinueAsNew(ctx) {
			return errContinueAsNew
		}
	}
	w.st.NextStep = len(w.steps)

	// The undos run even if the workflow is canceled meanwhile: a half-closed incident would
	// leave routes switched and deploys frozen. (The abort signal still stops a gate's wait.)
	closeCtx, _ := workflow.NewDisconnectedContext(ctx)
	return w.runUndos(closeCtx)
}

// skipRemainingSteps ends the runbook early after an abort or a failed step.
func (w *incident) skipRemainingSteps(ctx workflow.Context) {
	reason := "an earlier step failed"
	if w.st.Aborted {
		reason = "the incident was aborted"
	}
	now := workflow.Now(ctx)
	for i := w.st.NextStep; i < len(w.status.Steps); i++ {
		ss := &w.status.Steps[i]
		switch ss.State {
		case StepPending:
			ss.State = StepSkipped
			ss.Summary = "skipped: " + reason
			w.event(ctx, EventStepSkipped, ss.ID, "", ss.Summary, nil)
		case StepRunning, StepAwaiting:
			// Interrupted while this run was handing over to the next one.
			ss.State = StepCanceled
			ss.Summary = "canceled: " + reason
			ss.EndedAt = &now
			w.event(ctx, EventStepFailed, ss.ID, "", ss.Summary, nil)
		}
	}
	w.removePending(func(p PendingApproval) bool { return !p.Undo })
	w.st.NextStep = len(w.steps)
}

// finish records the final state and waits for running handlers.
func (w *incident) finish(ctx workflow.Context) error {
	if ctx.Err() != nil {
		ctx, _ = workflow.NewDisconnectedContext(ctx)
	}
	w.drainSignals(ctx)
	final := w.finalState()
	now := workflow.Now(ctx)
	w.status.ClosedAt = &now
	w.closed = true
	w.event(ctx, EventClosed, "", "", "incident closed: "+final, map[string]string{"state": final})
	w.status.State = final
	w.upsertSearch(ctx, searchStatusKey.ValueSet(final))
	w.flushChat(ctx)
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	return w.closeOutcome(ctx, final)
}

// continueAsNew hands the whole state to a fresh run with a short history.
func (w *incident) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	w.drainSignals(ctx)
	w.flushChat(ctx)
	next := w.in
	next.State = w.st
	next.Policy = nil // the state carries it
	w.logger.Info("Continuing as new", "runs", w.status.Runs, "next_step", w.st.NextStep)
	return workflow.NewContinueAsNewError(ctx, IncidentWorkflowName, next)
}

// loadPolicy reads the worker's policy once; later runs carry it in their state so a
// config change on the worker never changes a running incident's approvers mid-way.
func (w *incident) loadPolicy(ctx workflow.Context) {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var policy activities.Policy
	if err := workflow.ExecuteLocalActivity(lctx, activities.PolicyActivity).Get(lctx, &policy); err != nil {
		// Without a policy no group and no decision key is configured: the first decision
		// tries to load the keys again (ensureDecisionKeys); until then none counts.
		// Safer than guessing, and visible on the timeline.
		w.logger.Error("Could not load the approval policy", "error", err)
		w.event(ctx, EventNote, "", "quench", "could not load the approval policy ("+errorText(err)+"); decisions count only once the worker's decision keys load", nil)
		return
	}
	w.st.Policy = policy
	w.status.RequesterPerson = w.requesterPerson()
}

// registerHandlers installs the status query and the decide update before anything can block,
// so neither is ever delivered to a workflow without its handler.
func (w *incident) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (Status, error) {
		st := *w.status
		if w.st.Chat != nil && w.st.Chat.Card != nil {
			// Only in the answer (the incident page links the thread): a query changes no state.
			card := *w.st.Chat.Card
			st.Chat = &card
		}
		return st, nil
	}); err != nil {
		return fmt.Errorf("registering the %s query: %w", QueryStatus, err)
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide, w.decide, workflow.UpdateHandlerOptions{
		Validator:   w.validateUpdate,
		Description: "approve or reject a pending approval",
	}); err != nil {
		return fmt.Errorf("registering the %s update: %w", UpdateDecide, err)
	}
	return nil
}
