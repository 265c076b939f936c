package incidents

import (
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/quench-dev/quench/workflows"
)

func execution(t *testing.T, status enumspb.WorkflowExecutionStatus, state string, closed bool) *workflowpb.WorkflowExecutionInfo {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(state)
	if err != nil {
		t.Fatal(err)
	}
	e := &workflowpb.WorkflowExecutionInfo{
		Execution:        &commonpb.WorkflowExecution{WorkflowId: "incident-0123456789abcdef"},
		Status:           status,
		StartTime:        timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.SearchStatus: p}},
	}
	if closed {
		e.CloseTime = timestamppb.New(time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC))
	}
	return e
}

// The state column is the QuenchStatus search attribute the incident keeps current, beside
// Temporal's own status; a closed workflow still showing a live state was stopped outside.
func TestSummaryStateAndWorkflowStatus(t *testing.T) {
	cases := []struct {
		status       enumspb.WorkflowExecutionStatus
		attr         string
		closed       bool
		state, wfsts string
	}{
		{enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, "verifying", false, "verifying", "Running"},
		{enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, workflows.StateAborted, true, workflows.StateAborted, "Failed"},
		{enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, workflows.StateFailed, true, workflows.StateFailed, "Failed"},
		{enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED, workflows.StateResolved, true, workflows.StateResolved, "Completed"},
		{enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, workflows.StateClosing, true, workflows.StateAborted, "Terminated"},
		{enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT, "verifying", true, workflows.StateFailed, "TimedOut"},
		{enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, workflows.StateAwaiting, true, workflows.StateAwaiting, "ContinuedAsNew"},
	}
	for _, c := range cases {
		s := summarize(execution(t, c.status, c.attr, c.closed))
		if s.State != c.state || s.Workflow != c.wfsts {
			t.Errorf("%s with %s: state %q workflow %q closed %v, want %q %q", c.status, c.attr, s.State, s.Workflow, s.ClosedAt, c.state, c.wfsts)
		}
	}
}
