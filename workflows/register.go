package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register registers quench's workflows under their contract names, on a worker or on a
// WorkflowReplayer (replay tests).
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(IncidentWorkflow, workflow.RegisterOptions{Name: IncidentWorkflowName})
	r.RegisterWorkflowWithOptions(FreezeWorkflow, workflow.RegisterOptions{Name: FreezeWorkflowName})
}
