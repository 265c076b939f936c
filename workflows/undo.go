package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/activities"
	"github.com/quench-dev/quench/runbooks"
)

// Undo entry states (UndoEntry.State).
const (
	undoRegistered = ""
	undoDone       = "done"
	undoKept       = "kept"
	undoRejected   = "rejected"
	undoFailed     = "failed"
	undoCanceled   = "canceled" // the incident was aborted while the undo waited for approval
)

// pushUndo registers a step's compensation, with what the runbook says about it.
func (w *incident) pushUndo(ctx workflow.Context, step runbooks.Step, undo activities.UndoAction) {
	entry := UndoEntry{StepID: step.ID, Undo: undo}
	if step.Undo != nil {
		entry.Keep = step.Undo.Keep
		entry.Gate = step.Undo.Approval
	}
	w.status.Undo = append(w.status.Undo, entry)
	text := fmt.Sprintf("registered undo %s: %s", undo.Action, undo.Description)
	if entry.Keep {
		text += " (kept: will not run at close)"
	}
	w.event(ctx, EventUndo, step.ID, "", text, map[string]string{"key": undo.Key, "action": undo.Action})
}

// clearUndos drops undos a later step made unnecessary (a fail back clears the switch's undo).
func (w *incident) clearUndos(ctx workflow.Context, stepID string, keys []string) {
	w.status.Undo = slices.DeleteFunc(w.status.Undo, func(e UndoEntry) bool {
		if e.State != undoRegistered || !slices.Contains(keys, e.Undo.Key) {
			return false
		}
		w.event(ctx, EventUndo, stepID, "", fmt.Sprintf("cleared the undo of step %s (%s): step %s already reversed it", e.StepID, e.Undo.Key, stepID),
			map[string]string{"key": e.Undo.Key})
		return true
	})
}

// runUndos runs the stack newest first. An undo with a gate asks for approval like a step;
// a rejected one stays undone. It returns errContinueAsNew when it paused at a gate to hand over.
func (w *incident) runUndos(ctx workflow.Context) error {
	w.refreshState(ctx)
	for j := len(w.status.Undo) - 1; j >= 0; j-- {
		e := w.status.Undo[j]
		if e.State != undoRegistered {
			continue
		}
		if e.Keep {
			w.status.Undo[j].State = undoKept
			w.event(ctx, EventUndo, e.StepID, "", fmt.Sprintf("kept the change of step %s (%s): the runbook says keep", e.StepID, e.Undo.Key), nil)
			continue
		}
		if e.Gate != nil {
			run, err := w.gateUndo(ctx, j)
			if err != nil {
				return err
			}
			if !run {
				continue
			}
		}
		w.runUndo(ctx, j)
	}
	return nil
}

// gateUndo asks for an undo's approval and reports whether it may run.
func (w *incident) gateUndo(ctx workflow.Context, j int) (bool, error) {
	e := w.status.Undo[j]
	gateCtx, cancel := workflow.WithCancel(ctx)
	w.cancelCurrent = cancel
	defer func() { w.cancelCurrent = nil; cancel() }()
	outcome, decisions, err := w.awaitApproval(gateCtx, gateRequest{
		StepID: e.StepID, Action: e.Undo.Action, Undo: true, Params: approvalParams(e.Undo.Params), Approval: *e.Gate,
	})
	if err != nil {
		return false, err
	}
	switch outcome {
	case gateApproved:
		return true, nil
	case gateCanceled:
		w.status.Undo[j].State = undoCanceled
		w.event(ctx, EventUndo, e.StepID, "", fmt.Sprintf("did not run the undo of step %s (%s): the incident was aborted while it waited for approval", e.StepID, e.Undo.Key), nil)
	default:
		w.status.Undo[j].State = undoRejected
		why := "rejected by " + rejecterText(decisions)
		if outcome == gateTimedOut {
			why = "its approval timed out"
		}
		w.event(ctx, EventUndo, e.StepID, "", fmt.Sprintf("did not run the undo of step %s (%s): %s; the change stays", e.StepID, e.Undo.Key, why), nil)
	}
	return false, nil
}

// runUndo runs one compensation. Its idempotency key is the step's plus "/undo", so a retry
// or a second attempt (verify revert, then close) never reverses twice.
func (w *incident) runUndo(ctx workflow.Context, j int) {
	e := w.status.Undo[j]
	timeout := w.defaultTimeout(e.Undo.Action)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         retryPolicy(nil),
		Summary:             e.StepID + " undo",
	})
	in := w.stepInput(ctx, e.StepID, e.Undo.Action, e.Undo.Params, "undo")
	var res activities.StepResult
	err := workflow.ExecuteActivity(actx, e.Undo.Action, in).Get(actx, &res)
	if err != nil {
		w.status.Undo[j].State = undoFailed
		w.event(ctx, EventUndo, e.StepID, "", fmt.Sprintf("undo %s of step %s failed: %s; reverse %s by hand", e.Undo.Action, e.StepID, errorText(err), e.Undo.Key), nil)
		return
	}
	w.status.Undo[j].State = undoDone
	w.status.Evidence = append(w.status.Evidence, res.Evidence...)
	text := fmt.Sprintf("undid step %s with %s", e.StepID, e.Undo.Action)
	if s := strings.TrimSpace(res.Summary); s != "" {
		text += ": " + s
	}
	w.event(ctx, EventUndo, e.StepID, "", text, map[string]string{"key": e.Undo.Key, "action": e.Undo.Action})
}

// escalate puts an escalation on the timeline and tells people loudly through notify.
// A failed notification is logged, never fatal: the timeline still has it.
func (w *incident) escalate(ctx workflow.Context, stepID, group, text, keySuffix string) {
	w.event(ctx, EventEscalated, stepID, "", text, map[string]string{"group": group})
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: w.defaultTimeout(runbooks.ActionNotify),
		HeartbeatTimeout:    heartbeatTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: defaultRetry.InitialInterval, BackoffCoefficient: 2, MaximumAttempts: 5},
		Summary:             stepID + " escalation",
	})
	in := w.stepInput(ctx, stepID, runbooks.ActionNotify, map[string]string{"text": text, "level": "critical"}, keySuffix)
	in.Chat = w.chatTarget("the escalation is in the incident's thread, with its mention")
	if err := workflow.ExecuteActivity(actx, runbooks.ActionNotify, in).Get(actx, nil); err != nil {
		w.logger.Error("Could not send an escalation", "step", stepID, "group", group, "error", err)
	}
}

// action is an action as this incident runs it: the definition saved in its spec when the
// runbook was loaded, so a worker with a newer catalog cannot change a running incident's
// kinds or timeouts. Inputs without saved definitions (started by an older quench) fall back
// to the live catalog rather than take a workflow.GetVersion branch: the lookup issues no
// command, those incidents already ran with the live catalog, and the catalog is all they
// have. Their recorded histories replay either way while the catalog is unchanged.
func (w *incident) action(name string) (runbooks.Action, bool) {
	return w.in.Spec.Action(name)
}

// defaultTimeout is an action's start-to-close timeout when nothing sets one.
func (w *incident) defaultTimeout(name string) time.Duration {
	if a, ok := w.action(name); ok && a.DefaultTimeout > 0 {
		return a.DefaultTimeout.D()
	}
	return defaultStepTimeout
}
