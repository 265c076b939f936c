package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/quench-dev/quench/runbooks"
)

// A failed incident closes its workflow as failed, after its undos, with the final state
// in QuenchStatus and the Status in the failure's details.
func TestFailedIncidentClosesTheWorkflowAsFailed(t *testing.T) {
	h := newHarness(t)
	var statuses []string
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if v, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(searchStatusKey); ok {
			statuses = append(statuses, v)
		}
	}).Return(nil)
	h.failStep(runbooks.ActionTrafficSnapshot, "traffic log unreadable")
	h.env.ExecuteWorkflow(IncidentWorkflowName, testInput(testSpec(
		switchStep("failover"),
		runbooks.Step{ID: "snap", Action: runbooks.ActionTrafficSnapshot},
	)))
	require.True(t, h.env.IsWorkflowCompleted())

	err := h.env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an application failure, got %v", err)
	assert.Equal(t, FailureIncidentFailed, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Error(), "step snap failed")
	assert.Contains(t, appErr.Error(), "traffic log unreadable")

	var st Status
	require.NoError(t, IncidentOutcome(err, &st), "a failed incident is a normal outcome for a caller")
	assert.Equal(t, StateFailed, st.State)
	assert.NotNil(t, st.ClosedAt)
	assert.Equal(t, []string{"gateway.switch failover", "traffic.snapshot snap", "gateway.restore failover/undo"}, h.sequence(),
		"the undo ran before the workflow failed")
	require.NotEmpty(t, statuses)
	assert.Equal(t, StateFailed, statuses[len(statuses)-1], "the search attribute holds the final state")
}

func TestAbortedIncidentClosesTheWorkflowAsFailed(t *testing.T) {
	h := newHarness(t)
	h.at(time.Minute, func() { h.env.SignalWorkflow(SignalAbort, Abort{By: "cli:bob", Reason: "false alarm"}) })
	h.env.ExecuteWorkflow(IncidentWorkflowName, testInput(testSpec(
		runbooks.Step{ID: "wait", Action: runbooks.ActionWaitResolved},
	)))
	require.True(t, h.env.IsWorkflowCompleted())
	err := h.env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an application failure, got %v", err)
	assert.Equal(t, FailureIncidentAborted, appErr.Type())
	assert.Contains(t, appErr.Error(), "false alarm")
	var st Status
	require.NoError(t, IncidentOutcome(err, &st))
	assert.Equal(t, StateAborted, st.State)
}

// IncidentOutcome hands other errors back unchanged: they are not incident outcomes.
func TestIncidentOutcomeKeepsOtherErrors(t *testing.T) {
	var st Status
	assert.NoError(t, IncidentOutcome(nil, &st))
	other := temporal.NewApplicationError("boom", "SomethingElse", Status{State: StateFailed})
	assert.Same(t, other, IncidentOutcome(other, &st))
	bare := temporal.NewNonRetryableApplicationError("no details", FailureIncidentFailed, nil)
	assert.Same(t, bare, IncidentOutcome(bare, &st))
	plain := errors.New("deadline exceeded")
	assert.Same(t, plain, IncidentOutcome(plain, &st))
	assert.Empty(t, st.State)
}
