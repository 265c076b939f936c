package incidents

import (
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"

	"github.com/quench-dev/quench/workflows"
)

func summarize(e *workflowpb.WorkflowExecutionInfo) Summary {
	id := e.GetExecution().GetWorkflowId()
	s := Summary{
		IncidentID: id,
		ShortID:    keyword(e.GetSearchAttributes(), workflows.SearchShortID),
		Runbook:    keyword(e.GetSearchAttributes(), workflows.SearchRunbook),
		State:      keyword(e.GetSearchAttributes(), workflows.SearchStatus),
		Severity:   keyword(e.GetSearchAttributes(), workflows.SearchSeverity),
		Service:    keyword(e.GetSearchAttributes(), workflows.SearchService),
		StartedAt:  e.GetStartTime().AsTime(),
	}
	if s.ShortID == "" {
		s.ShortID = ShortID(id)
	}
	s.Workflow = workflowStatus(e.GetStatus())
	// A run that continued as new handed the incident on: its state is still live.
	if e.GetCloseTime() != nil && e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING &&
		e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
		t := e.GetCloseTime().AsTime()
		s.ClosedAt = &t
		if !finalStates[s.State] {
			// The workflow ended without setting its final state (terminated, timed out).
			s.State = closedState(e.GetStatus())
		}
	}
	return s
}

// finalStates are the states an incident closes in; a closed workflow showing another one
// (running, awaiting_approval, verifying, closing...) was stopped from outside.
var finalStates = map[string]bool{
	workflows.StateCompleted: true, workflows.StateResolved: true, workflows.StateAborted: true, workflows.StateFailed: true,
}

// workflowStatus is Temporal's execution status as its UI and list filter name it
// ("Running", "Completed", "Failed", "ContinuedAsNew"...).
func workflowStatus(st enumspb.WorkflowExecutionStatus) string {
	if st == enumspb.WORKFLOW_EXECUTION_STATUS_UNSPECIFIED {
		return ""
	}
	return st.String()
}

func closedState(st enumspb.WorkflowExecutionStatus) string {
	switch st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return workflows.StateCompleted
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return workflows.StateAborted
	default:
		return workflows.StateFailed
	}
}

func keyword(sa *commonpb.SearchAttributes, name string) string {
	p, ok := sa.GetIndexedFields()[name]
	if !ok {
		return ""
	}
	var v string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil {
		var list []string
		if converter.GetDefaultDataConverter().FromPayload(p, &list) == nil && len(list) > 0 {
			return list[0]
		}
		return ""
	}
	return v
}
