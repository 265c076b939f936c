package app

import (
	"context"
	"math"

	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/grpc"
)

// queryTaskDialOption works around a Temporal Go SDK (v1.50.0) bug that fails status
// queries with "[TMPRL1100] invalid state transition: attempt to handleCanceledEvent,
// CommandType: Timer ... state=Initiated" (seen in `quench demo`).
//
// The server sends a query to the worker's sticky queue with a snapshot of the workflow's
// history (PreviousStartedEventId). If the worker no longer caches the workflow when it
// gets to the query (a decision closed the incident meanwhile, and a closed workflow is
// evicted), the SDK fetches the whole history again, now longer than the snapshot, and
// treats every workflow task past PreviousStartedEventId as new rather than replayed. A
// new task takes its update requests from the task's messages, which a query task has
// none of, instead of from the history's UpdateAccepted events: the decide update never
// runs in that replay, the gate never cancels its timeout timer, and the TimerCanceled
// event in history then breaks the SDK's timer state machine.
//
// A query issues no commands, so everything in its history is replay: this marks it so,
// the way the SDK's own replayer does (PreviousStartedEventId = MaxInt64). Only query
// tasks are touched; workflow tasks reach the SDK as the server sent them.
func queryTaskDialOption() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(replayWholeQueryHistory)
}

func replayWholeQueryHistory(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	err := invoker(ctx, method, req, reply, cc, opts...)
	if resp, ok := reply.(*workflowservice.PollWorkflowTaskQueueResponse); ok && err == nil && resp.GetQuery() != nil {
		resp.PreviousStartedEventId = math.MaxInt64
	}
	return err
}
