package app

import (
	"context"
	"errors"
	"math"
	"testing"

	querypb "go.temporal.io/api/query/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// answering is an invoker that fills a poll response as the server would.
func answering(resp *workflowservice.PollWorkflowTaskQueueResponse, err error) grpc.UnaryInvoker {
	return func(_ context.Context, _ string, _, reply any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		if r, ok := reply.(*workflowservice.PollWorkflowTaskQueueResponse); ok {
			r.Query = resp.Query
			r.PreviousStartedEventId = resp.PreviousStartedEventId
		}
		return err
	}
}

const pollMethod = "/temporal.api.workflowservice.v1.WorkflowService/PollWorkflowTaskQueue"

// A query task replays its whole history, however long the history is when the SDK reads it.
func TestQueryTaskReplaysItsWholeHistory(t *testing.T) {
	got := &workflowservice.PollWorkflowTaskQueueResponse{}
	sent := &workflowservice.PollWorkflowTaskQueueResponse{Query: &querypb.WorkflowQuery{QueryType: "status"}, PreviousStartedEventId: 17}
	if err := replayWholeQueryHistory(context.Background(), pollMethod, nil, got, nil, answering(sent, nil)); err != nil {
		t.Fatal(err)
	}
	if got.PreviousStartedEventId != math.MaxInt64 {
		t.Errorf("query task PreviousStartedEventId = %d, want MaxInt64 (all replay)", got.PreviousStartedEventId)
	}
}

// A workflow task, and a failed poll, reach the SDK as the server sent them.
func TestWorkflowTaskIsLeftAsSent(t *testing.T) {
	got := &workflowservice.PollWorkflowTaskQueueResponse{}
	sent := &workflowservice.PollWorkflowTaskQueueResponse{PreviousStartedEventId: 17}
	if err := replayWholeQueryHistory(context.Background(), pollMethod, nil, got, nil, answering(sent, nil)); err != nil {
		t.Fatal(err)
	}
	if got.PreviousStartedEventId != 17 {
		t.Errorf("workflow task PreviousStartedEventId = %d, want 17 as sent", got.PreviousStartedEventId)
	}

	failed := errors.New("unavailable")
	got = &workflowservice.PollWorkflowTaskQueueResponse{}
	sent = &workflowservice.PollWorkflowTaskQueueResponse{Query: &querypb.WorkflowQuery{QueryType: "status"}, PreviousStartedEventId: 17}
	if err := replayWholeQueryHistory(context.Background(), pollMethod, nil, got, nil, answering(sent, failed)); !errors.Is(err, failed) {
		t.Fatalf("err = %v, want the poll's own error", err)
	}
	if got.PreviousStartedEventId != 17 {
		t.Errorf("failed poll PreviousStartedEventId = %d, want it untouched", got.PreviousStartedEventId)
	}
}
