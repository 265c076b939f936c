package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Register registers quench's workflows under their contract names, on a worker or on a
// WorkflowReplayer (replay tests).
func Register(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(incidentEntry, workflow.RegisterOptions{Name: IncidentWorkflowName})
	r.RegisterWorkflowWithOptions(FreezeWorkflow, workflow.RegisterOptions{Name: FreezeWorkflowName})
}

// incidentEntry is IncidentWorkflow as registered. The SDK keeps the decoded arguments
// for as long as the workflow runs (a cached incident: until it closes or is evicted), so
// the input arrives by pointer and is emptied here: then the interpreter's own copy, whose
// spec and policy are shared between incidents (intern.go), is the only one kept. The
// payload decodes the same into a pointer, so histories replay unchanged.
func incidentEntry(ctx workflow.Context, in *IncidentInput) (Status, error) {
	var v IncidentInput
	if in != nil {
		v, *in = *in, IncidentInput{}
	}
	return IncidentWorkflow(ctx, v)
}
