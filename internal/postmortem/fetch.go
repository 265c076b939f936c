package postmortem

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
)

// HistoryReader is the part of the Temporal client FetchHistory uses; client.Client has it.
type HistoryReader interface {
	GetWorkflowHistory(ctx context.Context, workflowID string, runID string, isLongPoll bool, filterType enumspb.HistoryEventFilterType) client.HistoryEventIterator
}

// maxRuns bounds the walk back through continue-as-new runs.
const maxRuns = 1000

// FetchHistory reads every run of a workflow, oldest run first: it starts from the latest
// run and follows each run's "continued from" link back to the first.
func FetchHistory(ctx context.Context, r HistoryReader, workflowID string) ([]*historypb.HistoryEvent, error) {
	var runs [][]*historypb.HistoryEvent
	runID := ""
	for range maxRuns {
		var events []*historypb.HistoryEvent
		it := r.GetWorkflowHistory(ctx, workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return nil, fmt.Errorf("read the history of %s (run %q): %w", workflowID, runID, err)
			}
			events = append(events, ev)
		}
		runs = append(runs, events)
		if len(events) == 0 {
			break
		}
		runID = events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
		if runID == "" {
			break
		}
	}
	var all []*historypb.HistoryEvent
	for i := len(runs) - 1; i >= 0; i-- {
		all = append(all, runs[i]...)
	}
	return all, nil
}
