package incidents

import (
	"context"
	"encoding/json"
	"errors"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/quench-dev/quench/workflows"
)

// fakeTemporal is the narrow Temporal interface over a map of workflows: enough to drive
// the Service's lookups, queries, updates and signals, recording what it was sent.
type fakeTemporal struct {
	statuses map[string]workflows.Status // workflow ID -> what QueryStatus answers
	freezes  map[string]workflows.FreezeState
	listed   []string // workflow IDs ListWorkflow returns (per page, see pages)
	pages    [][]string
	listErr  error
	queryErr error
	// queryErrs fail the next queries in order before queryErr applies.
	queryErrs []error
	updErr    error

	started []client.StartWorkflowOptions
	inputs  []workflows.IncidentInput
	queries []string // workflow IDs queried
	updates []client.UpdateWorkflowOptions
	// handleErr is the decide handler's answer (nil: approved).
	handleErr error
	signals   []string // "id/name"
	listReqs  []*workflowservice.ListWorkflowExecutionsRequest
}

func newFakeTemporal() *fakeTemporal {
	return &fakeTemporal{statuses: map[string]workflows.Status{}, freezes: map[string]workflows.FreezeState{}}
}

type run struct{ id, runID string }

func (r run) GetID() string                  { return r.id }
func (r run) GetRunID() string               { return r.runID }
func (r run) GetFirstExecutionRunID() string { return r.runID }
func (r run) Get(context.Context, any) error { return nil }
func (r run) GetWithOptions(context.Context, any, client.WorkflowRunGetOptions) error {
	return nil
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, o client.StartWorkflowOptions, _ any, args ...any) (client.WorkflowRun, error) {
	f.started = append(f.started, o)
	f.inputs = append(f.inputs, args[0].(workflows.IncidentInput))
	return run{o.ID, "run-1"}, nil
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, id, name string, _ any, o client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	f.signals = append(f.signals, id+"/"+name)
	return run{id, "run-1"}, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, id, _, name string, _ any) error {
	st, ok := f.statuses[id]
	if !ok {
		return serviceerror.NewNotFound("workflow not found")
	}
	if st.ClosedAt != nil {
		return serviceerror.NewNotFound("workflow execution already completed")
	}
	f.signals = append(f.signals, id+"/"+name)
	return nil
}

// value is an EncodedValue over a Go value, decoded through JSON like Temporal's payloads.
type value struct{ v any }

func (v value) HasValue() bool { return v.v != nil }
func (v value) Get(ptr any) error {
	b, err := json.Marshal(v.v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, ptr)
}

func (f *fakeTemporal) QueryWorkflow(_ context.Context, id, _, query string, _ ...any) (converter.EncodedValue, error) {
	f.queries = append(f.queries, id)
	if len(f.queryErrs) > 0 {
		err := f.queryErrs[0]
		f.queryErrs = f.queryErrs[1:]
		return nil, err
	}
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	if query == workflows.QueryFreeze {
		for scope, st := range f.freezes {
			if workflows.FreezeWorkflowID(scope) == id {
				return value{st}, nil
			}
		}
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	st, ok := f.statuses[id]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + id)
	}
	return value{st}, nil
}

type handle struct {
	res workflows.DecisionResult
	err error
}

func (h handle) WorkflowID() string { return "" }
func (h handle) RunID() string      { return "" }
func (h handle) UpdateID() string   { return "" }
func (h handle) Get(_ context.Context, ptr any) error {
	if h.err != nil {
		return h.err
	}
	*(ptr.(*workflows.DecisionResult)) = h.res
	return nil
}

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	f.updates = append(f.updates, o)
	if f.updErr != nil {
		return nil, f.updErr
	}
	d := o.Args[0].(workflows.Decision)
	return handle{res: workflows.DecisionResult{StepID: d.StepID, Outcome: "approved"}, err: f.handleErr}, nil
}

func (f *fakeTemporal) ListWorkflow(_ context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error) {
	f.listReqs = append(f.listReqs, req)
	if f.listErr != nil {
		return nil, f.listErr
	}
	ids, next := f.listed, []byte(nil)
	if len(f.pages) > 0 {
		page := len(req.NextPageToken)
		ids = f.pages[page]
		if page+1 < len(f.pages) {
			next = make([]byte, page+1)
		}
	}
	resp := &workflowservice.ListWorkflowExecutionsResponse{NextPageToken: next}
	for _, id := range ids {
		resp.Executions = append(resp.Executions, &workflowpb.WorkflowExecutionInfo{
			Execution:        &commonpb.WorkflowExecution{WorkflowId: id, RunId: "r"},
			Status:           enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING,
			SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.SearchRunbook: keywordPayload("provider-outage")}},
		})
	}
	return resp, nil
}

func keywordPayload(s string) *commonpb.Payload {
	p, err := converter.GetDefaultDataConverter().ToPayload(s)
	if err != nil {
		panic(err)
	}
	return p
}

func (f *fakeTemporal) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return nil, errors.New("not used by these tests")
}

func (f *fakeTemporal) GetWorkflowHistory(context.Context, string, string, bool, enumspb.HistoryEventFilterType) client.HistoryEventIterator {
	return nil
}
