package incidents

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/quench-dev/quench/workflows"
)

// Freezer holds and releases prompt-deploy freezes through the freeze workflow of each
// scope. It is the activities' Freezer port on a real Temporal.
type Freezer struct {
	Temporal  Temporal
	TaskQueue string
}

// Hold freezes scope for holder until until (signal-with-start: the first hold starts the
// scope's freeze workflow; a repeat by the same holder only extends it).
func (f Freezer) Hold(ctx context.Context, scope, holder, reason string, until time.Time) error {
	_, err := f.Temporal.SignalWithStartWorkflow(ctx, workflows.FreezeWorkflowID(scope), workflows.SignalFreeze,
		workflows.Hold{Holder: holder, Reason: reason, Until: until},
		client.StartWorkflowOptions{ID: workflows.FreezeWorkflowID(scope), TaskQueue: f.taskQueue()},
		workflows.FreezeWorkflowName, workflows.FreezeInput{Scope: scope})
	if err != nil {
		return fmt.Errorf("freeze %s: %w", scope, explain(err))
	}
	return nil
}

// Release lifts holder's freeze of scope. A scope with no freeze workflow is not frozen by
// anyone, so there is nothing to release.
func (f Freezer) Release(ctx context.Context, scope, holder string) error {
	err := f.Temporal.SignalWorkflow(ctx, workflows.FreezeWorkflowID(scope), "", workflows.SignalUnfreeze, workflows.Release{Holder: holder, By: holder})
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unfreeze %s: %w", scope, explain(err))
	}
	return nil
}

func (f Freezer) taskQueue() string {
	if f.TaskQueue == "" {
		return workflows.TaskQueue
	}
	return f.TaskQueue
}

func (s *Service) taskQueue() string {
	if s.TaskQueue == "" {
		return workflows.TaskQueue
	}
	return s.TaskQueue
}
