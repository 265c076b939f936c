package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/quench-dev/quench/internal/alert"
)

// The floor is the least any workflow engine user pays on the same server: a bare workflow
// whose only work is one no-op activity. The benchmarks measure it beside quench, in the
// same run, so a figure always comes with what the server and the machine allow.
const (
	FloorTaskQueue     = "quench-bench-floor"
	FloorWorkflowName  = "quench-bench-floor"
	FloorActivityName  = "quench-bench-noop"
	FloorSignal        = "alerts"   // []alert.Alert, as quench's SignalAlerts
	FloorQueryReceived = "received" // -> int: alerts signalled so far
)

// FloorInput starts a floor workflow. Linger keeps it open after its activity, counting
// the alerts signalled to it (the ingest floor); otherwise it ends after the activity.
type FloorInput struct {
	Linger bool `json:"linger,omitempty"`
}

func floorWorkflow(ctx workflow.Context, in FloorInput) (int, error) {
	received := 0
	if err := workflow.SetQueryHandler(ctx, FloorQueryReceived, func() (int, error) { return received, nil }); err != nil {
		return 0, err
	}
	ch := workflow.GetSignalChannel(ctx, FloorSignal)
	// Counted from the start, as quench counts alerts while a step runs, so a count read
	// after the signals were accepted includes them all.
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var batch []alert.Alert
			ch.Receive(ctx, &batch)
			received += len(batch)
		}
	})
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	if err := workflow.ExecuteActivity(actx, FloorActivityName).Get(ctx, nil); err != nil {
		return received, err
	}
	if in.Linger {
		return received, workflow.Await(ctx, func() bool { return false }) // until terminated
	}
	var batch []alert.Alert
	for ch.ReceiveAsync(&batch) {
		received += len(batch)
	}
	return received, nil
}

func floorNoop(context.Context) error { return nil }

// NewFloorWorker is a worker for the floor workflow on FloorTaskQueue. Build it on the
// client that starts the floor workflows, so eager start finds it.
func NewFloorWorker(c client.Client) worker.Worker {
	w := worker.New(c, FloorTaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: FloorWorkflowName})
	w.RegisterActivityWithOptions(floorNoop, activity.RegisterOptions{Name: FloorActivityName})
	return w
}

// FloorOptions are the start options of floor workflow id; eager asks for eager start.
func FloorOptions(id string, eager bool) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{ID: id, TaskQueue: FloorTaskQueue, EnableEagerStart: eager}
}

// ActivityDone follows a workflow run's history until the first activity of type
// activityType completes, and returns the completion's time (the server's clock) and the
// activity's result. It fails when that activity fails or the run ends without it.
func ActivityDone(ctx context.Context, c client.Client, workflowID, runID, activityType string) (time.Time, *historypb.ActivityTaskCompletedEventAttributes, error) {
	it := c.GetWorkflowHistory(ctx, workflowID, runID, true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	scheduled := map[int64]bool{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return time.Time{}, nil, fmt.Errorf("reading the history of %s: %w", workflowID, err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == activityType {
				scheduled[ev.GetEventId()] = true
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			if a := ev.GetActivityTaskCompletedEventAttributes(); scheduled[a.GetScheduledEventId()] {
				return ev.GetEventTime().AsTime(), a, nil
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
			if a := ev.GetActivityTaskFailedEventAttributes(); scheduled[a.GetScheduledEventId()] {
				return time.Time{}, nil, fmt.Errorf("%s: activity %s failed: %s", workflowID, activityType, a.GetFailure().GetMessage())
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
			return time.Time{}, nil, fmt.Errorf("%s ended (%s) before activity %s completed", workflowID, ev.GetEventType(), activityType)
		}
	}
	return time.Time{}, nil, errors.New(workflowID + ": history ended before activity " + activityType + " completed")
}
