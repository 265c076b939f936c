package incidents

import (
	"context"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/quench-dev/quench/workflows"
)

// Watch calls onEvent for every timeline event of the incident, old ones first, then new
// ones as they happen, until the incident closes (returning its final status) or ctx ends.
// It long-polls the workflow history, so it wakes on each change instead of polling.
func (s *Service) Watch(ctx context.Context, ref string, onEvent func(workflows.Event, workflows.Status)) (workflows.Status, error) {
	id, err := s.Resolve(ctx, ref)
	if err != nil {
		return workflows.Status{}, err
	}
	emitted := 0 // absolute index of the next timeline event to emit
	emit := func() (workflows.Status, bool, error) {
		st, err := s.Status(ctx, id)
		if err != nil {
			return st, false, err
		}
		first := st.TimelineDropped
		if emitted < first {
			emitted = first
		}
		for i := emitted - first; i < len(st.Timeline); i++ {
			onEvent(st.Timeline[i], st)
			emitted++
		}
		return st, st.ClosedAt != nil, nil
	}
	seen := map[string]int64{} // run ID -> last history event acted on
	for {
		st, closed, err := emit()
		if err != nil || closed {
			return st, err
		}
		desc, err := s.Temporal.DescribeWorkflowExecution(ctx, id, "")
		if err != nil {
			return st, fmt.Errorf("watch %s: %w", ref, explain(err))
		}
		runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
		if seen[runID] == 0 {
			// Skip the events already shown; emit once more in case one landed between
			// the status read above and the describe.
			seen[runID] = desc.GetWorkflowExecutionInfo().GetHistoryLength()
			if st, closed, err = emit(); err != nil || closed {
				return st, err
			}
		}
		// Long-poll the current run's history: each new event wakes us. A run that continued
		// as new ends the iterator, and the next loop follows the new run.
		it := s.Temporal.GetWorkflowHistory(ctx, id, runID, true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				if ctx.Err() != nil {
					return st, ctx.Err()
				}
				return st, fmt.Errorf("watch %s: %w", ref, explain(err))
			}
			if ev.GetEventId() <= seen[runID] {
				continue
			}
			seen[runID] = ev.GetEventId()
			if st, closed, err = emit(); err != nil || closed {
				return st, err
			}
		}
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
	}
}
