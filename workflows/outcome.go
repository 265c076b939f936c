package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Failure types a failed or aborted incident closes its workflow with. The workflow fails
// (non-retryable) so the Temporal Web UI, `ExecutionStatus = 'Failed'` queries and
// `quench incident list` tell it apart from a resolved one; the failure's details carry the
// final Status, as a completed run's result does.
const (
	FailureIncidentFailed  = "QuenchIncidentFailed"
	FailureIncidentAborted = "QuenchIncidentAborted"
)

// closeAsFailedVersion guards the failed close: incidents recorded before it completed
// whatever their final state, and must replay doing so.
const closeAsFailedVersion = "close-failed-as-failed"

// closeOutcome is what the workflow returns once the incident closed in state final, after
// its undos ran: nil for a completed or resolved incident, a non-retryable application
// error carrying the Status for a failed or aborted one.
func (w *incident) closeOutcome(ctx workflow.Context, final string) error {
	var typ, text string
	switch final {
	case StateFailed:
		typ, text = FailureIncidentFailed, "incident failed"
		if i := w.firstFailedStep(); i >= 0 {
			text += fmt.Sprintf(": step %s failed: %s", w.status.Steps[i].ID, w.status.Steps[i].Error)
		}
	case StateAborted:
		typ, text = FailureIncidentAborted, "incident aborted: "+w.st.AbortReason
	default:
		return nil
	}
	if workflow.GetVersion(ctx, closeAsFailedVersion, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	return temporal.NewNonRetryableApplicationError(text+" (undos ran; see the incident's timeline)", typ, nil, *w.status)
}

// firstFailedStep is the index of the step that failed the incident, -1 if none did.
func (w *incident) firstFailedStep() int {
	for i, s := range w.status.Steps {
		if s.State == StepFailed {
			return i
		}
	}
	return -1
}

// IncidentOutcome turns the outcome of waiting on an incident's workflow into its final
// Status: a completed run's result, or the Status a failed or aborted incident closes its
// workflow with. Both are normal ends of an incident, so err is nil for them; any other
// error (the workflow was terminated, timed out, or could not be read) is returned as is.
// Pass the error of WorkflowRun.Get with st as its result pointer.
func IncidentOutcome(err error, st *Status) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !IsIncidentCloseFailure(appErr.Type()) || !appErr.HasDetails() {
		return err
	}
	if derr := appErr.Details(st); derr != nil {
		return fmt.Errorf("%w (its final status could not be decoded: %v)", err, derr)
	}
	return nil
}

// IsIncidentCloseFailure reports whether an application failure type is one a failed or
// aborted incident closes its workflow with.
func IsIncidentCloseFailure(typ string) bool {
	return typ == FailureIncidentFailed || typ == FailureIncidentAborted
}
